package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuiltinScenariosParse(t *testing.T) {
	names := BuiltinScenarios()
	want := []string{"demo", "exporter-100k", "failure-spike", "multi-account", "published-fields", "rightsize", "smoke", "stuck-runnable", "zendesk-day"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("built-in scenarios %v, want %v", names, want)
	}
	for _, n := range names {
		sc, err := LoadScenario(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if sc.Name != n || sc.Description == "" {
			t.Fatalf("%s: name %q, description %q", n, sc.Name, sc.Description)
		}
	}
	if _, err := ParseScenario([]byte("name: x\nunknown_field: 1\n")); err == nil {
		t.Fatal("an unknown field was accepted")
	}
	if _, err := LoadScenario("no-such-scenario"); err == nil {
		t.Fatal("an unknown scenario was accepted")
	}
}

// eventStats parses JSON lines and counts jobs, events and detail-types.
func eventStats(t *testing.T, out []byte) (jobs map[string]bool, byType map[string]int, byStatus map[string]int) {
	t.Helper()
	jobs, byType, byStatus = map[string]bool{}, map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		jobs[e.Detail.JobID] = true
		byType[e.DetailType]++
		if e.DetailType == detailTypeState {
			byStatus[e.Detail.Status]++
		}
	}
	return jobs, byType, byStatus
}

func TestScaledScenarios(t *testing.T) {
	t.Run("smoke", func(t *testing.T) {
		jobs, byType, _ := eventStats(t, runScenario(t, "smoke", 1, 1))
		if len(jobs) < 90 || len(jobs) > 110 {
			t.Fatalf("smoke: %d jobs", len(jobs))
		}
		if byType[detailTypeState] < 4*len(jobs) {
			t.Fatalf("smoke: %d events for %d jobs", byType[detailTypeState], len(jobs))
		}
	})
	t.Run("zendesk-day", func(t *testing.T) {
		jobs, byType, byStatus := eventStats(t, runScenario(t, "zendesk-day", 0.01, 1))
		perJob := float64(byType[detailTypeState]) / float64(len(jobs))
		if len(jobs) < 450 || len(jobs) > 600 || perJob < 4.5 || perJob > 5.5 {
			t.Fatalf("zendesk-day at 1%%: %d jobs, %.2f events per job", len(jobs), perJob)
		}
		if byStatus["SUCCEEDED"]+byStatus["FAILED"] < len(jobs) {
			t.Fatalf("not every job finished: %v", byStatus)
		}
	})
	t.Run("exporter-100k", func(t *testing.T) {
		sc, err := LoadScenario("exporter-100k")
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{Scenario: sc.Scaled(0.01), Seed: 1, Now: func() time.Time { return testStart }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.mu.Lock()
		s.advance(testStart.Add(30*time.Minute).UnixMilli(), 1<<30, false)
		queues := len(s.queues)
		var inFlight, runnable int
		for _, j := range s.allJobs {
			if j.size == 0 && !j.status.terminal() {
				inFlight++
			}
			if j.status == stRunnable {
				runnable++
			}
		}
		s.mu.Unlock()
		if queues != 50 || inFlight < 1000 || runnable < inFlight/2 {
			t.Fatalf("exporter-100k at 1%%: %d queues, %d jobs in flight, %d RUNNABLE", queues, inFlight, runnable)
		}
	})
	t.Run("stuck-runnable", func(t *testing.T) {
		out := runScenario(t, "stuck-runnable", 1, 1)
		var reasons []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e envelope
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.DetailType == detailTypeBlocked {
				reasons = append(reasons, strings.SplitN(e.Detail.StatusReason, " ", 2)[0])
			}
		}
		if strings.Join(reasons, ",") != "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT,CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" {
			t.Fatalf("blocked reasons: %v", reasons)
		}
	})
	t.Run("failure-spike", func(t *testing.T) {
		_, _, byStatus := eventStats(t, runScenario(t, "failure-spike", 1, 1))
		if byStatus["FAILED"] < 300 {
			t.Fatalf("failure-spike: %v", byStatus)
		}
	})
}

func TestTruthAndMetricsEndpoints(t *testing.T) {
	sc, err := LoadScenario("smoke")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := New(Config{Scenario: sc, Seed: 3, Registry: reg, ExitWhenDone: true, Now: func() time.Time { return testStart }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc2 := bufio.NewScanner(resp.Body)
	for sc2.Scan() {
		var tj TruthJob
		if err := json.Unmarshal(sc2.Bytes(), &tj); err != nil {
			t.Fatal(err)
		}
		if tj.JobID == "" || tj.JobQueue == "" || tj.CreatedAtMS == 0 || (tj.Status != "SUCCEEDED" && tj.Status != "FAILED") {
			t.Fatalf("truth line %s", sc2.Bytes())
		}
		// An attempt whose image could not be pulled never started.
		if tj.ArraySize == 0 && tj.StartedAtMS > 0 && (tj.StartedAtMS < tj.CreatedAtMS || tj.StoppedAtMS < tj.StartedAtMS) {
			t.Fatalf("inconsistent times: %s", sc2.Bytes())
		}
		n++
	}
	if n != len(s.Truth()) || n < 90 {
		t.Fatalf("%d truth lines", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metrics lint: %v %v", err, problems)
	}
	emitted := testutil.ToFloat64(s.metrics.emitted.WithLabelValues(detailTypeState))
	delivered := testutil.ToFloat64(s.metrics.delivered.WithLabelValues("queue:batchwatch-events"))
	if emitted < 400 || delivered != emitted {
		t.Fatalf("emitted %v, delivered to the queue %v", emitted, delivered)
	}
	resp2, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp2.Body)
	if !strings.Contains(buf.String(), `batchwatch_sim_jobs{queue="smoke-low",status="SUCCEEDED"}`) {
		t.Fatal("/metrics lacks the jobs gauge")
	}
}
