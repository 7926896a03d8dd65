package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/batchwatch/batchwatch/logging"
)

// startServer serves a web.Server on 127.0.0.1 with the given web config
// (may be empty) and pprof setting; it returns host:port.
func startServer(t *testing.T, cfgFile string, pprof, ready bool) string {
	t.Helper()
	addrs := []string{"127.0.0.1:0"}
	s, err := New(&Flags{FlagConfig: &toolkitweb.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &cfgFile}, EnablePprof: &pprof},
		Options{Name: "test"}, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	s.SetReady(ready)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s.Addrs()[0]
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		addr := startServer(t, "", enabled, true)
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline"} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusNotFound
			if enabled {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Errorf("pprof enabled=%v: GET %s answered %d, want %d", enabled, path, resp.StatusCode, want)
			}
		}
	}
}

// writeTLSAuthConfig writes a self-signed certificate for the name "ingest"
// (not the address the check dials) and a web config with TLS and two users.
func writeTLSAuthConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ingest"}, DNSNames: []string{"ingest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	write("web.yml", []byte("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prometheus: "+string(hash)+"\n  ops: "+string(hash)+"\n"))
	return filepath.Join(dir, "web.yml")
}

func TestCheckWithTLSAndBasicAuth(t *testing.T) {
	cfg := writeTLSAuthConfig(t)
	addr := startServer(t, cfg, false, true)
	ctx := context.Background()
	url := "http://" + addr + "/-/ready"
	if err := Check(ctx, url, CheckConfig{WebConfigFile: cfg, Username: "prometheus", Password: "s3cret"}); err != nil {
		t.Errorf("check with the web config: %v", err)
	}
	for _, c := range []struct {
		name string
		cfg  CheckConfig
		want string
	}{
		{"no web config", CheckConfig{}, "400 Bad Request"},
		{"wrong password", CheckConfig{WebConfigFile: cfg, Username: "ops", Password: "nope"}, "401 Unauthorized"},
		{"no password", CheckConfig{WebConfigFile: cfg, Username: "ops"}, "BATCHWATCH_HEALTHCHECK_PASSWORD"},
		{"two users, none named", CheckConfig{WebConfigFile: cfg, Password: "s3cret"}, "name one with --healthcheck.user"},
		{"unknown user", CheckConfig{WebConfigFile: cfg, Username: "eve", Password: "s3cret"}, `no user "eve"`},
	} {
		err := Check(ctx, url, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}

	// Another server's certificate is refused even with the right password.
	other := startServer(t, writeTLSAuthConfig(t), false, true)
	err := Check(ctx, "http://"+other+"/-/ready", CheckConfig{WebConfigFile: cfg, Username: "ops", Password: "s3cret"})
	if err == nil || !strings.Contains(err.Error(), "not the one of the web config") {
		t.Errorf("other certificate: %v", err)
	}
}

func TestCheckStatus(t *testing.T) {
	notReady := startServer(t, "", false, false)
	err := Check(context.Background(), "http://"+notReady+"/-/ready", CheckConfig{})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not ready: %v, want a 503 error", err)
	}
	if err := Check(context.Background(), "http://"+notReady+"/-/healthy", CheckConfig{}); err != nil {
		t.Errorf("healthy: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if err := Check(context.Background(), "http://"+closed+"/-/ready", CheckConfig{}); err == nil {
		t.Error("a closed port passed the check")
	}
	for _, bad := range []string{"127.0.0.1:9848/-/ready", "ftp://x/", "http:///x"} {
		if err := Check(context.Background(), bad, CheckConfig{}); err == nil || !strings.Contains(err.Error(), "want http://host:port/path") {
			t.Errorf("url %q: %v", bad, err)
		}
	}
}
