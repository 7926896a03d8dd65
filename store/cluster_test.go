package store

import (
	"strings"
	"testing"
)

// clusterMigs are migrations in the shapes the project uses: a table with
// engine arguments and a job_id key, one keyed by other columns, a copy of
// a table (AS), a view between job-keyed tables, SETTINGS after ORDER BY,
// and an added column.
var clusterMigs = []Migration{
	{Version: 1, Name: "jobs", SQL: `-- comment
CREATE TABLE IF NOT EXISTS ${database}.jobs
(
    job_id  String,
    status  LowCardinality(String),
    created_at DateTime('UTC'),
    q       AggregateFunction(quantilesTDigestIf(0.5, 0.95), Int64, UInt8),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (status, job_id);
CREATE TABLE IF NOT EXISTS ${database}.daily
(
    day Date,
    queue LowCardinality(String),
    n UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (day, queue)
SETTINGS index_granularity = 1024;
CREATE TABLE IF NOT EXISTS ${database}.daily_stage AS ${database}.daily`},
	{Version: 2, Name: "keys", SQL: `CREATE TABLE IF NOT EXISTS ${database}.job_keys
(
    job_id String,
    created_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY job_id;
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.job_keys_mv TO ${database}.job_keys
AS SELECT job_id, created_at FROM ${database}.jobs WHERE job_id != '';
ALTER TABLE ${database}.jobs ADD COLUMN IF NOT EXISTS note String`},
}

