package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// auditPolicy records every request at Metadata level (who, verb, resource,
// response code; never a body), which is what the benchmark counts writes with.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

func apiServerArgs(dir string, p *pkiFiles, etcdURL string, port int, auditPath string) ([]string, error) {
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingKey,
		"--client-ca-file=" + p.caCert,
		"--token-auth-file=" + p.tokenFile,
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=false",
		"--shutdown-delay-duration=0s",
		// On shutdown, end open watches at once (their clients re-list from the next API server) instead
		// of letting net/http wait up to --request-timeout (60 s) for each watching client to hang up:
		// with kubectl -w or the operator connected, stopping took until the 20 s timeout every time.
		"--shutdown-watch-termination-grace-period=2s",
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--enable-priority-and-fairness=true",
		// The "kubernetes" Service endpoints cannot point at loopback; nothing here needs them.
		"--endpoint-reconciler-type=none",
	}
	if auditPath != "" {
		policy := filepath.Join(dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		args = append(args,
			"--audit-policy-file="+policy,
			"--audit-log-path="+auditPath,
			"--audit-log-format=json",
			"--audit-log-mode=blocking",
			// Never rotated within a run: 0 means the log library's default, 100 MB, which a 20,000-namespace
			// benchmark passes, and a rotated log loses the requests counted from a mark in it. 1 TiB.
			"--audit-log-maxsize=1048576",
		)
	}
	return args, nil
}

func runAPIServer(ctx context.Context, args []string) error {
	// silence client-go warnings from the apiserver's own loopback clients.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	return app.Run(ctx, completed)
}

// waitReady polls /readyz as the admin until the apiserver answers ok.
func waitReady(ctx context.Context, server string, p *pkiFiles, apiErr <-chan error) error {
	caPEM, err := os.ReadFile(p.caCert)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	deadline := time.Now().Add(3 * time.Minute)
	lastStatus := "no answer"
	for time.Now().Before(deadline) {
		select {
		case err := <-apiErr:
			return fmt.Errorf("kube-apiserver exited before it was ready: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+p.adminToken)
		resp, err := client.Do(req)
		if err != nil {
			lastStatus = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		lastStatus = resp.Status
	}
	return fmt.Errorf("kube-apiserver was not ready within 3 minutes (last /readyz: %s)", lastStatus)
}
