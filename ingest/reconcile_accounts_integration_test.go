//go:build integration

package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
	"github.com/batchwatch/batchwatch/testenv"
)

// TestReconcileEachAccountThroughItsRole: two accounts in us-east-1 (of
// the multi-account fleet, events lost) with the same queue names; one
// pass reaches each account's Batch API through its role and fills jobs
// FINAL with every job of both, each under its own account.
func TestReconcileEachAccountThroughItsRole(t *testing.T) {
	st := testenv.Store(t)
	sc, err := sim.LoadScenario("multi-account")
	if err != nil {
		t.Fatal(err)
	}
	log := logging.Discard().WithField("test", t.Name())
	f, url, stop, err := sim.ServeFleet(context.Background(), sim.Config{
		Scenario: sc.Scaled(0.2), Seed: 9, NoDelivery: true, Registry: prometheus.NewRegistry(), Logger: log, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitFor(t, "the simulated day", 2*time.Minute, func() bool {
		for _, m := range f.Members() {
			if !m.Done() {
				return false
			}
		}
		return true
	})
	cfg, ac := testenv.AWS(t, url)
	clients := map[string]BatchAPI{}
	for _, a := range []string{"111111111111", "222222222222"} {
		clients[a] = ac.Batch(ac.AssumeRole(cfg, "arn:aws:iam::"+a+":role/batchwatch-ingest"), awsclient.Options{Limiter: rate.NewLimiter(40, 1)})
	}
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 1000, FlushInterval: 100 * time.Millisecond}, m, log, time.Now)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	rec := &Reconcile{Accounts: clients, Log: log, Metrics: m, Now: time.Now}
	n, err := rec.Run(context.Background(), p)
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{}
	total := 0
	for _, a := range []string{"111111111111", "222222222222"} {
		want[a] = uint64(len(f.Member(a, "us-east-1").Truth()))
		total += int(want[a])
	}
	if n != total || want["111111111111"] == 0 || want["222222222222"] == 0 {
		t.Fatalf("reconciled %d jobs, truth %v", n, want)
	}
	rows, err := st.Conn().Query(context.Background(), "SELECT account, region, count() FROM "+st.Table("jobs")+" FINAL GROUP BY account, region")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]uint64{}
	for rows.Next() {
		var account, region string
		var c uint64
		if err := rows.Scan(&account, &region, &c); err != nil {
			t.Fatal(err)
		}
		if region != "us-east-1" {
			t.Errorf("%d jobs of region %q", c, region)
		}
		got[account] = c
	}
	if len(got) != 2 || got["111111111111"] != want["111111111111"] || got["222222222222"] != want["222222222222"] {
		t.Errorf("jobs FINAL per account %v, want %v", got, want)
	}
}
