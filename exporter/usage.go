package exporter

import (
	"math"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/batchwatch/batchwatch/batch"
)

// UsageRatioBuckets are the buckets of the used/requested histograms.
var UsageRatioBuckets = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1, 1.5, 2}

// usageMetrics are taken from batchwatch-run's usage events (docs/usage.md):
// what each attempt used against what it requested.
type usageMetrics struct {
	memoryRatio  *prometheus.HistogramVec
	cpuRatio     *prometheus.HistogramVec
	unusedVCPU   *prometheus.CounterVec
	unusedMemory *prometheus.CounterVec
	unusedCost   *prometheus.CounterVec
}

func newUsageMetrics(reg prometheus.Registerer) *usageMetrics {
	f := promauto.With(reg)
	labels := []string{"job_queue", "job_definition", "tier"}
	hist := func(name, help string) *prometheus.HistogramVec {
		return f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: name, Help: help, Buckets: UsageRatioBuckets,
		}, labels)
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Namespace: "batchwatch", Subsystem: "job", Name: name, Help: help}, labels)
	}
	return &usageMetrics{
		memoryRatio: hist("memory_used_ratio",
			"Memory peak over memory requested, per attempt of a job wrapped in batchwatch-run (1: killed for memory or at its limit)."),
		cpuRatio: hist("cpu_used_ratio",
			"Mean vCPUs used over vCPUs requested, per attempt of a job wrapped in batchwatch-run."),
		unusedVCPU: counter("unused_vcpu_seconds_total",
			"vCPUs requested but not used on average, times run time, of attempts of jobs wrapped in batchwatch-run."),
		unusedMemory: counter("unused_memory_gib_seconds_total",
			"GiB of memory requested above the attempt's peak, times run time, of attempts of jobs wrapped in batchwatch-run."),
		unusedCost: counter("unused_estimated_cost_usd_total",
			"Estimated cost of the unused vCPU- and GiB-seconds at the configured prices of the queue's capacity."),
	}
}

// usageKey is what a usage event cannot say itself: the job's definition and
// tier, remembered from its state changes while it may still report usage.
type usageKey struct{ def, tier string }

// rememberUsageKey keeps the definition and tier of a job that started (its
// usage event comes at the end of each attempt), interned: a few definitions
// and tiers serve many jobs.
func (s *State) rememberUsageKey(e *jobEntry, j *batch.Job, tier string) {
	if j.Status != batch.StatusStarting && j.Status != batch.StatusRunning {
		return
	}
	if _, ok := s.usageKeys[e.id]; ok {
		return
	}
	s.usageKeys[e.id] = usageKey{def: s.intern(j.Definition), tier: s.intern(tier)}
}

func (s *State) intern(v string) string {
	if x, ok := s.interned[v]; ok {
		return x
	}
	x := strings.Clone(v)
	s.interned[x] = x
	return x
}

// applyUsageLocked counts one usage event against its job's request; a job
// the exporter has not seen start, or whose request it does not know, is
// ignored.
func (s *State) applyUsageLocked(ev *batch.Event) string {
	id := hashID(ev.ID)
	if _, ok := s.usageSeen.get(id); ok {
		return resultDuplicate
	}
	e := s.jobs[ev.Job.ID]
	k, known := s.usageKeys[ev.Job.ID]
	if e == nil || !known || !e.hasReq || e.req.vcpus <= 0 || e.req.memMiB <= 0 {
		return resultIgnored
	}
	s.usageSeen.put(id, 1)
	use := *ev.Usage
	q := s.queues[e.queue].name
	reqGiB := float64(e.req.memMiB) / 1024
	peakGiB := float64(use.MemoryPeakBytes) / (1 << 30)
	s.m.usage.memoryRatio.WithLabelValues(q, k.def, k.tier).Observe(peakGiB / reqGiB)
	s.m.usage.cpuRatio.WithLabelValues(q, k.def, k.tier).Observe(use.CPUMeanVCPUs / e.req.vcpus)
	vcpuS := math.Max(e.req.vcpus-use.CPUMeanVCPUs, 0) * use.WallSeconds
	gibS := math.Max(reqGiB-peakGiB, 0) * use.WallSeconds
	s.m.usage.unusedVCPU.WithLabelValues(q, k.def, k.tier).Add(vcpuS)
	s.m.usage.unusedMemory.WithLabelValues(q, k.def, k.tier).Add(gibS)
	capacity := s.queueCap[e.queue]
	if capacity == "" {
		capacity = CapacityOnDemand
	}
	p := s.prices[capacity]
	s.m.usage.unusedCost.WithLabelValues(q, k.def, k.tier).Add((vcpuS*p.VCPUHour + gibS*p.GiBHour) / 3600)
	return resultApplied
}
