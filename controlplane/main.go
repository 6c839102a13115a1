// Command regcred-controlplane runs a real, single-process Kubernetes control
// plane for local development, tests and benchmarks: embedded etcd, the
// kube-apiserver from the Kubernetes Go modules, and the controller-manager
// controllers that create default ServiceAccounts, finish namespace deletion
// and collect garbage. It is not an imitation: every request is served by the
// same code a production cluster runs.
//
// It prints one JSON line on stdout once the API server is ready, then keeps
// running until SIGINT or SIGTERM, when it shuts the apiserver and etcd down.
// Component logs go to stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

type settings struct {
	dir         string
	apiPort     int
	auditLog    bool
	controllers string
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

	pki, err := ensurePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}

	etcdServer, etcdURL, err := startEtcd(filepath.Join(dir, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
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

	apiCtx, cancelAPI := context.WithCancel(ctx)
	defer cancelAPI()
	var wg sync.WaitGroup
	apiErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		apiErr <- runAPIServer(apiCtx, apiArgs)
	}()

	if err := waitReady(ctx, server, pki, apiErr); err != nil {
		return err
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfigs(dir, server, pki); err != nil {
		return err
	}

	cmErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		cmErr <- runControllerManager(apiCtx, filepath.Join(dir, "controller-manager.kubeconfig"), strings.Split(s.controllers, ","))
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
	cancelAPI()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		fmt.Fprintln(os.Stderr, "regcred-controlplane: components did not stop within 20s; closing etcd anyway")
	}
	return runErr
}
