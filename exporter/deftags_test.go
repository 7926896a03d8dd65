package exporter

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A job with propagateTags carries its definition's tags on its estimated
// cost, as the bill carries them (Batch propagates them to the ECS task); the
// job's own tags win; a job without propagateTags has only its own.
func TestEstimatedCostCarriesDefinitionTags(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	def := defARN("build", 3)
	fb.defs[def] = shape{vcpus: 2, memMiB: 4096}
	fb.defTags = map[string]map[string]string{def: {"app": "model-build", "team": "platform"}}
	x, _ := testExporter(t, &Config{TierTag: "tier", CostTags: []string{"team", "app"}}, fb, clock, Deps{})
	started(t, x)
	ms := func(s int) int64 { return t0.Add(sec(s)).UnixMilli() }
	jobs := []*fakeJob{
		{id: "p", queue: "q1", def: def, status: "SUBMITTED", created: ms(0), vcpus: 2, memMiB: 4096, tags: map[string]string{"team": "ml"}, propagateTags: true},
		{id: "n", queue: "q1", def: def, status: "SUBMITTED", created: ms(0), vcpus: 2, memMiB: 4096, tags: map[string]string{"team": "ml"}},
	}
	for _, j := range jobs {
		if r := x.State().ApplyEvent(j.event(t, t0), ms(0)); r != resultApplied {
			t.Fatalf("%s: %s", j.id, r)
		}
	}
	if got := x.State().DefinitionsWantingTags(); len(got) != 1 || got[0] != def {
		t.Fatalf("definitions wanting tags %v", got)
	}
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := x.State().DefinitionsWantingTags(); len(got) != 0 {
		t.Fatalf("still wanting %v after a resync", got)
	}
	for _, j := range jobs {
		j.status, j.started, j.stopped = "SUCCEEDED", ms(10), ms(3610)
		j.attempts = []fakeAttempt{{started: ms(10), stopped: ms(3610), exit: ip(0), reason: "Essential container in task exited",
			taskArn: "arn:aws:ecs:us-east-1:123456789012:task/od-cluster/0123"}}
		if r := x.State().ApplyEvent(j.event(t, t0.Add(sec(3611))), ms(3611)); r != resultApplied {
			t.Fatalf("%s finished: %s", j.id, r)
		}
	}
	cost := x.State().m.costUSD
	if v := testutil.ToFloat64(cost.WithLabelValues("q1", "", "on_demand", "ml", "model-build")); v <= 0 {
		t.Errorf("propagating job: no cost under tag_app=model-build (team: its own ml)")
	}
	if v := testutil.ToFloat64(cost.WithLabelValues("q1", "", "on_demand", "ml", "")); v <= 0 {
		t.Errorf("non-propagating job: no cost under an empty tag_app")
	}
	if n := testutil.CollectAndCount(cost); n != 2 {
		t.Errorf("%d cost series, want 2", n)
	}
}
