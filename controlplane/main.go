// Command regcred-controlplane runs a real, single-process Kubernetes control
// plane for local development, tests and benchmarks: embedded etcd, the
// kube-apiserver from the Kubernetes Go modules, and the controller-manager
// controllers that create default ServiceAccounts, finish namespace deletion
// and collect garbage. It is not an imitation: every request is served by the
// same code a production cluster runs.
//
// It prints one JSON line on stdout once the API server is ready, then keeps
// running until SIGINT or SIGTERM (or, with --stop-on-stdin-eof, until its
// parent exits), when it stops the controller-manager, the apiserver and etcd,
// in that order, in about a second. Component logs go to stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type settings struct {
	dir         string
	apiPort     int
	auditLog    bool
	controllers string
	// stopOnStdinEOF ties the control plane to the process that started it: that process holds the
	// other end of stdin open and never writes, so EOF means it has exited (even if killed) and the
	// components stop cleanly instead of running on, holding the port and etcd's data directory.
	stopOnStdinEOF bool
}

type readyLine struct {
	Ready      bool   `json:"ready"`
	Kubeconfig string `json:"kubeconfig"`
	Server     string `json:"server"`
	AuditLog   string `json:"auditLog,omitempty"`
	PID        int    `json:"pid"`
}

func main() {
	var s settings
	flag.StringVar(&s.dir, "dir", ".regcred/local", "state directory (certificates, etcd data, kubeconfig)")
	flag.IntVar(&s.apiPort, "api-port", 0, "API server port on 127.0.0.1 (0 = a free port)")
	flag.BoolVar(&s.auditLog, "audit-log", false, "write an API audit log (one JSON event per request) to DIR/audit.log")
	flag.BoolVar(&s.stopOnStdinEOF, "stop-on-stdin-eof", false, "stop, as on SIGTERM, when stdin reaches EOF (the parent process has exited)")
	flag.StringVar(&s.controllers, "controllers", "serviceaccount-controller,namespace-controller,garbage-collector-controller", "controller-manager controllers to run")
	flag.Parse()

	if err := run(s); err != nil {
		fmt.Fprintf(os.Stderr, "regcred-controlplane: %v\n", err)
		os.Exit(1)
	}
}

func run(s settings) error {
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// A write to a closed stdout or stderr (the parent is gone) returns an error instead of killing the
	// process with SIGPIPE halfway through stopping etcd.
	signal.Ignore(syscall.SIGPIPE)
	if s.stopOnStdinEOF {
		var parentGone context.CancelFunc
		ctx, parentGone = context.WithCancel(ctx)
		defer parentGone()
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			fmt.Fprintln(os.Stderr, "regcred-controlplane: stdin closed (the process that started it has exited); stopping")
			parentGone()
		}()
	}

	pki, err := ensurePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}

	etcdServer, etcdURL, err := startEtcd(filepath.Join(dir, "etcd"), s.apiPort)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	// Closed explicitly after the API server on the normal path; this covers the early returns.
	// (Close is idempotent.)
	defer etcdServer.Close()

	apiPort := s.apiPort
	if apiPort == 0 {
		if apiPort, err = freePort(); err != nil {
			return err
		}
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)

	auditPath := ""
	if s.auditLog {
		auditPath = filepath.Join(dir, "audit.log")
	}
	apiArgs, err := apiServerArgs(dir, pki, etcdURL, apiPort, auditPath)
	if err != nil {
		return err
	}

	// Each component has a context of its own, so that they stop one after the other: the controller
	// manager (a client of the API server) first, then the API server, then etcd (its store).
	apiCtx, cancelAPI := context.WithCancel(context.Background())
	defer cancelAPI()
	apiDone := make(chan struct{})
	apiErr := make(chan error, 1)
	go func() {
		defer close(apiDone)
		apiErr <- runAPIServer(apiCtx, apiArgs)
	}()

	if err := waitReady(ctx, server, pki, apiErr); err != nil {
		cancelAPI()
		stopComponent("kube-apiserver", apiDone, componentStopTimeout)
		return err
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfigs(dir, server, pki); err != nil {
		cancelAPI()
		stopComponent("kube-apiserver", apiDone, componentStopTimeout)
		return err
	}

	cmCtx, cancelCM := context.WithCancel(context.Background())
	defer cancelCM()
	cmDone := make(chan struct{})
	cmErr := make(chan error, 1)
	go func() {
		defer close(cmDone)
		cmErr <- runControllerManager(cmCtx, filepath.Join(dir, "controller-manager.kubeconfig"), strings.Split(s.controllers, ","))
	}()

	line, _ := json.Marshal(readyLine{Ready: true, Kubeconfig: kubeconfig, Server: server, AuditLog: auditPath, PID: os.Getpid()})
	fmt.Println(string(line))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-apiErr:
		runErr = fmt.Errorf("kube-apiserver stopped: %w", runErr)
	case runErr = <-cmErr:
		runErr = fmt.Errorf("controller manager stopped: %w", runErr)
	}
	stopping := time.Now()
	cancelCM()
	stopComponent("controller-manager", cmDone, componentStopTimeout)
	cancelAPI()
	stopComponent("kube-apiserver", apiDone, componentStopTimeout)
	etcdStopping := time.Now()
	etcdServer.Close()
	fmt.Fprintf(os.Stderr, "regcred-controlplane: etcd stopped in %dms; all components stopped in %dms\n",
		time.Since(etcdStopping).Milliseconds(), time.Since(stopping).Milliseconds())
	return runErr
}

// componentStopTimeout bounds each component's shutdown. Each normally takes well under a second: the
// API server ends its watches as soon as it stops (--shutdown-watch-termination-grace-period) instead
// of waiting for the clients to hang up, which is what used to take the whole 20 s.
const componentStopTimeout = 10 * time.Second

// stopComponent waits for a component whose context was cancelled to return, and says how long it took.
func stopComponent(name string, done <-chan struct{}, timeout time.Duration) {
	started := time.Now()
	select {
	case <-done:
		fmt.Fprintf(os.Stderr, "regcred-controlplane: %s stopped in %dms\n", name, time.Since(started).Milliseconds())
	case <-time.After(timeout):
		fmt.Fprintf(os.Stderr, "regcred-controlplane: %s did not stop within %s; going on without it\n", name, timeout)
	}
}
