// The external-secrets controller (v0.16.2) built from its Go module, for the benchmark's `peer` scenario.
// This is the module's own main.go: cmd/controller's cobra root command (the controller, plus the
// `webhook` and `certcontroller` subcommands, which the benchmark does not run).
package main

import (
	"github.com/external-secrets/external-secrets/cmd/controller"
)

func main() {
	controller.Execute()
}