func rewriteAll(t *testing.T, migs []Migration) []string {
	t.Helper()
	r, err := newClusterRewriter("bw", "c1", migs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range migs {
		for _, stmt := range statements(strings.ReplaceAll(m.SQL, "${database}", "bw")) {
			got, err := r.rewrite(stmt)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got...)
		}
	}
	return out
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestClusterRewrite(t *testing.T) {
	got := rewriteAll(t, clusterMigs)
	want := []string{
		"CREATE TABLE IF NOT EXISTS bw.jobs_local ON CLUSTER c1 ( job_id String, status LowCardinality(String), created_at DateTime('UTC'), q AggregateFunction(quantilesTDigestIf(0.5, 0.95), Int64, UInt8), version UInt64 ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/bw/jobs', '{replica}', version) PARTITION BY toYYYYMM(created_at) ORDER BY (status, job_id)",
		"CREATE TABLE IF NOT EXISTS bw.jobs ON CLUSTER c1 AS bw.jobs_local ENGINE = Distributed(c1, bw, jobs_local, cityHash64(extract(job_id, '^[^:#]*')))",
		"CREATE TABLE IF NOT EXISTS bw.daily_local ON CLUSTER c1 ( day Date, queue LowCardinality(String), n UInt64 ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/bw/daily', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, queue) SETTINGS index_granularity = 1024",
		"CREATE TABLE IF NOT EXISTS bw.daily ON CLUSTER c1 AS bw.daily_local ENGINE = Distributed(c1, bw, daily_local, cityHash64(day, queue))",
		"CREATE TABLE IF NOT EXISTS bw.daily_stage_local ON CLUSTER c1 AS bw.daily_local ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/bw/daily_stage', '{replica}') PARTITION BY toYYYYMMDD(day) ORDER BY (day, queue) SETTINGS index_granularity = 1024",
		"CREATE TABLE IF NOT EXISTS bw.daily_stage ON CLUSTER c1 AS bw.daily_stage_local ENGINE = Distributed(c1, bw, daily_stage_local, cityHash64(day, queue))",
		"CREATE TABLE IF NOT EXISTS bw.job_keys_local ON CLUSTER c1 ( job_id String, created_at DateTime('UTC') ) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/bw/job_keys', '{replica}') ORDER BY job_id",
		"CREATE TABLE IF NOT EXISTS bw.job_keys ON CLUSTER c1 AS bw.job_keys_local ENGINE = Distributed(c1, bw, job_keys_local, cityHash64(extract(job_id, '^[^:#]*')))",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS bw.job_keys_mv ON CLUSTER c1 TO bw.job_keys_local AS SELECT job_id, created_at FROM bw.jobs_local WHERE job_id != ''",
		"ALTER TABLE bw.jobs_local ON CLUSTER c1 ADD COLUMN IF NOT EXISTS note String",
		"DROP TABLE IF EXISTS bw.jobs ON CLUSTER c1",
		"CREATE TABLE IF NOT EXISTS bw.jobs ON CLUSTER c1 AS bw.jobs_local ENGINE = Distributed(c1, bw, jobs_local, cityHash64(extract(job_id, '^[^:#]*')))",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statements, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if squash(got[i]) != want[i] {
			t.Errorf("statement %d:\n got %s\nwant %s", i+1, squash(got[i]), want[i])
		}
	}
}

// Every embedded migration has a cluster form.
func TestClusterRewriteEmbedded(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	got := rewriteAll(t, migs)
	dist := 0
	for _, s := range got {
		if strings.Contains(s, "ENGINE = Distributed(") {
			dist++
		}
		if strings.Contains(s, "${database}") || !strings.Contains(s+" ", " ON CLUSTER c1 ") {
			t.Errorf("statement not rewritten: %s", s)
		}
	}
	if dist == 0 {
		t.Fatal("no Distributed table")
	}
	// Tables with a job's rows shard by job.
	for _, table := range []string{"events", "jobs", "attempts"} {
		r, _ := newClusterRewriter("bw", "c1", migs)
		if k := r.tables[table].key; k != jobShardKey {
			t.Errorf("%s is sharded by %s, want the job key", table, k)
		}
	}
}

func TestClusterRewriteRefuses(t *testing.T) {
	for name, sql := range map[string]string{
		"memory engine":   `CREATE TABLE IF NOT EXISTS ${database}.t (a String) ENGINE = Memory`,
		"replicated":      `CREATE TABLE IF NOT EXISTS ${database}.t (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a`,
		"expression":      `CREATE TABLE IF NOT EXISTS ${database}.t (a String, d DateTime) ENGINE = MergeTree ORDER BY (a, toDate(d))`,
		"no order by":     `CREATE TABLE IF NOT EXISTS ${database}.t (a String) ENGINE = MergeTree`,
		"copy of unknown": `CREATE TABLE IF NOT EXISTS ${database}.t AS ${database}.nope`,
	} {
		if _, err := newClusterRewriter("bw", "c1", []Migration{{Version: 1, Name: "x", SQL: sql}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	migs := append([]Migration{}, clusterMigs...)
	for name, sql := range map[string]string{
		"view across keys": `CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.v TO ${database}.daily AS SELECT toDate(created_at) AS day, status AS queue, 1 AS n FROM ${database}.jobs`,
		"view without TO":  `CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.v ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a`,
		"insert":           `INSERT INTO ${database}.daily SELECT today(), 'q', 1`,
		"alter unknown":    `ALTER TABLE ${database}.nope ADD COLUMN x String`,
	} {
		r, err := newClusterRewriter("bw", "c1", migs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.rewrite(strings.ReplaceAll(sql, "${database}", "bw")); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConnSettings(t *testing.T) {
	set, err := connSettings(&Config{Cluster: "c1", InsertQuorum: 2})
	if err != nil {
		t.Fatal(err)
	}
	if set["insert_distributed_sync"] != 1 || set["insert_quorum"] != 2 || set["prefer_localhost_replica"] != 0 {
		t.Fatalf("cluster settings %v", set)
	}
	set, err = connSettings(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set["insert_quorum"]; ok || len(set) != 1 {
		t.Fatalf("single-server settings %v", set)
	}
	for _, c := range []Config{{Cluster: "bad name"}, {Cluster: "c1", InsertQuorum: -1}} {
		if _, err := connSettings(&c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
