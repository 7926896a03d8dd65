package store

import (
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
)

func TestTLSConfig(t *testing.T) {
	if cfg, err := (&Config{}).tlsConfig(); cfg != nil || err != nil {
		t.Errorf("no TLS flags: %v, %v; want plain", cfg, err)
	}
	if cfg, err := (&Config{Secure: true}).tlsConfig(); cfg == nil || err != nil || cfg.RootCAs != nil {
		t.Errorf("--clickhouse.secure: %v, %v; want TLS with the system's roots", cfg, err)
	}

	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "batchwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := (&Config{CAFile: ca}).tlsConfig()
	if err != nil || cfg == nil || cfg.RootCAs == nil {
		t.Fatalf("--clickhouse.ca-file: %v, %v", cfg, err)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: cfg.RootCAs}); err != nil {
		t.Errorf("the CA is not in the pool: %v", err)
	}

	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{bad: "no PEM certificate", filepath.Join(dir, "missing.pem"): "clickhouse CA file"} {
		if _, err := (&Config{CAFile: file}).tlsConfig(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
		if _, err := Open(&Config{Database: "batchwatch", CAFile: file}, nil); err == nil {
			t.Errorf("Open with CA file %s succeeded", file)
		}
	}
}
