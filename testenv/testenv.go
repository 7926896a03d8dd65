// Package testenv connects integration tests to the real servers that
// `make test` starts (scripts/services.sh): ClickHouse, moto, Prometheus,
// Alertmanager. Tests using it carry the `integration` build tag and fail —
// never skip — when a server is missing.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ClickHouseAddr is the native-protocol address of the test ClickHouse.
func ClickHouseAddr() string { return env("BATCHWATCH_CLICKHOUSE_ADDR", "127.0.0.1:9000") }

// MotoURL is the moto_server endpoint.
func MotoURL() string { return env("BATCHWATCH_MOTO_URL", "http://127.0.0.1:5000") }

// PrometheusURL is the test Prometheus.
func PrometheusURL() string { return env("BATCHWATCH_PROMETHEUS_URL", "http://127.0.0.1:9090") }

// AlertmanagerURL is the test Alertmanager.
func AlertmanagerURL() string { return env("BATCHWATCH_ALERTMANAGER_URL", "http://127.0.0.1:9093") }

// UniqueName returns prefix plus a random suffix, for databases, queues and
// rules shared servers must not mix up.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// ClickHouseConfig returns a store config for a fresh database that is
// dropped when the test ends. The test fails if ClickHouse does not answer.
// With BATCHWATCH_TEST_CLUSTER set, the database is in cluster mode on the
// cluster of StartCluster (BATCHWATCH_CLUSTER_ADDRS, or one started for the
// test), so that the tests of one server run on a cluster (docs/cluster.md).
func ClickHouseConfig(t testing.TB) *store.Config {
	t.Helper()
	if os.Getenv("BATCHWATCH_TEST_CLUSTER") != "" {
		return StartCluster(t).Config(t)
	}
	return SingleServerConfig(t)
}

// SingleServerConfig is ClickHouseConfig on the single server, whatever
// BATCHWATCH_TEST_CLUSTER says.
func SingleServerConfig(t testing.TB) *store.Config {
	t.Helper()
	cfg := &store.Config{
		Addrs:       []string{ClickHouseAddr()},
		Database:    UniqueName("bwtest_" + sanitize(t.Name())),
		Username:    "default",
		DialTimeout: 5 * time.Second,
		ReadTimeout: 60 * time.Second,
		Compression: "none",
		MaxConns:    8,
	}
	s, err := store.Open(cfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatalf("open clickhouse: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ClickHouse at %s does not answer (start it with scripts/services.sh start clickhouse, or run make test): %v", ClickHouseAddr(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if os.Getenv("BATCHWATCH_KEEP_DB") == "" {
			_ = s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database)
		}
		_ = s.Close()
	})
	return cfg
}

// Store opens a migrated store on a fresh database.
func Store(t testing.TB) *store.Store {
	t.Helper()
	return migrated(t, ClickHouseConfig(t))
}

// SingleServerStore is Store on the single server, whatever
// BATCHWATCH_TEST_CLUSTER says.
func SingleServerStore(t testing.TB) *store.Store {
	t.Helper()
	return migrated(t, SingleServerConfig(t))
}

// CLIFlags are the --clickhouse.* flags of batchwatch's commands for cfg.
func CLIFlags(cfg *store.Config) []string {
	var out []string
	for _, a := range cfg.Addrs {
		out = append(out, "--clickhouse.addr", a)
	}
	out = append(out, "--clickhouse.database", cfg.Database, "--clickhouse.user", cfg.Username, "--clickhouse.password", cfg.Password)
	if cfg.Cluster != "" {
		out = append(out, "--clickhouse.cluster", cfg.Cluster, "--clickhouse.insert-quorum", strconv.Itoa(cfg.InsertQuorum))
	}
	return out
}

// Migrated opens a store on cfg and migrates it.
func Migrated(t testing.TB, cfg *store.Config) *store.Store {
	t.Helper()
	return migrated(t, cfg)
}

func migrated(t testing.TB, cfg *store.Config) *store.Store {
	t.Helper()
	s, err := store.Open(cfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// RequireMoto fails the test unless moto answers.
func RequireMoto(t testing.TB) string {
	t.Helper()
	url := MotoURL()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/moto-api/")
	if err != nil {
		t.Fatalf("moto at %s does not answer (start it with scripts/services.sh start moto, or run make test): %v", url, err)
	}
	_ = resp.Body.Close()
	return url
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// AWS returns SDK configuration for a local endpoint (moto or the
// simulator) with dummy credentials, the way a user would point batchwatch
// at them: region and endpoint, nothing else special.
func AWS(t testing.TB, endpoint string) (aws.Config, *awsclient.Config) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	c := &awsclient.Config{Region: "us-east-1", EndpointURL: endpoint, MaxAttempts: 5}
	cfg, err := awsclient.Load(context.Background(), c)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return cfg, c
}
