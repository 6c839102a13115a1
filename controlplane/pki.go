package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pkiFiles are generated once per state directory and reused on later starts,
// so a kubeconfig written earlier keeps working after a restart.
type pkiFiles struct {
	dir           string
	caCert        string
	servingCert   string
	servingKey    string
	saKey         string
	saPub         string
	tokenFile     string
	adminToken    string
	operatorToken string
	cmToken       string
}

const (
	operatorNamespace      = "regcred-system"
	operatorServiceAccount = "regcred-operator"
)

func ensurePKI(dir string) (*pkiFiles, error) {
	p := &pkiFiles{
		dir:         dir,
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
		tokenFile:   filepath.Join(dir, "tokens.csv"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(p.servingKey); errors.Is(err, os.ErrNotExist) {
		if err := p.generate(); err != nil {
			return nil, err
		}
	}
	return p, p.loadTokens()
}

func (p *pkiFiles) generate() error {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "regcred-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	servingKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	servingTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, servingTemplate, caCert, &servingKey.PublicKey, caKey)
	if err != nil {
		return err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}

	writes := []struct {
		path, kind string
		der        []byte
	}{
		{p.caCert, "CERTIFICATE", caDER},
		{p.servingCert, "CERTIFICATE", servingDER},
		{p.servingKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(servingKey)},
		{p.saKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)},
		{p.saPub, "PUBLIC KEY", saPub},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: w.kind, Bytes: w.der}), 0o600); err != nil {
			return err
		}
	}

	// Static bearer tokens: an admin in system:masters, the controller manager
	// (also a master here: it runs several controllers under one identity), and
	// the operator's ServiceAccount identity, so that RBAC bound to the
	// ServiceAccount regcred-system/regcred-operator applies to it exactly as
	// it would in a cluster.
	admin, operator, cm := randomToken(), randomToken(), randomToken()
	saUser := fmt.Sprintf("system:serviceaccount:%s:%s", operatorNamespace, operatorServiceAccount)
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,%s,regcred-operator,\"system:serviceaccounts,system:serviceaccounts:%s\"\n%s,system:kube-controller-manager,kcm,\"system:masters\"\n",
		admin, operator, saUser, operatorNamespace, cm)
	return os.WriteFile(p.tokenFile, []byte(tokens), 0o600)
}

func (p *pkiFiles) loadTokens() error {
	data, err := os.ReadFile(p.tokenFile)
	if err != nil {
		return err
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		return fmt.Errorf("%s: expected 3 tokens, found %d; delete the state directory to regenerate", p.tokenFile, len(lines))
	}
	field := func(l string) string { return strings.SplitN(l, ",", 2)[0] }
	p.adminToken, p.operatorToken, p.cmToken = field(lines[0]), field(lines[1]), field(lines[2])
	return nil
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

