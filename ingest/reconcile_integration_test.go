//go:build integration

package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
	"github.com/batchwatch/batchwatch/testenv"
)

// TestReconcileFillsJobsWithoutEvents: the simulator runs a day whose events
// are all lost (no delivery); one reconcile pass — ListJobs per queue and
// status with pagination, array children by arrayJobId, DescribeJobs 100 at
// a time — fills jobs FINAL with every job, equal to the ground truth.
func TestReconcileFillsJobsWithoutEvents(t *testing.T) {
	st := testenv.Store(t)
	sc, err := sim.LoadScenario("zendesk-day")
	if err != nil {
		t.Fatal(err)
	}
	sc = sc.Scaled(0.01)
	log := logging.Discard().WithField("test", t.Name())
	s, url, stop, err := sim.Serve(context.Background(), sim.Config{
		Scenario: sc, Speed: 0, Seed: 5, NoDelivery: true, Registry: prometheus.NewRegistry(), Logger: log, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitFor(t, "the simulated day", 2*time.Minute, s.Done)

	cfg, ac := testenv.AWS(t, url)
	reg := prometheus.NewRegistry()
	awsMetrics := awsclient.NewMetrics(reg, "batchwatch_ingest")
	client := ac.Batch(cfg, awsclient.Options{Metrics: awsMetrics, Limiter: rate.NewLimiter(40, 1)})
	m := NewMetrics(reg)
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 1000, FlushInterval: 100 * time.Millisecond}, m, log, time.Now)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	rec := &Reconcile{API: client, Log: log, Metrics: m, Now: time.Now}
	n, err := rec.Run(context.Background(), p)
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	truth := s.Truth()
	if n != len(truth) {
		t.Errorf("reconcile described %d jobs, the simulator has %d", n, len(truth))
	}
	describes := testutil.ToFloat64(awsMetrics.Calls.WithLabelValues("Batch", "DescribeJobs"))
	if max := float64((len(truth) + 99) / 100 * 2); describes > max || describes < float64(len(truth))/100 {
		t.Errorf("%v DescribeJobs calls for %d jobs", describes, len(truth))
	}

	rows, err := st.Conn().Query(context.Background(), "SELECT job_id, job_queue, status, attempts, created_at_ms, stopped_at_ms, source, account FROM "+st.Table("jobs")+" FINAL")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		queue, status    string
		attempts         uint16
		created, stopped int64
		source, account  string
	}
	got := map[string]row{}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.queue, &r.status, &r.attempts, &r.created, &r.stopped, &r.source, &r.account); err != nil {
			t.Fatal(err)
		}
		got[id] = r
	}
	rows.Close()
	bad := 0
	for _, j := range truth {
		want := row{j.JobQueue, j.Status, uint16(j.Attempts), j.CreatedAtMS, j.StoppedAtMS, "reconcile", sc.Account}
		if got[j.JobID] != want {
			if bad < 5 {
				t.Errorf("job %s: got %+v, want %+v", j.JobID, got[j.JobID], want)
			}
			bad++
		}
	}
	if bad > 0 || len(got) != len(truth) {
		t.Fatalf("%d of %d jobs differ; jobs FINAL has %d", bad, len(truth), len(got))
	}
	var events uint64
	if err := st.Conn().QueryRow(context.Background(), "SELECT count() FROM "+st.Table("events")).Scan(&events); err != nil || events != 0 {
		t.Fatalf("reconcile wrote %d rows to events (%v); it observes jobs, it has no events", events, err)
	}
}
