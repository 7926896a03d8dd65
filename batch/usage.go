package batch

import (
	"fmt"

	"github.com/valyala/fastjson"
)

// The usage event batchwatch-run puts on the bus when a wrapped job's
// attempt ends (docs/usage.md). It is not AWS's: it is accepted only from its
// own source, which PutEvents lets a job's role use (aws.* it does not).
const (
	DetailTypeAttemptUsage = "Batch Job Attempt Usage"
	SourceUsage            = "batchwatch.usage"
)

// Usage is what one attempt used, as batchwatch-run measured it. Event.Job
// holds only the job id (and queue) of a usage event. The JSON names are
// those `batchwatch inspect event` prints.
type Usage struct {
	// JobAttempt is AWS_BATCH_JOB_ATTEMPT: 1 for the first attempt; 0 when
	// the wrapper ran outside Batch.
	JobAttempt int `json:"job_attempt"`
	// ArrayIndex is -1 for a job that is not an array child.
	ArrayIndex         int    `json:"array_index"`
	JobQueue           string `json:"job_queue"`
	ComputeEnvironment string `json:"compute_environment"`
	// Source is what was sampled: cgroup-v2, cgroup-v1 or proc.
	Source              string  `json:"source"`
	StartedAtMs         int64   `json:"started_at_ms"`
	StoppedAtMs         int64   `json:"stopped_at_ms"`
	WallSeconds         float64 `json:"wall_seconds"`
	CPUSeconds          float64 `json:"cpu_seconds"`
	CPUMeanVCPUs        float64 `json:"cpu_mean_vcpus"`
	CPUP95VCPUs         float64 `json:"cpu_p95_vcpus"`
	CPUMaxVCPUs         float64 `json:"cpu_max_vcpus"`
	CPUThrottledSeconds float64 `json:"cpu_throttled_seconds"`
	CPULimitVCPUs       float64 `json:"cpu_limit_vcpus"`
	MemoryPeakBytes     uint64  `json:"memory_peak_bytes"`
	MemoryLimitBytes    uint64  `json:"memory_limit_bytes"`
	OOMKilled           bool    `json:"oom_killed"`
	ExitCode            int     `json:"exit_code"`
	Signal              string  `json:"signal"`
	Samples             int     `json:"samples"`
	GPUCount            int     `json:"gpu_count"`
	GPUMemoryPeakBytes  uint64  `json:"gpu_memory_peak_bytes"`
	GPUUtilMeanPercent  float64 `json:"gpu_util_mean_percent"`
	GPUUtilP95Percent   float64 `json:"gpu_util_p95_percent"`
}

// AttemptIndex is the attempt's index as in Job.Attempts and the attempts
// table (0 for the first).
func (u *Usage) AttemptIndex() int { return max(u.JobAttempt-1, 0) }

// wireUsage is the usage detail as written (docs/usage.md); numbers are read
// as float64 by both readers so they agree on every input.
type wireUsage struct {
	JobAttempt          float64  `json:"jobAttempt"`
	ArrayIndex          *float64 `json:"arrayIndex"`
	JobQueue            string   `json:"jobQueue"`
	ComputeEnvironment  string   `json:"computeEnvironment"`
	Source              string   `json:"source"`
	StartedAt           float64  `json:"startedAt"`
	StoppedAt           float64  `json:"stoppedAt"`
	WallSeconds         float64  `json:"wallSeconds"`
	CPUSeconds          float64  `json:"cpuSeconds"`
	CPUMeanVCPUs        float64  `json:"cpuMeanVcpus"`
	CPUP95VCPUs         float64  `json:"cpuP95Vcpus"`
	CPUMaxVCPUs         float64  `json:"cpuMaxVcpus"`
	CPUThrottledSeconds float64  `json:"cpuThrottledSeconds"`
	CPULimitVCPUs       float64  `json:"cpuLimitVcpus"`
	MemoryPeakBytes     float64  `json:"memoryPeakBytes"`
	MemoryLimitBytes    float64  `json:"memoryLimitBytes"`
	OOMKilled           bool     `json:"oomKilled"`
	ExitCode            float64  `json:"exitCode"`
	Signal              string   `json:"signal"`
	Samples             float64  `json:"samples"`
	GPUCount            float64  `json:"gpuCount"`
	GPUMemoryPeakBytes  float64  `json:"gpuMemoryPeakBytes"`
	GPUUtilMeanPercent  float64  `json:"gpuUtilMeanPercent"`
	GPUUtilP95Percent   float64  `json:"gpuUtilP95Percent"`
}

