//go:build integration

package deploy

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/batchwatch/batchwatch/dashboards"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// chPasswords are the passwords the shipped users file reads from the
// server's environment.
var chPasswords = map[string]string{
	"batchwatch_migrate":   "migrate-pw",
	"batchwatch_ingest":    "ingest-pw",
	"batchwatch_submitter": "submitter-pw",
	"batchwatch_grafana":   "grafana-pw",
}

// startUsersClickHouse is a private ClickHouse 18.16 with
// deploy/clickhouse/users.d, as compose mounts it.
func startUsersClickHouse(t *testing.T) *testenv.PrivateClickHouse {
	t.Helper()
	return testenv.StartPrivateClickHouseEnv(t,
		"CLICKHOUSE_USERS_D="+filepath.Join(testenv.RepoRoot(t), "deploy", "clickhouse", "users.d"),
		"CLICKHOUSE_MIGRATE_PASSWORD="+chPasswords["batchwatch_migrate"],
		"CLICKHOUSE_INGEST_PASSWORD="+chPasswords["batchwatch_ingest"],
		"CLICKHOUSE_SUBMITTER_PASSWORD="+chPasswords["batchwatch_submitter"],
		"CLICKHOUSE_GRAFANA_PASSWORD="+chPasswords["batchwatch_grafana"])
}

