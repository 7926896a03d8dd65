package exporter

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The first event of a (queue, definition, tier) creates its outcome and
// failure-class series at 0, before any job of it finished: its first
// failures are then an increase Prometheus can see. The state_time_limit
// class is among them, apart from cancelled.
func TestOutcomeSeriesBornAtZero(t *testing.T) {
	clock := newFakeClock()
	x, _ := testExporter(t, &Config{TierTag: "tier"}, oneQueue(), clock, Deps{})
	started(t, x)
	j := &fakeJob{id: "n1", queue: "q1", def: defARN("new-def", 1), status: "RUNNABLE", created: clock.ms(), vcpus: 1, memMiB: 512, tags: map[string]string{"tier": "small"}}
	if r := x.State().ApplyEvent(j.event(t, clock.Now()), clock.ms()); r != resultApplied {
		t.Fatalf("apply: %s", r)
	}
	want := `# HELP batchwatch_jobs_finished_total Jobs that reached SUCCEEDED or FAILED, each counted once; array parents and children apart (kind), multi-node jobs once.
# TYPE batchwatch_jobs_finished_total counter
batchwatch_jobs_finished_total{job_definition="new-def",job_queue="q1",kind="single",status="FAILED",tier="small"} 0
batchwatch_jobs_finished_total{job_definition="new-def",job_queue="q1",kind="single",status="SUCCEEDED",tier="small"} 0
`
	if err := testutil.CollectAndCompare(x.jm.finished, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(x.jm.failures); n != 11 {
		t.Errorf("%d failure-class series, want one per class (11)", n)
	}
	if v := testutil.ToFloat64(x.jm.failures.WithLabelValues("q1", "new-def", "small", "state_time_limit")); v != 0 {
		t.Errorf("state_time_limit %v", v)
	}
}
