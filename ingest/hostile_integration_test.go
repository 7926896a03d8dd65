//go:build integration

package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// TestHostileMessagesQuarantined mixes the simulator's 10,000 bad messages
// into a reduced zendesk-day on the ingest queue: every one lands in the
// quarantine with a reason (exactly 10,000 rows), ingest keeps running, and
// jobs FINAL still equals the simulator's truth.
func TestHostileMessagesQuarantined(t *testing.T) {
	const hostile = 10000
	st := testenv.Store(t)
	sc, err := sim.LoadScenario("zendesk-day")
	if err != nil {
		t.Fatal(err)
	}
	log := logging.Discard().WithField("test", t.Name())
	s, url, stopSim, err := sim.Serve(context.Background(), sim.Config{
		Scenario: sc.Scaled(0.01), Speed: 0, Seed: 5, Registry: prometheus.NewRegistry(), Logger: log, Now: time.Now,
		Hostile: sim.HostileConfig{Count: hostile, Queue: "batchwatch-ingest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()

	cfg, ac := testenv.AWS(t, url)
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 2000, FlushInterval: 200 * time.Millisecond}, m, log, time.Now)
	src := NewSQSSource(ac.SQS(cfg, awsclient.Options{}), SQSConfig{QueueURL: url + "/123456789012/batchwatch-ingest", Receivers: 4, WaitTime: time.Second, Visibility: 30 * time.Second}, m, log, time.Now)
	svc := &Service{Pipeline: p, Sources: []Source{src}, Log: log, Now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	waitFor(t, "the simulated day to finish", 3*time.Minute, s.Done)
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	if err := s.WaitDelivered(wctx); err != nil {
		t.Fatal(err)
	}
	wcancel()
	waitFor(t, "every hostile message to be sent", time.Minute, func() bool {
		return testutil.ToFloat64(m.Quarantined.WithLabelValues("sqs")) >= hostile
	})
	waitFor(t, "the ingest queue to drain", 3*time.Minute, func() bool {
		v, inflight, delayed, err := s.Queues().Stats("batchwatch-ingest")
		return err == nil && v+inflight+delayed == 0
	})
	select {
	case err := <-done:
		t.Fatalf("ingest stopped on its own: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var rows, withReason, hostileIDs uint64
	q := "SELECT count(), countIf(error != ''), countIf(position(body, 'hostile-') > 0 OR length(body) < 64) FROM " + st.Table("quarantine") + " FINAL"
	if err := st.Conn().QueryRow(context.Background(), q).Scan(&rows, &withReason, &hostileIDs); err != nil {
		t.Fatal(err)
	}
	if rows != hostile || withReason != hostile || hostileIDs != hostile {
		t.Fatalf("quarantine FINAL: %d rows, %d with a reason, %d hostile bodies; want %d each", rows, withReason, hostileIDs, hostile)
	}
	if n := testutil.ToFloat64(m.Quarantined.WithLabelValues("sqs")); n != hostile {
		t.Fatalf("quarantined_total %v, want %d", n, hostile)
	}
	checkJobsEqualTruth(t, st, s.Truth())
}

// checkJobsEqualTruth compares jobs FINAL with the simulator's truth for
// every job that emitted an event.
func checkJobsEqualTruth(t *testing.T, st *store.Store, truth []sim.TruthJob) {
	t.Helper()
	rows, err := st.Conn().Query(context.Background(), "SELECT job_id, job_queue, status, attempts, created_at_ms, started_at_ms, stopped_at_ms, array_parent_id FROM "+st.Table("jobs")+" FINAL")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		queue, status, parent     string
		attempts                  uint16
		created, started, stopped int64
	}
	got := map[string]row{}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.queue, &r.status, &r.attempts, &r.created, &r.started, &r.stopped, &r.parent); err != nil {
			t.Fatal(err)
		}
		got[id] = r
	}
	rows.Close()
	bad := 0
	for _, j := range truth {
		r, ok := got[j.JobID]
		want := row{j.JobQueue, j.Status, j.ArrayParentID, uint16(j.Attempts), j.CreatedAtMS, j.StartedAtMS, j.StoppedAtMS}
		if (!ok && j.Status != "SUBMITTED") || (ok && r != want) {
			bad++
			if bad <= 5 {
				t.Errorf("job %s: got %+v (found %v), want %+v", j.JobID, r, ok, want)
			}
		}
	}
	if bad > 0 || len(truth) == 0 {
		t.Fatalf("%d of %d jobs differ from the truth", bad, len(truth))
	}
}
