package store

import (
	"context"
	"time"
)

// insertUsage writes usage events (batchwatch-run's), one row per attempt.
func (s *Store) insertUsage(ctx context.Context, recs []*Received) error {
	return s.send(ctx, "usage", len(recs), func(lo, hi int) *columns { return usageColumns(recs[lo:hi]) })
}

func usageColumns(recs []*Received) *columns {
	n := len(recs)
	var (
		jobID, eventID, raw                     = mk[string](n), mk[string](n), mk[string](n)
		queue, ce, source, signal               = mkLC(n), mkLC(n), mkLC(n), mkLC(n)
		attempt, jobAttempt, gpuCount           = mk[uint16](n), mk[uint16](n), mk[uint16](n)
		arrayIndex, exitCode                    = mk[int32](n), mk[int32](n)
		startedAt, receivedAt                   = mk[time.Time](n), mk[time.Time](n)
		startedMs, stoppedMs                    = mk[int64](n), mk[int64](n)
		wall, cpu, throttled                    = mk[float64](n), mk[float64](n), mk[float64](n)
		mean, p95, maxV, limit, gpuMean, gpuP95 = mk[float32](n), mk[float32](n), mk[float32](n), mk[float32](n), mk[float32](n), mk[float32](n)
		memPeak, memLimit, gpuMem, version      = mk[uint64](n), mk[uint64](n), mk[uint64](n), mk[uint64](n)
		oom                                     = mk[uint8](n)
		samples                                 = mk[uint32](n)
	)
	for i, r := range recs {
		e, u := r.Event, r.Event.Usage
		jobID[i], eventID[i], raw[i] = e.Job.ID, e.ID, bytesString(e.Raw)
		queue[i], ce[i], source[i], signal[i] = u.JobQueue, u.ComputeEnvironment, u.Source, u.Signal
		attempt[i], jobAttempt[i], gpuCount[i] = clampU16(u.AttemptIndex()), clampU16(u.JobAttempt), clampU16(u.GPUCount)
		arrayIndex[i], exitCode[i] = int32(u.ArrayIndex), int32(u.ExitCode)
		startedAt[i], receivedAt[i] = msTime(u.StartedAtMs), r.ReceivedAt.UTC()
		startedMs[i], stoppedMs[i] = u.StartedAtMs, u.StoppedAtMs
		wall[i], cpu[i], throttled[i] = u.WallSeconds, u.CPUSeconds, u.CPUThrottledSeconds
		mean[i], p95[i], maxV[i], limit[i] = float32(u.CPUMeanVCPUs), float32(u.CPUP95VCPUs), float32(u.CPUMaxVCPUs), float32(u.CPULimitVCPUs)
		gpuMean[i], gpuP95[i] = float32(u.GPUUtilMeanPercent), float32(u.GPUUtilP95Percent)
		memPeak[i], memLimit[i], gpuMem[i] = u.MemoryPeakBytes, u.MemoryLimitBytes, u.GPUMemoryPeakBytes
		version[i] = uint64(max(u.StoppedAtMs, 0))
		if u.OOMKilled {
			oom[i] = 1
		}
		samples[i] = uint32(max(u.Samples, 0))
	}
	c := &columns{}
	for _, col := range []struct {
		name string
		data any
	}{
		{"job_id", jobID}, {"attempt", attempt}, {"job_attempt", jobAttempt}, {"array_index", arrayIndex},
		{"job_queue", queue}, {"compute_environment", ce}, {"source", source},
		{"started_at", startedAt}, {"started_at_ms", startedMs}, {"stopped_at_ms", stoppedMs},
		{"wall_seconds", wall}, {"cpu_seconds", cpu}, {"cpu_mean_vcpus", mean}, {"cpu_p95_vcpus", p95},
		{"cpu_max_vcpus", maxV}, {"cpu_throttled_seconds", throttled}, {"cpu_limit_vcpus", limit},
		{"memory_peak_bytes", memPeak}, {"memory_limit_bytes", memLimit}, {"oom_killed", oom},
		{"exit_code", exitCode}, {"signal", signal}, {"samples", samples}, {"gpu_count", gpuCount},
		{"gpu_memory_peak_bytes", gpuMem}, {"gpu_util_mean_percent", gpuMean}, {"gpu_util_p95_percent", gpuP95},
		{"event_id", eventID}, {"received_at", receivedAt}, {"version", version}, {"raw", raw},
	} {
		c.add(col.name, col.data)
	}
	return c
}
