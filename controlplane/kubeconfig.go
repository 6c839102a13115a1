package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
)

// Contexts in the kubeconfig written for users and tests.
const (
	adminContext    = "regcred-local"
	operatorContext = "regcred-operator"
)

func writeKubeconfigs(dir, server string, p *pkiFiles) error {
	caPEM, err := os.ReadFile(p.caCert)
	if err != nil {
		return err
	}
	ca := base64.StdEncoding.EncodeToString(caPEM)
	user := fmt.Sprintf(`kind: Config
apiVersion: v1
clusters:
- name: regcred-local
  cluster:
    server: %[1]s
    certificate-authority-data: %[2]s
users:
- name: admin
  user:
    token: %[3]s
- name: regcred-operator
  user:
    token: %[4]s
contexts:
- name: %[5]s
  context: {cluster: regcred-local, user: admin}
- name: %[6]s
  context: {cluster: regcred-local, user: regcred-operator, namespace: %[7]s}
current-context: %[5]s
`, server, ca, p.adminToken, p.operatorToken, adminContext, operatorContext, operatorNamespace)
	cm := fmt.Sprintf(`kind: Config
apiVersion: v1
clusters:
- name: regcred-local
  cluster:
    server: %[1]s
    certificate-authority-data: %[2]s
users:
- name: kcm
  user:
    token: %[3]s
contexts:
- name: kcm
  context: {cluster: regcred-local, user: kcm}
current-context: kcm
`, server, ca, p.cmToken)
	if err := writeAtomic(filepath.Join(dir, "controller-manager.kubeconfig"), cm); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "kubeconfig"), user)
}

func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
