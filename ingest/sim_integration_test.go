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
	"github.com/batchwatch/batchwatch/testenv"
)

// TestSimulatorDayEqualsTruth runs a reduced zendesk-day through the
// simulator, its SQS (SNS-wrapped delivery) and ingest, then checks
// ClickHouse's jobs FINAL against the simulator's ground truth for every
// job, and that nothing was quarantined.
func TestSimulatorDayEqualsTruth(t *testing.T) {
	st := testenv.Store(t)
	sc, err := sim.LoadScenario("zendesk-day")
	if err != nil {
		t.Fatal(err)
	}
	sc = sc.Scaled(0.02)
	log := logging.Discard().WithField("test", t.Name())
	s, url, stopSim, err := sim.Serve(context.Background(), sim.Config{
		Scenario: sc, Speed: 0, Seed: 11, Registry: prometheus.NewRegistry(), Logger: log, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()

	cfg, ac := testenv.AWS(t, url)
	client := ac.SQS(cfg, awsclient.Options{})
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 2000, FlushInterval: 200 * time.Millisecond}, m, log, time.Now)
	src := NewSQSSource(client, SQSConfig{QueueURL: url + "/123456789012/batchwatch-ingest", Receivers: 4, WaitTime: time.Second, Visibility: 30 * time.Second}, m, log, time.Now)
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
	waitFor(t, "the ingest queue to drain", 3*time.Minute, func() bool {
		v, inflight, delayed, err := s.Queues().Stats("batchwatch-ingest")
		return err == nil && v+inflight+delayed == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	truth := s.Truth()
	if len(truth) < 500 {
		t.Fatalf("truth has only %d jobs", len(truth))
	}
	if q := testutil.ToFloat64(m.Quarantined.WithLabelValues("sqs")); q != 0 {
		t.Fatalf("%v messages quarantined, want 0", q)
	}
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
	missing, wrong := 0, 0
	for _, j := range truth {
		r, ok := got[j.JobID]
		if !ok {
			// SUBMITTED-only jobs emit no event: only reconcile can know them.
			if j.Status != "SUBMITTED" {
				missing++
				if missing <= 5 {
					t.Errorf("job %s (%s) missing from jobs FINAL", j.JobID, j.Status)
				}
			}
			continue
		}
		want := row{j.JobQueue, j.Status, j.ArrayParentID, uint16(j.Attempts), j.CreatedAtMS, j.StartedAtMS, j.StoppedAtMS}
		if r != want {
			wrong++
			if wrong <= 5 {
				t.Errorf("job %s: got %+v, want %+v", j.JobID, r, want)
			}
		}
	}
	if missing+wrong > 0 {
		t.Fatalf("%d jobs missing and %d different out of %d", missing, wrong, len(truth))
	}
	t.Logf("%d jobs in ClickHouse equal the simulator's truth", len(truth))
}
