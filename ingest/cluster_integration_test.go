//go:build integration

package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
	"github.com/batchwatch/batchwatch/sqsconsumer"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// lockedBuffer collects the simulator's emitted envelopes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) eventIDs(t *testing.T) map[string]bool {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var env struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatalf("emitted envelope: %v", err)
		}
		ids[env.ID] = true
	}
	return ids
}

// clusterIngest is one ingest "process": its own store connections (entry
// server first in addrs), pipeline, SQS receivers and metrics.
type clusterIngest struct {
	m    *Metrics
	done chan error
}

func startClusterIngest(t *testing.T, ctx context.Context, cfg store.Config, addrs []string, client sqsconsumer.API, queueURL string) *clusterIngest {
	t.Helper()
	cfg.Addrs = addrs
	log := logging.Discard().WithField("test", t.Name())
	st, err := store.Open(&cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 300, FlushInterval: 200 * time.Millisecond, RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second}, m, log, time.Now)
	src := NewSQSSource(client, SQSConfig{QueueURL: queueURL, Receivers: 2, WaitTime: time.Second, Visibility: 30 * time.Second}, m, log, time.Now)
	svc := &Service{Pipeline: p, Sources: []Source{src}, Log: log, Now: time.Now}
	ci := &clusterIngest{m: m, done: make(chan error, 1)}
	go func() { ci.done <- svc.Run(ctx) }()
	return ci
}

// TestClusterSimulatorDayTwoIngests plays a small simulated day into the
// 2 x 2 cluster through two ingest processes reading one queue. A replica
// of shard 1 is killed with SIGKILL once ingest has written, while the day
// goes on (quorum inserts on shard 1 fail and are retried), and started
// again; then both replicas of shard 2 are killed (ingest acknowledges
// nothing until they are back). Then: every emitted event is in events
// exactly once (FINAL),
// jobs FINAL equals the simulator's truth, all rows of a job are on one
// shard, and both replicas of each shard hold the same rows.
func TestClusterSimulatorDayTwoIngests(t *testing.T) {
	c := testenv.StartCluster(t)
	cfg := c.Config(t)
	mig, err := store.Open(cfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer mig.Close()
	if _, err := mig.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}

	sc, err := sim.LoadScenario("zendesk-day")
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	log := logging.Discard().WithField("test", t.Name())
	// 24 simulated hours in about 40 s, so that events keep coming while
	// servers are down.
	s, url, stopSim, err := sim.Serve(context.Background(), sim.Config{
		Scenario: sc.Scaled(0.02), Speed: 2160, Seed: 17, Registry: prometheus.NewRegistry(), Logger: log, Now: time.Now, Out: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	awsCfg, ac := testenv.AWS(t, url)
	client := ac.SQS(awsCfg, awsclient.Options{})
	queueURL := url + "/123456789012/batchwatch-ingest"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startClusterIngest(t, ctx, *cfg, c.Addrs, client, queueURL)
	b := startClusterIngest(t, ctx, *cfg, []string{c.Addrs[2], c.Addrs[3], c.Addrs[0], c.Addrs[1]}, client, queueURL)

	waitFor(t, "ingest to write", 2*time.Minute, func() bool {
		return testutil.ToFloat64(a.m.Inserted)+testutil.ToFloat64(b.m.Inserted) > 0
	})
	c.Kill(1)
	waitFor(t, "an insert to fail on the killed replica's shard", 2*time.Minute, func() bool {
		return testutil.CollectAndCount(a.m.StoreErrors)+testutil.CollectAndCount(b.m.StoreErrors) > 0
	})
	c.Start(1)

	// A whole shard down: ingest stops acknowledging (every batch has rows
	// for both shards) and resumes when the shard is back.
	errs := func() float64 { return sumCounter(a.m.StoreErrors) + sumCounter(b.m.StoreErrors) }
	acked := func() float64 { return sumCounter(a.m.Acked) + sumCounter(b.m.Acked) }
	c.Kill(2)
	c.Kill(3)
	e0 := errs()
	waitFor(t, "inserts to fail with shard 2 down", 2*time.Minute, func() bool { return errs() >= e0+2 })
	ack0, e1 := acked(), errs()
	waitFor(t, "more inserts to fail with shard 2 down", 2*time.Minute, func() bool { return errs() >= e1+4 })
	if got := acked(); got != ack0 {
		t.Fatalf("%v messages acknowledged while shard 2 was down", got-ack0)
	}
	c.Start(2)
	c.Start(3)
	waitFor(t, "ingest to acknowledge again", 2*time.Minute, func() bool { return acked() > ack0 })

	waitFor(t, "the simulated day to finish", 3*time.Minute, s.Done)
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	if err := s.WaitDelivered(wctx); err != nil {
		t.Fatal(err)
	}
	wcancel()
	waitFor(t, "the ingest queue to drain", 3*time.Minute, func() bool {
		v, inflight, delayed, err := s.Queues().Stats("batchwatch-ingest")
		return err == nil && v+inflight+delayed == 0
	})
	cancel()
	for _, ci := range []*clusterIngest{a, b} {
		if err := <-ci.done; err != nil {
			t.Fatal(err)
		}
		if q := testutil.ToFloat64(ci.m.Quarantined.WithLabelValues("sqs")); q != 0 {
			t.Fatalf("%v messages quarantined, want 0", q)
		}
	}
	if testutil.ToFloat64(a.m.Inserted) == 0 || testutil.ToFloat64(b.m.Inserted) == 0 {
		t.Fatalf("one ingest wrote nothing: %v and %v events", testutil.ToFloat64(a.m.Inserted), testutil.ToFloat64(b.m.Inserted))
	}

	checkEventsOnce(t, mig, out.eventIDs(t))
	checkJobsTruth(t, mig, s.Truth())
	checkClusterShards(t, c, cfg.Database)
}

// sumCounter adds up every series of a counter (vector).
func sumCounter(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	total := 0.0
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err == nil && pb.Counter != nil {
			total += pb.Counter.GetValue()
		}
	}
	return total
}

// checkEventsOnce: events FINAL holds every emitted event id once.
func checkEventsOnce(t *testing.T, st *store.Store, emitted map[string]bool) {
	t.Helper()
	rows, err := st.Conn().Query(context.Background(), "SELECT event_id, count() FROM "+st.Table("events")+" FINAL GROUP BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 || !emitted[id] {
			t.Fatalf("event %s: %d rows in events FINAL, emitted %v", id, n, emitted[id])
		}
		got++
	}
	if got != len(emitted) || got == 0 {
		t.Fatalf("events FINAL has %d event ids, the simulator emitted %d", got, len(emitted))
	}
	t.Logf("%d events, each once", got)
}

