package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/web"
)

// serveTLSAuth serves a component's endpoints with TLS and basic auth (user
// healthcheck, password "hc-secret") and returns its address and web config.
func serveTLSAuth(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ingest"}, DNSNames: []string{"ingest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	hash, _ := bcrypt.GenerateFromPassword([]byte("hc-secret"), bcrypt.MinCost)
	files := map[string][]byte{
		"server.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"web.yml":    []byte("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  healthcheck: " + string(hash) + "\n  prometheus: " + string(hash) + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "web.yml")
	addrs, pprof := []string{"127.0.0.1:0"}, false
	srv, err := web.New(&web.Flags{FlagConfig: &toolkitweb.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &cfg}, EnablePprof: &pprof},
		web.Options{Name: "test"}, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.Addrs()[0], cfg
}

// The compose healthcheck's command line, as the containers run it, against
// a server with TLS and basic auth.
func TestHealthcheckCommandWithTLSAndBasicAuth(t *testing.T) {
	addr, cfg := serveTLSAuth(t)
	url := "http://" + addr + "/-/ready"
	t.Setenv("BATCHWATCH_HEALTHCHECK_PASSWORD", "hc-secret")
	if code, out := runSelf(t, "healthcheck", "--healthcheck.user=healthcheck", "--web.config.file="+cfg, url); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("healthcheck with the web config: exit %d\n%s", code, out)
	}
	if code, out := runSelf(t, "healthcheck", "--healthcheck.user=healthcheck", "--web.config.file=", url); code != 1 {
		t.Errorf("healthcheck without the web config: exit %d, want 1\n%s", code, out)
	}
	t.Setenv("BATCHWATCH_HEALTHCHECK_PASSWORD", "wrong")
	if code, out := runSelf(t, "healthcheck", "--healthcheck.user=healthcheck", "--web.config.file="+cfg, url); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("healthcheck with a wrong password: exit %d, want 1 and a 401\n%s", code, out)
	}
}
