//go:build integration

package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// writeCA writes a CA and a server certificate for 127.0.0.1 signed by it:
// ca.crt, server.crt, server.key in dir.
func writeCA(t *testing.T, dir string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "batchwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "clickhouse"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.crt": {Type: "CERTIFICATE", Bytes: caDER}, "server.crt": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecureNativePort: --clickhouse.secure with --clickhouse.ca-file
// speaks TLS to ClickHouse 18.16's tcp_port_secure and verifies its
// certificate; without the CA, or in plain text, the connection fails.
func TestSecureNativePort(t *testing.T) {
	dir := t.TempDir()
	writeCA(t, dir)
	confD := filepath.Join(dir, "config.d")
	if err := os.Mkdir(confD, 0o755); err != nil {
		t.Fatal(err)
	}
	secure := testenv.FreePort(t)
	tls := fmt.Sprintf(`<yandex>
  <tcp_port_secure>%d</tcp_port_secure>
  <openSSL><server>
    <certificateFile>%s/server.crt</certificateFile>
    <privateKeyFile>%s/server.key</privateKeyFile>
    <dhParamsFile remove="remove"/>
  </server></openSSL>
</yandex>
`, secure, dir, dir)
	if err := os.WriteFile(filepath.Join(confD, "tls.xml"), []byte(tls), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.StartPrivateClickHouseEnv(t, "CLICKHOUSE_CONFIG_D="+confD)
	addr := fmt.Sprintf("127.0.0.1:%d", secure)

	open := func(c store.Config) error {
		c.Addrs, c.Database, c.Username = []string{addr}, "batchwatch", "default"
		c.DialTimeout, c.ReadTimeout, c.Compression, c.MaxConns = 5*time.Second, 10*time.Second, "none", 1
		st, err := store.Open(&c, logging.Discard().WithField("test", t.Name()))
		if err != nil {
			return err
		}
		defer st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err = st.ServerVersion(ctx)
		return err
	}
	if err := open(store.Config{Secure: true, CAFile: filepath.Join(dir, "ca.crt")}); err != nil {
		t.Errorf("TLS with the CA file: %v", err)
	}
	if err := open(store.Config{CAFile: filepath.Join(dir, "ca.crt")}); err != nil {
		t.Errorf("--clickhouse.ca-file alone (implies --clickhouse.secure): %v", err)
	}
	if err := open(store.Config{Secure: true}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS with the system's roots: %v, want an unknown authority", err)
	}
	if err := open(store.Config{}); err == nil {
		t.Error("plain text to the secure port succeeded")
	}
}