// chConn connects as user, from the local address given ("" lets the
// kernel choose 127.0.0.1).
func chConn(t *testing.T, addr, user, password, from string) driver.Conn {
	t.Helper()
	opts := &clickhouse.Options{
		Addr: []string{addr}, Auth: clickhouse.Auth{Database: "system", Username: user, Password: password},
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		Settings: clickhouse.Settings{"allow_experimental_low_cardinality_type": 1},
	}
	if from != "" {
		opts.DialContext = func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// chCode returns the ClickHouse error code of err, or 0.
func chCode(err error) int32 {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}

// TestClickHouseUsers: the shipped users on ClickHouse 18.16. The migration
// user creates the schema and drops partitions; ingest writes (the real
// binary, --no-migrate) but runs no DDL; Grafana runs every dashboard query
// and nothing else; default answers on the server's loopback only.
func TestClickHouseUsers(t *testing.T) {
	ch := startUsersClickHouse(t)
	ctx := ctxFor(t)
	cfg := func(user string) *store.Config {
		return &store.Config{Addrs: []string{ch.Addr}, Database: "batchwatch", Username: user, Password: chPasswords[user],
			DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, Compression: "none", MaxConns: 2}
	}
	mig, err := store.Open(cfg("batchwatch_migrate"), logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer mig.Close()
	if _, err := mig.Migrate(ctx); err != nil {
		t.Fatalf("migrate as batchwatch_migrate: %v", err)
	}

	bin := testenv.BuildBatchwatch(t)
	events := filepath.Join(testenv.RepoRoot(t), "batch", "testdata", "bench_mix.jsonl")
	p := testenv.StartProcess(t, "ingest", []string{"CLICKHOUSE_PASSWORD=" + chPasswords["batchwatch_ingest"]}, bin,
		"ingest", "--replay", events, "--no-migrate", "--retention.interval=0", "--web.listen-address=127.0.0.1:0",
		"--clickhouse.addr="+ch.Addr, "--clickhouse.user=batchwatch_ingest")
	testenv.WaitFor(t, time.Minute, "ingest --replay to finish", func() (bool, string) {
		done, err := p.Exited()
		if done && err != nil {
			t.Fatalf("ingest as batchwatch_ingest: %v", err)
		}
		return done, ""
	}, p)
	var n uint64
	if err := mig.Conn().QueryRow(ctx, "SELECT count() FROM batchwatch.events").Scan(&n); err != nil || n == 0 {
		t.Fatalf("events written by ingest: %d, %v", n, err)
	}

	for user, want := range map[string]map[string]string{
		"batchwatch_ingest":    {"allow_ddl": "0", "readonly": "0"},
		"batchwatch_submitter": {"allow_ddl": "0", "readonly": "0"},
		"batchwatch_grafana": {"readonly": "2", "allow_ddl": "0", "max_execution_time": "60", "max_result_rows": "1000000",
			"result_overflow_mode": "throw", "max_memory_usage": "4000000000"},
	} {
		checkSettings(t, ctx, chConn(t, ch.Addr, user, chPasswords[user], ""), user, want)
	}
	checkNoDDL(t, ctx, chConn(t, ch.Addr, "batchwatch_ingest", chPasswords["batchwatch_ingest"], ""), "batchwatch_ingest")
	checkNoDDL(t, ctx, chConn(t, ch.Addr, "batchwatch_submitter", chPasswords["batchwatch_submitter"], ""), "batchwatch_submitter")
	checkGrafanaUser(t, ctx, chConn(t, ch.Addr, "batchwatch_grafana", chPasswords["batchwatch_grafana"], ""))

	// Retention runs with the migration user's rights (last: it drops all
	// the data, a year on).
	if _, err := mig.EnforceRetention(ctx, store.Retention{EventsDays: 1, JobsDays: 1, AttemptsDays: 1, QuarantineDays: 1}, time.Now().AddDate(1, 0, 0)); err != nil {
		t.Errorf("retention as batchwatch_migrate: %v", err)
	}
	checkDefaultLoopbackOnly(t, ctx, ch.Addr)
}

// checkSettings: the user's profile is in effect.
func checkSettings(t *testing.T, ctx context.Context, conn driver.Conn, user string, want map[string]string) {
	t.Helper()
	for name, v := range want {
		var got string
		if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = '"+name+"'").Scan(&got); err != nil || got != v {
			t.Errorf("%s: setting %s = %q (%v), want %s", user, name, got, err, v)
		}
	}
}

// checkNoDDL: every kind of DDL is refused (code 392, DDL prohibited), and
// the user can still insert and select (INSERT … SELECT: 18.16 hangs on an
// Exec of INSERT … VALUES through the driver).
func checkNoDDL(t *testing.T, ctx context.Context, conn driver.Conn, user string) {
	t.Helper()
	for _, q := range []string{
		"CREATE TABLE batchwatch.evil (x UInt8) ENGINE = Memory",
		"CREATE DATABASE evil",
		"DROP TABLE batchwatch.events",
		"ALTER TABLE batchwatch.events DROP PARTITION 20261122",
		"ALTER TABLE batchwatch.jobs ADD COLUMN evil UInt8",
		"ALTER TABLE batchwatch.jobs DELETE WHERE 1",
		"RENAME TABLE batchwatch.jobs TO batchwatch.jobs2",
		"TRUNCATE TABLE batchwatch.events",
	} {
		err := conn.Exec(ctx, q)
		if err == nil || chCode(err) != 392 {
			t.Errorf("%s: %s: %v, want code 392 (DDL prohibited)", user, q, err)
		}
	}
	if err := conn.Exec(ctx, "INSERT INTO batchwatch.quarantine SELECT * FROM batchwatch.quarantine"); err != nil {
		t.Errorf("%s cannot insert: %v", user, err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM batchwatch.jobs").Scan(&n); err != nil {
		t.Errorf("%s cannot select: %v", user, err)
	}
}

// checkGrafanaUser: every ClickHouse query of the committed dashboards runs
// (and some return the replayed data); writes, DDL and other databases are
// refused.
func checkGrafanaUser(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	files, err := dashboards.Generate(dashboards.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var ds []*dashboards.ParsedDashboard
	for _, data := range files {
		d, err := dashboards.ParseDashboard(data)
		if err != nil {
			t.Fatal(err)
		}
		var targets []dashboards.Target
		for _, tg := range d.Targets {
			if tg.Kind == dashboards.KindClickHouse {
				targets = append(targets, tg)
			}
		}
		var vars []dashboards.Variable
		for _, v := range d.Variables {
			if v.Type != "query" || v.Kind == dashboards.KindClickHouse {
				vars = append(vars, v)
			}
		}
		d.Targets, d.Variables = targets, vars
		ds = append(ds, d)
	}
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	v := &dashboards.Verifier{ClickHouse: conn, ClickHouseRange: dashboards.TimeRange{From: day.Add(-24 * time.Hour), To: day.Add(48 * time.Hour)},
		MaxDataPoints: 1000, Database: "batchwatch"}
	queries, withData := 0, 0
	for _, r := range v.Verify(ctx, ds) {
		queries++
		if r.Err != nil {
			t.Errorf("as batchwatch_grafana: %s", r.String())
		}
		if r.OK() {
			withData++
		}
	}
	if queries == 0 || withData == 0 {
		t.Errorf("%d dashboard queries, %d with data: want both above 0", queries, withData)
	}
	t.Logf("batchwatch_grafana ran %d dashboard queries, %d with data", queries, withData)

	for _, q := range []string{
		"INSERT INTO batchwatch.quarantine SELECT * FROM batchwatch.quarantine",
		"ALTER TABLE batchwatch.jobs DELETE WHERE 1",
		"ALTER TABLE batchwatch.events DROP PARTITION 20261122",
		"DROP TABLE batchwatch.events",
		"CREATE TABLE batchwatch.evil (x UInt8) ENGINE = Memory",
		"TRUNCATE TABLE batchwatch.events",
	} {
		if err := conn.Exec(ctx, q); err == nil || (chCode(err) != 164 && chCode(err) != 392) {
			t.Errorf("batchwatch_grafana: %s: %v, want code 164 (readonly) or 392 (DDL prohibited)", q, err)
		}
	}
	for _, q := range []string{"SELECT count() FROM default.anything", "SELECT count() FROM system.tables WHERE database = 'x' AND name IN (SELECT name FROM default.t)"} {
		rows, err := conn.Query(ctx, q)
		if err == nil {
			rows.Close()
		}
		if chCode(err) != 291 {
			t.Errorf("batchwatch_grafana: %s: %v, want code 291 (access denied to database)", q, err)
		}
	}
}

// checkDefaultLoopbackOnly: default logs in from 127.0.0.1 (the server's
// own loopback, `docker compose exec clickhouse clickhouse-client`) and is
// refused from any other address, as from another container.
func checkDefaultLoopbackOnly(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	if err := chConn(t, addr, "default", "", "").Ping(ctx); err != nil {
		t.Errorf("default from 127.0.0.1: %v", err)
	}
	err := chConn(t, addr, "default", "", "127.0.0.2").Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("default from 127.0.0.2: %v, want a refusal", err)
	}
	t.Logf("default from 127.0.0.2: %v", err)
	if err := chConn(t, addr, "batchwatch_ingest", "wrong", "127.0.0.2").Ping(ctx); err == nil {
		t.Error("batchwatch_ingest logged in with a wrong password")
	}
	if err := chConn(t, addr, "batchwatch_ingest", chPasswords["batchwatch_ingest"], "127.0.0.2").Ping(ctx); err != nil {
		t.Errorf("batchwatch_ingest from 127.0.0.2: %v", err)
	}
}