// checkJobsTruth compares jobs FINAL with the simulator's truth, as
// TestSimulatorDayEqualsTruth does.
func checkJobsTruth(t *testing.T, st *store.Store, truth []sim.TruthJob) {
	t.Helper()
	type row struct {
		queue, status, parent     string
		attempts                  uint16
		created, started, stopped int64
	}
	rows, err := st.Conn().Query(context.Background(), "SELECT job_id, job_queue, status, attempts, created_at_ms, started_at_ms, stopped_at_ms, array_parent_id FROM "+st.Table("jobs")+" FINAL")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]row{}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.queue, &r.status, &r.attempts, &r.created, &r.started, &r.stopped, &r.parent); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[id]; dup {
			t.Fatalf("job %s twice in jobs FINAL (on two shards?)", id)
		}
		got[id] = r
	}
	rows.Close()
	bad := 0
	for _, j := range truth {
		r, ok := got[j.JobID]
		if !ok && j.Status == "SUBMITTED" {
			continue // no event: only reconcile can know it
		}
		want := row{j.JobQueue, j.Status, j.ArrayParentID, uint16(j.Attempts), j.CreatedAtMS, j.StartedAtMS, j.StoppedAtMS}
		if !ok || r != want {
			if bad++; bad <= 5 {
				t.Errorf("job %s: got %+v (present %v), want %+v", j.JobID, r, ok, want)
			}
		}
	}
	if bad > 0 || len(truth) < 300 {
		t.Fatalf("%d of %d jobs missing or different", bad, len(truth))
	}
	t.Logf("%d jobs in the cluster equal the simulator's truth", len(truth))
}

// checkClusterShards: after SYSTEM SYNC REPLICA, both replicas of a shard
// hold the same rows (count and a checksum of the FINAL rows) in every
// local table, and no job has rows on two shards.
func checkClusterShards(t *testing.T, c *testenv.Cluster, db string) {
	t.Helper()
	ctx := context.Background()
	shardOf := map[string]int{}
	for table, key := range map[string]string{"events": "event_id, version", "jobs": "job_id, version", "attempts": "job_id, attempt, version"} {
		local := db + "." + table + "_local"
		var sums [4]string
		for i := range c.Addrs {
			srv := c.Server(i)
			if err := srv.Conn().Exec(ctx, "SYSTEM SYNC REPLICA "+local); err != nil {
				t.Fatalf("sync %s on %s: %v", local, c.Addrs[i], err)
			}
			var n, sum uint64
			if err := srv.Conn().QueryRow(ctx, "SELECT count(), sum(cityHash64("+key+")) FROM "+local+" FINAL").Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			sums[i] = fmt.Sprintf("%d rows, checksum %d", n, sum)
			rows, err := srv.Conn().Query(ctx, "SELECT DISTINCT job_id FROM "+local)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				if sh, ok := shardOf[id]; ok && sh != i/2 {
					t.Fatalf("job %s has rows on shards %d and %d", id, sh+1, i/2+1)
				}
				shardOf[id] = i / 2
			}
			rows.Close()
			_ = srv.Close()
		}
		for sh := range 2 {
			if sums[2*sh] != sums[2*sh+1] {
				t.Fatalf("%s: replicas of shard %d differ: %s and %s", table, sh+1, sums[2*sh], sums[2*sh+1])
			}
		}
		t.Logf("%s: shard 1 %s, shard 2 %s", table, sums[0], sums[2])
	}
}
