//go:build integration

package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// localIDs returns the distinct job ids of a local table on server i.
func localIDs(t *testing.T, c *testenv.Cluster, i int, table string) []string {
	t.Helper()
	s := c.Server(i)
	defer s.Close()
	rows, err := s.Conn().Query(context.Background(), "SELECT DISTINCT job_id FROM "+table+" ORDER BY job_id")
	if err != nil {
		t.Fatalf("%s on %s: %v", table, c.Addrs[i], err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// checkShards checks that both replicas of each shard hold the same jobs in
// table_local, that no job is on both shards, that both shards have some,
// and that together they hold want jobs. It returns the shard of each job.
func checkShards(t *testing.T, c *testenv.Cluster, db, table string, want int) map[string]int {
	t.Helper()
	shardOf := map[string]int{}
	for sh := range 2 {
		a := localIDs(t, c, 2*sh, db+"."+table+"_local")
		b := localIDs(t, c, 2*sh+1, db+"."+table+"_local")
		if !slices.Equal(a, b) {
			t.Fatalf("%s: the replicas of shard %d differ: %d and %d jobs", table, sh+1, len(a), len(b))
		}
		if len(a) == 0 {
			t.Fatalf("%s: shard %d holds no job", table, sh+1)
		}
		for _, id := range a {
			if prev, ok := shardOf[id]; ok {
				t.Fatalf("%s: job %s on shards %d and %d", table, id, prev+1, sh+1)
			}
			shardOf[id] = sh
		}
	}
	if len(shardOf) != want {
		t.Fatalf("%s: %d jobs on the shards, want %d", table, len(shardOf), want)
	}
	return shardOf
}

// TestClusterMigrateInsertRetention: migrations in cluster mode make
// replicated local tables and Distributed tables on every server (twice is
// a no-op); an insert through the Distributed tables is on both replicas of
// its shard when it returns; all rows of a job, its array children
// included, are on one shard; queries with IN subqueries stay exact; and
// retention drops partitions on every shard.
func TestClusterMigrateInsertRetention(t *testing.T) {
	c := testenv.StartCluster(t)
	cfg := c.Config(t)
	s, err := store.Open(cfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if again, err := s.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v", again, err)
	}
	migs, _ := store.Migrations()
	for i := range c.Addrs {
		srv := c.Server(i)
		var applied, tables uint64
		if err := srv.Conn().QueryRow(ctx, "SELECT uniqExact(version) FROM "+cfg.Database+".schema_migrations").Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if err := srv.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('events', 'events_local', 'jobs', 'jobs_local', 'attempts', 'attempts_local')", cfg.Database).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		_ = srv.Close()
		if int(applied) != len(migs) || tables != 6 {
			t.Fatalf("server %s: %d migrations recorded (want %d), %d of 6 tables", c.Addrs[i], applied, len(migs), tables)
		}
	}

	var bodies []string
	var ids []string
	for k := range 12 {
		for _, id := range []string{fmt.Sprintf("arr-%d", k), fmt.Sprintf("arr-%d:0", k), fmt.Sprintf("arr-%d:1", k)} {
			bodies = append(bodies, lifecycle(id)...)
			ids = append(ids, id)
		}
	}
	if _, err := s.Insert(ctx, parseAll(t, bodies)); err != nil {
		t.Fatal(err)
	}
	// Quorum inserts: no waiting for replication.
	shardOf := checkShards(t, c, cfg.Database, "jobs", len(ids))
	for _, table := range []string{"events", "attempts"} {
		other := checkShards(t, c, cfg.Database, table, len(ids))
		for id, sh := range other {
			if shardOf[id] != sh {
				t.Fatalf("job %s: jobs on shard %d, %s on shard %d", id, shardOf[id]+1, table, sh+1)
			}
		}
	}
	for _, id := range ids {
		parent, _, _ := strings.Cut(id, ":")
		if shardOf[id] != shardOf[parent] {
			t.Fatalf("array child %s on shard %d, its parent on %d", id, shardOf[id]+1, shardOf[parent]+1)
		}
	}
	var n, joined uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Table("jobs")+" FINAL WHERE status = 'SUCCEEDED'").Scan(&n); err != nil || int(n) != len(ids) {
		t.Fatalf("jobs FINAL: %d succeeded of %d, err %v", n, len(ids), err)
	}
	q := "SELECT count() FROM " + s.Table("jobs") + " FINAL WHERE job_id IN (SELECT job_id FROM " + s.Table("attempts") + " FINAL WHERE attempt = 1 AND exit_code = 0)"
	if err := s.Conn().QueryRow(ctx, q).Scan(&joined); err != nil || int(joined) != len(ids) {
		t.Fatalf("IN subquery: %d of %d, err %v", joined, len(ids), err)
	}

	count := func(table string) (n uint64) {
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Table(table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r := store.Retention{EventsDays: 30, JobsDays: 365, AttemptsDays: 365, QuarantineDays: 30}
	dropped, err := s.EnforceRetention(ctx, r, time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if count("events") != 0 || count("jobs") == 0 || len(dropped) != 1 {
		t.Fatalf("after 40 days: events=%d jobs=%d dropped=%v", count("events"), count("jobs"), dropped)
	}
	if _, err := s.EnforceRetention(ctx, r, time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for i := range c.Addrs {
		for _, table := range []string{"events", "jobs", "attempts"} {
			if got := localIDs(t, c, i, cfg.Database+"."+table+"_local"); len(got) != 0 {
				t.Fatalf("after two years, %s_local on %s still holds %d jobs", table, c.Addrs[i], len(got))
			}
		}
	}
}

// TestClusterCopyFromSingleServer: a single-server database (on the shared
// server) copied into the cluster by CopyFrom gives the same jobs FINAL,
// attempts and events, sharded by job; a source at another migration
// version is refused.
func TestClusterCopyFromSingleServer(t *testing.T) {
	ctx := context.Background()
	src := testenv.SingleServerStore(t)
	var bodies []string
	for k := range 10 {
		bodies = append(bodies, lifecycle(fmt.Sprintf("copy-%d", k))...)
		bodies = append(bodies, lifecycle(fmt.Sprintf("copy-%d:0", k))...)
	}
	if _, err := src.Insert(ctx, parseAll(t, bodies)); err != nil {
		t.Fatal(err)
	}
	if err := src.InsertQuarantine(ctx, []store.Quarantined{{ReceivedAt: time.Now(), Source: "sqs", MessageID: "m1", Error: "bad", Body: "{"}}); err != nil {
		t.Fatal(err)
	}

	c := testenv.StartCluster(t)
	cfg := c.Config(t)
	s, err := store.Open(cfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	from := store.CopySource{Addr: testenv.ClickHouseAddr(), Database: src.Database(), User: "default"}
	copied, err := s.CopyFrom(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	if len(copied) == 0 {
		t.Fatal("nothing copied")
	}
	summary := func(st *store.Store) string {
		var out []string
		for _, q := range []string{
			"SELECT count(), sum(cityHash64(job_id, version)) FROM " + st.Table("jobs") + " FINAL",
			"SELECT count(), sum(cityHash64(job_id, attempt, version)) FROM " + st.Table("attempts") + " FINAL",
			"SELECT count(), sum(cityHash64(event_id)) FROM " + st.Table("events") + " FINAL",
			"SELECT count(), sum(cityHash64(message_id)) FROM " + st.Table("quarantine") + " FINAL",
		} {
			var n, sum uint64
			if err := st.Conn().QueryRow(ctx, q).Scan(&n, &sum); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out = append(out, fmt.Sprintf("%d/%d", n, sum))
		}
		return strings.Join(out, " ")
	}
	if a, b := summary(src), summary(s); a != b || strings.HasPrefix(a, "0/") {
		t.Fatalf("single server %s, cluster %s", a, b)
	}
	checkShards(t, c, cfg.Database, "jobs", 20)

	if err := src.Conn().Exec(ctx, "INSERT INTO "+src.Table("schema_migrations")+" (version, name, applied_at) SELECT 999, 'future', now()"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CopyFrom(ctx, from); err == nil || !strings.Contains(err.Error(), "migrations") {
		t.Fatalf("a source at another version: %v", err)
	}
}
