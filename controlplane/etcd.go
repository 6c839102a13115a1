package main

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// startEtcd serves etcd on two free ports other than reserved: the API server's port, which is chosen
// before etcd starts (to reuse the one a kubeconfig already names) but bound only after it.
func startEtcd(dataDir string, reserved int) (*embed.Etcd, string, error) {
	clientPort, err := freePortExcept(reserved)
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePortExcept(reserved)
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Dir = dataDir
	cfg.Name = "regcred-local"
	cfg.LogLevel = "error"
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peerURL.String())
	// A development store: no fsync on every write keeps a 5,000-namespace
	// benchmark from measuring the disk instead of the API server.
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", fmt.Errorf("etcd did not become ready within 60s")
	}
	return e, clientURL.String(), nil
}

// freePortExcept is a free port other than reserved (0: no port is reserved).
func freePortExcept(reserved int) (int, error) {
	for attempt := 0; attempt < 16; attempt++ {
		port, err := freePort()
		if err != nil || port != reserved {
			return port, err
		}
	}
	return 0, fmt.Errorf("find a free port other than %d: the system kept offering it", reserved)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
