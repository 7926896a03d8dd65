package exporter

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/batch"
)

// usageEvent is batchwatch-run's event for one attempt (docs/usage.md).
func usageEvent(t *testing.T, id, jobID, queue string, peakBytes uint64, meanVCPUs, wall float64) *batch.Event {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"version": "0", "id": id, "detail-type": batch.DetailTypeAttemptUsage, "source": batch.SourceUsage,
		"time": "2026-11-20T06:10:00Z", "detail": map[string]any{
			"schemaVersion": 1, "jobId": jobID, "jobAttempt": 1, "jobQueue": queue, "source": "cgroup-v2",
			"startedAt": 1, "stoppedAt": 2, "wallSeconds": wall, "cpuSeconds": meanVCPUs * wall, "cpuMeanVcpus": meanVCPUs,
			"cpuP95Vcpus": meanVCPUs, "memoryPeakBytes": peakBytes,
		},
	})
	ev, err := batch.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestUsageMetrics(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	x, reg := testExporter(t, &Config{TierTag: "tier"}, fb, clock, Deps{})
	started(t, x)
	ms := func(s int) int64 { return t0.Add(sec(s)).UnixMilli() }
	a := &fakeJob{id: "a", queue: "q1", def: defARN("build", 3), status: "RUNNING", created: ms(0), started: ms(5), vcpus: 2, memMiB: 4096,
		tags: map[string]string{"tier": "small"}}
	if r := x.State().ApplyEvent(a.event(t, t0.Add(sec(5))), ms(5)); r != resultApplied {
		t.Fatalf("running: %s", r)
	}
	// 1 GiB of 4 used, 0.5 of 2 vCPUs, for an hour; again (a redelivery);
	// and a job the exporter never saw start.
	// In this order: a map's would be random, and the redelivery must
	// come second.
	for _, tc := range []struct {
		want string
		ev   *batch.Event
	}{
		{resultApplied, usageEvent(t, "u-1", "a", "q1", 1<<30, 0.5, 3600)},
		{resultDuplicate, usageEvent(t, "u-1", "a", "q1", 1<<30, 0.5, 3600)},
		{resultIgnored, usageEvent(t, "u-2", "nobody", "q1", 1<<30, 0.5, 3600)},
	} {
		want, ev := tc.want, tc.ev
		if r := x.State().ApplyEvent(ev, ms(70)); r != want {
			t.Errorf("usage event %s of job %s: %s, want %s", ev.ID, ev.Job.ID, r, want)
		}
	}
	want := `
# HELP batchwatch_job_memory_used_ratio Memory peak over memory requested, per attempt of a job wrapped in batchwatch-run (1: killed for memory or at its limit).
# TYPE batchwatch_job_memory_used_ratio histogram
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.1"} 0
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.2"} 0
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.3"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.4"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.5"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.6"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.7"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.8"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.9"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="0.95"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="1"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="1.5"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="2"} 1
batchwatch_job_memory_used_ratio_bucket{job_definition="build",job_queue="q1",tier="small",le="+Inf"} 1
batchwatch_job_memory_used_ratio_sum{job_definition="build",job_queue="q1",tier="small"} 0.25
batchwatch_job_memory_used_ratio_count{job_definition="build",job_queue="q1",tier="small"} 1
# HELP batchwatch_job_unused_vcpu_seconds_total vCPUs requested but not used on average, times run time, of attempts of jobs wrapped in batchwatch-run.
# TYPE batchwatch_job_unused_vcpu_seconds_total counter
batchwatch_job_unused_vcpu_seconds_total{job_definition="build",job_queue="q1",tier="small"} 5400
# HELP batchwatch_job_unused_memory_gib_seconds_total GiB of memory requested above the attempt's peak, times run time, of attempts of jobs wrapped in batchwatch-run.
# TYPE batchwatch_job_unused_memory_gib_seconds_total counter
batchwatch_job_unused_memory_gib_seconds_total{job_definition="build",job_queue="q1",tier="small"} 10800
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_job_memory_used_ratio",
		"batchwatch_job_unused_vcpu_seconds_total", "batchwatch_job_unused_memory_gib_seconds_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(x.State().m.usage.cpuRatio); n != 1 {
		t.Errorf("%d cpu ratio series", n)
	}
	// q1's first compute environment is spot: 5400 vCPU-s and 10800 GiB-s at spot prices.
	p := DefaultPrices()[CapacitySpot]
	wantUSD := (5400*p.VCPUHour + 10800*p.GiBHour) / 3600
	if got := testutil.ToFloat64(x.State().m.usage.unusedCost.WithLabelValues("q1", "build", "small")); math.Abs(got-wantUSD) > 1e-9 {
		t.Errorf("unused cost %v, want %v", got, wantUSD)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}
