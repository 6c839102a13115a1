package main

import (
	"context"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
)

func runControllerManager(ctx context.Context, kubeconfig string, controllers []string) error {
	s, err := options.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	fs := pflag.NewFlagSet("kube-controller-manager", pflag.ContinueOnError)
	named := s.Flags(app.KnownControllers(), app.ControllersDisabledByDefault(), app.ControllerAliases())
	s.ParsedFlags = &named
	for _, f := range named.FlagSets {
		fs.AddFlagSet(f)
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		// no HTTPS endpoint of its own: nothing here scrapes it.
		"--secure-port=0",
		"--use-service-account-credentials=false",
		// The default client limit (20 requests/s) makes the serviceaccount controller take 50 s to give
		// 1,000 new namespaces their default ServiceAccount; tests and the benchmark create that many at once.
		"--kube-api-qps=100",
		"--kube-api-burst=200",
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	c, err := s.Config(ctx, app.KnownControllers(), app.ControllersDisabledByDefault(), app.ControllerAliases())
	if err != nil {
		return err
	}
	return app.Run(ctx, c.Complete())
}
