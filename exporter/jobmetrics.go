package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DurationBuckets are the buckets of the job histograms, in seconds: from
// one second to a day.
var DurationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400}

// jobMetrics are the histograms and counters taken from events: each job
// and each attempt is counted once (see State).
type jobMetrics struct {
	queueWait       *prometheus.HistogramVec
	attemptDuration *prometheus.HistogramVec
	totalDuration   *prometheus.HistogramVec
	finished        *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	retries         *prometheus.CounterVec
	failures        *prometheus.CounterVec
	failuresByExit  *prometheus.CounterVec
	spotReclaims    *prometheus.CounterVec
	blocked         *prometheus.CounterVec

	vcpuSeconds   *prometheus.CounterVec
	memorySeconds *prometheus.CounterVec
	gpuSeconds    *prometheus.CounterVec
	costUSD       *prometheus.CounterVec

	events *prometheus.CounterVec
	usage  *usageMetrics
}

// Results of applying an event (label result of
// batchwatch_exporter_events_total).
const (
	resultApplied    = "applied"
	resultIgnored    = "ignored"
	resultOutOfOrder = "out_of_order"
	resultDuplicate  = "duplicate"
)

func newJobMetrics(reg prometheus.Registerer, costTagLabels []string) *jobMetrics {
	f := promauto.With(reg)
	jobLabels := []string{"job_queue", "job_definition", "tier"}
	costLabels := append([]string{"job_queue", "tier", "capacity"}, costTagLabels...)
	hist := func(name, help string) *prometheus.HistogramVec {
		return f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: name, Help: help, Buckets: DurationBuckets,
		}, jobLabels)
	}
	m := &jobMetrics{
		queueWait: hist("queue_wait_seconds",
			"Time from job creation to the start of its first attempt, per single job and array child, from the job's events."),
		attemptDuration: hist("attempt_duration_seconds",
			"Run time (started → stopped) of each finished attempt, from the job's events."),
		totalDuration: hist("total_duration_seconds",
			"Time from job creation to its end, per finished single job and array child, from the job's events."),
		finished: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Name: "jobs_finished_total",
			Help: "Jobs that reached SUCCEEDED or FAILED, each counted once; array parents and children apart (kind), multi-node jobs once.",
		}, []string{"job_queue", "job_definition", "tier", "status", "kind"}),
		attempts: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "attempts_total",
			Help: "Finished attempts of single jobs, array children and multi-node jobs.",
		}, jobLabels),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "retries_total",
			Help: "Finished attempts after a job's first one (retries and reruns).",
		}, jobLabels),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "failures_total",
			Help: "Single jobs, array children and multi-node jobs that ended FAILED, by failure class.",
		}, []string{"job_queue", "job_definition", "tier", "failure_class"}),
		failuresByExit: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "failures_by_exit_code_total",
			Help: "Jobs that ended FAILED, by the class of their last exit code (none when there is none).",
		}, []string{"job_queue", "exit_code_class"}),
		spotReclaims: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "spot_reclaims_total",
			Help: "Attempts that ended because their host EC2 instance was terminated (spot reclaim or scale-in).",
		}, []string{"job_queue"}),
		blocked: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "queue", Name: "blocked_events_total",
			Help: "Batch Job Queue Blocked events, by reason.",
		}, []string{"job_queue", "reason"}),
		vcpuSeconds: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "vcpu_seconds_total",
			Help: "vCPUs requested times run time of finished attempts.",
		}, costLabels),
		memorySeconds: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "memory_gib_seconds_total",
			Help: "GiB of memory requested times run time of finished attempts.",
		}, costLabels),
		gpuSeconds: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "gpu_seconds_total",
			Help: "GPUs requested times run time of finished attempts.",
		}, costLabels),
		costUSD: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "job", Name: "estimated_cost_usd_total",
			Help: "Estimated cost of finished attempts: requested vCPUs, GiB and GPUs times run time at the configured prices per capacity.",
		}, costLabels),
		events: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "exporter", Name: "events_total",
			Help: "Batch events received, by what became of them: applied, ignored (not for a watched queue, node of a multi-node job, unparsable), out_of_order (older than what the exporter knows) or duplicate.",
		}, []string{"result"}),
	}
	for _, r := range []string{resultApplied, resultIgnored, resultOutOfOrder, resultDuplicate} {
		m.events.WithLabelValues(r)
	}
	m.usage = newUsageMetrics(reg)
	return m
}

// BlockedReasons is the allow-list of Batch Job Queue Blocked reasons;
// others become "other".
var BlockedReasons = []string{
	"MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
	"MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
	"MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS",
	"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
}

// blockedReason maps a queue-blocked statusReason ("MISCONFIGURATION:
// JOB_RESOURCE_REQUIREMENT - The job resource requirement …") to the
// allow-list.
func blockedReason(statusReason string) string {
	for _, r := range BlockedReasons {
		if len(statusReason) >= len(r) && statusReason[:len(r)] == r {
			return r
		}
	}
	return "other"
}