// fillUsage reads a usage detail with the fastjson getters.
func (fl *filler) fillUsage(v *fastjson.Value) *wireUsage {
	o := valObj(v)
	if o == nil {
		return nil
	}
	u := &wireUsage{}
	nums := map[string]*float64{
		"jobAttempt": &u.JobAttempt, "startedAt": &u.StartedAt, "stoppedAt": &u.StoppedAt,
		"wallSeconds": &u.WallSeconds, "cpuSeconds": &u.CPUSeconds, "cpuMeanVcpus": &u.CPUMeanVCPUs,
		"cpuP95Vcpus": &u.CPUP95VCPUs, "cpuMaxVcpus": &u.CPUMaxVCPUs, "cpuThrottledSeconds": &u.CPUThrottledSeconds,
		"cpuLimitVcpus": &u.CPULimitVCPUs, "memoryPeakBytes": &u.MemoryPeakBytes, "memoryLimitBytes": &u.MemoryLimitBytes,
		"exitCode": &u.ExitCode, "samples": &u.Samples, "gpuCount": &u.GPUCount,
		"gpuMemoryPeakBytes": &u.GPUMemoryPeakBytes, "gpuUtilMeanPercent": &u.GPUUtilMeanPercent, "gpuUtilP95Percent": &u.GPUUtilP95Percent,
	}
	strs := map[string]*string{"jobQueue": &u.JobQueue, "computeEnvironment": &u.ComputeEnvironment, "source": &u.Source, "signal": &u.Signal}
	o.Visit(func(k []byte, f *fastjson.Value) {
		key := string(k)
		if p, ok := nums[key]; ok {
			*p = getFloatVal(f)
			return
		}
		if p, ok := strs[key]; ok {
			*p = fl.valStr(f)
			return
		}
		switch key {
		case "arrayIndex":
			if f.Type() == fastjson.TypeNumber {
				x := getFloatVal(f)
				u.ArrayIndex = &x
			}
		case "oomKilled":
			u.OOMKilled = f.Type() == fastjson.TypeTrue
		}
	})
	return u
}

// maxExact is the largest integer a float64 holds exactly (2^53); counts and
// byte figures above it are not real.
const maxExact = 1 << 53

func toUint(f float64) uint64 {
	if f != f || f <= 0 {
		return 0
	}
	return uint64(min(f, maxExact))
}

func toInt(f float64) int {
	if f != f {
		return 0
	}
	return int(max(min(f, 1<<31-1), -(1 << 31)))
}

// normalizeUsage checks a usage detail and converts it.
func normalizeUsage(w *wireUsage) (*Usage, error) {
	if w == nil {
		return nil, fmt.Errorf("usage detail is not an object: %w", ErrNotBatchEvent)
	}
	if w.JobAttempt < 0 || w.StoppedAt < w.StartedAt || w.WallSeconds < 0 || w.CPUSeconds < 0 {
		return nil, fmt.Errorf("usage detail: negative attempt, times or seconds: %w", ErrNotBatchEvent)
	}
	u := &Usage{
		JobAttempt: toInt(w.JobAttempt), ArrayIndex: -1,
		JobQueue: w.JobQueue, ComputeEnvironment: w.ComputeEnvironment, Source: w.Source,
		StartedAtMs: int64(w.StartedAt), StoppedAtMs: int64(w.StoppedAt),
		WallSeconds: w.WallSeconds, CPUSeconds: w.CPUSeconds,
		CPUMeanVCPUs: w.CPUMeanVCPUs, CPUP95VCPUs: w.CPUP95VCPUs, CPUMaxVCPUs: w.CPUMaxVCPUs,
		CPUThrottledSeconds: w.CPUThrottledSeconds, CPULimitVCPUs: w.CPULimitVCPUs,
		MemoryPeakBytes: toUint(w.MemoryPeakBytes), MemoryLimitBytes: toUint(w.MemoryLimitBytes),
		OOMKilled: w.OOMKilled, ExitCode: toInt(w.ExitCode), Signal: w.Signal, Samples: toInt(w.Samples),
		GPUCount: toInt(w.GPUCount), GPUMemoryPeakBytes: toUint(w.GPUMemoryPeakBytes),
		GPUUtilMeanPercent: w.GPUUtilMeanPercent, GPUUtilP95Percent: w.GPUUtilP95Percent,
	}
	if w.ArrayIndex != nil && *w.ArrayIndex >= 0 {
		u.ArrayIndex = toInt(*w.ArrayIndex)
	}
	return u, nil
}
