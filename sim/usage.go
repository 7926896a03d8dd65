package sim

import (
	"encoding/json"
	"math"
	"time"
)

// The usage event batchwatch-run puts on the bus when a wrapped job's
// attempt ends, built from its documented shape (docs/usage.md), not from
// batchwatch's code: the simulator plays the wrapper as it plays AWS.
const (
	usageSource     = "batchwatch.usage"
	usageDetailType = "Batch Job Attempt Usage"
	// usageInterval is the wrapper's default sampling interval.
	usageInterval = 5 * time.Second
)

// UsageSpec says whether jobs of a definition run wrapped in batchwatch-run
// and how much CPU they use: each attempt's own p95 is drawn from CPUVCPUs
// (capped at the request), its mean from MeanFraction of that. Memory comes
// from the behavior's memory_need_mib, the same draw that decides an OOM
// kill.
type UsageSpec struct {
	Wrapped  bool `yaml:"wrapped"`
	CPUVCPUs Dist `yaml:"cpu_vcpus"`
	// MeanFraction is the mean's share of the p95 (default 0.6 to 0.9).
	MeanFraction Range01 `yaml:"mean_fraction"`
}

// Range01 is a uniform range of fractions.
type Range01 struct {
	Min float64 `yaml:"min"`
	Max float64 `yaml:"max"`
}

type usageDetail struct {
	SchemaVersion       int     `json:"schemaVersion"`
	JobID               string  `json:"jobId"`
	JobAttempt          int     `json:"jobAttempt"`
	ArrayIndex          int     `json:"arrayIndex"`
	JobQueue            string  `json:"jobQueue"`
	ComputeEnvironment  string  `json:"computeEnvironment"`
	Source              string  `json:"source"`
	StartedAt           int64   `json:"startedAt"`
	StoppedAt           int64   `json:"stoppedAt"`
	WallSeconds         float64 `json:"wallSeconds"`
	CPUSeconds          float64 `json:"cpuSeconds"`
	CPUMeanVCPUs        float64 `json:"cpuMeanVcpus"`
	CPUP95VCPUs         float64 `json:"cpuP95Vcpus"`
	CPUMaxVCPUs         float64 `json:"cpuMaxVcpus"`
	CPUThrottledSeconds float64 `json:"cpuThrottledSeconds"`
	CPULimitVCPUs       float64 `json:"cpuLimitVcpus"`
	MemoryPeakBytes     uint64  `json:"memoryPeakBytes"`
	MemoryLimitBytes    uint64  `json:"memoryLimitBytes"`
	OOMKilled           bool    `json:"oomKilled"`
	ExitCode            int     `json:"exitCode"`
	Signal              string  `json:"signal,omitempty"`
	Samples             int     `json:"samples"`
	GPUCount            int     `json:"gpuCount"`
	GPUMemoryPeakBytes  uint64  `json:"gpuMemoryPeakBytes"`
	GPUUtilMeanPercent  float64 `json:"gpuUtilMeanPercent"`
	GPUUtilP95Percent   float64 `json:"gpuUtilP95Percent"`
}

type usageEnvelope struct {
	Version    string       `json:"version"`
	ID         string       `json:"id"`
	DetailType string       `json:"detail-type"`
	Source     string       `json:"source"`
	Account    string       `json:"account"`
	Time       string       `json:"time"`
	Region     string       `json:"region"`
	Resources  []string     `json:"resources"`
	Detail     *usageDetail `json:"detail"`
}

// emitUsage puts the usage event of the attempt a of j that just ended, when
// j's definition is wrapped and the command ran (an image that could not be
// pulled never started the wrapper).
func (s *Sim) emitUsage(j *job, a *attempt, out outcome) {
	b := j.behavior
	if b == nil || !b.Usage.Wrapped || a.startedAt == 0 || out.kind == outImagePull {
		return
	}
	d := s.usageOf(j, a, out)
	env := usageEnvelope{
		Version: "0", ID: s.rng.uuid(), DetailType: usageDetailType, Source: usageSource,
		Account: s.sc.Account, Time: time.UnixMilli(s.cur).UTC().Format("2006-01-02T15:04:05Z"),
		Region: s.sc.Region, Resources: []string{}, Detail: d,
	}
	body, err := json.Marshal(&env)
	if err != nil {
		s.log.WithError(err).Error("marshal usage event")
		return
	}
	s.metrics.emitted.WithLabelValues(usageDetailType).Inc()
	s.out.push(outItem{body: body, at: s.cur})
}

// usageOf is what the wrapper would have measured: the memory need drawn at
// RUNNING (the limit when the kernel killed for it), a CPU p95 drawn from the
// definition's profile, the mean a fraction of it.
func (s *Sim) usageOf(j *job, a *attempt, out outcome) *usageDetail {
	b := j.behavior
	wall := float64(a.stoppedAt-a.startedAt) / 1000
	limit := float64(j.memMiB) * (1 << 20)
	peak := j.memNeed * (1 << 20)
	if peak <= 0 {
		peak = limit * s.rng.between(0.3, 0.6)
	}
	p95 := math.Min(s.rng.dist(b.Usage.CPUVCPUs), j.vcpus)
	if p95 <= 0 {
		p95 = j.vcpus * s.rng.between(0.2, 0.8)
	}
	lo, hi := b.Usage.MeanFraction.Min, b.Usage.MeanFraction.Max
	if hi <= 0 {
		lo, hi = 0.6, 0.9
	}
	mean := p95 * s.rng.between(lo, hi)
	d := &usageDetail{
		SchemaVersion: 1, JobID: j.id, JobAttempt: len(j.attempts), ArrayIndex: -1,
		JobQueue: j.q.name, ComputeEnvironment: a.ce, Source: "cgroup-v1",
		StartedAt: a.startedAt, StoppedAt: a.stoppedAt, WallSeconds: wall,
		CPUSeconds: mean * wall, CPUMeanVCPUs: mean, CPUP95VCPUs: p95, CPUMaxVCPUs: math.Min(p95*1.15, j.vcpus),
		CPULimitVCPUs: j.vcpus, MemoryPeakBytes: uint64(math.Min(peak, limit)), MemoryLimitBytes: uint64(limit),
		Samples: int(wall / usageInterval.Seconds()),
	}
	if j.parent != nil {
		d.ArrayIndex = j.index
	}
	if a.instanceType == "FARGATE" {
		d.Source = "cgroup-v2"
	}
	switch {
	case out.kind == outOOM:
		d.OOMKilled, d.ExitCode, d.Signal, d.MemoryPeakBytes = true, 137, "SIGKILL", uint64(limit)
	case a.exitCode != nil:
		d.ExitCode = int(*a.exitCode)
	default: // timeout, spot reclaim, termination: SIGTERM, forwarded
		d.ExitCode, d.Signal = 143, "SIGTERM"
	}
	return d
}
