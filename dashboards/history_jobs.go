package dashboards

import (
	"strconv"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// stuckAfterSeconds is when a RUNNABLE job counts as stuck in the history
// table (the BatchwatchJobsStuckRunnable alert uses the same 30 minutes).
const stuckAfterSeconds = 1800

// historyJobsRow: the jobs that take longest, and the ones that do not move.
func historyJobsRow(cfg Config) row {
	return row{title: "Slow and stuck jobs", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("Jobs stuck in RUNNABLE for more than 30 minutes").
			Description("Jobs whose latest state at the end of the time range was RUNNABLE, entered more than 30 minutes before it, with their request and the latest 'Queue Blocked' reason. Read from the events, so moving the range back shows what was stuck then. A request larger than any instance never runs (see 'Unschedulable jobs' on the overview).").
			WithTarget(chQuery(stuckRunnableSQL(cfg))).
			OverrideByName("job_id", jobIDLinks()).
			OverrideByName("runnable_seconds", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Seconds}}),
		defaultTable(clickhousePluginID).
			Title("Slowest jobs").
			Description("The 50 jobs that stopped in the range with the longest run time of their last attempt, with their queue wait and resources: candidates for splitting, right-sizing or a bigger tier.").
			WithTarget(chQuery("SELECT job_id, job_name, job_queue, job_definition, status, run_time_ms / 1000 AS run_seconds,"+
				" queue_wait_ms / 1000 AS wait_seconds, attempts, vcpus, memory_mib, gpus, instance_type,"+
				" toDateTime(intDiv(stopped_at_ms, 1000), 'UTC') AS stopped"+
				" FROM "+stoppedJobs("job_name", "status", "run_time_ms", "queue_wait_ms", "attempts", "vcpus", "memory_mib", "gpus", "instance_type", "stopped_at_ms", "account", "region")+
				" WHERE "+stoppedMs+" AND is_array_parent = 0 AND run_time_ms >= 0 AND "+chFilter(cfg)+
				" ORDER BY run_time_ms DESC LIMIT 50")).
			OverrideByName("job_id", jobIDLinks()).
			OverrideByRegexp(".*_seconds$", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Seconds}}),
	}}
}

// stuckRunnableSQL finds jobs whose latest state change up to $__toTime is
// RUNNABLE. The events table keeps every state change, so the answer holds
// for any past moment; the jobs table only knows the latest state. Batch
// emits one event per transition, so the time of the latest one is when
// the job entered RUNNABLE (again, after a failed attempt). Aggregates get
// names of their own: ClickHouse aliases are visible in WHERE, and
// any(job_queue) AS job_queue would move an aggregate into the filter.
func stuckRunnableSQL(cfg Config) string {
	latest := func(col string) string { return "argMaxIf(" + col + ", version, " + isStateChange + ")" }
	return "SELECT job_id, any(job_name) AS name, any(job_queue) AS queue, any(job_definition) AS definition," +
		" toDateTime(intDiv(" + latest("event_time_ms") + ", 1000), 'UTC') AS runnable_since," +
		" toUInt32($__toTime) - intDiv(" + latest("event_time_ms") + ", 1000) AS runnable_seconds," +
		" " + latest("attempts") + " AS attempts_so_far, any(vcpus) AS req_vcpus, any(memory_mib) AS req_memory_mib, any(gpus) AS req_gpus," +
		" argMaxIf(status_reason, event_time_ms, detail_type = 'Batch Job Queue Blocked') AS blocked_reason" +
		" FROM $database.events FINAL" +
		" WHERE event_time >= $__toTime - INTERVAL 14 DAY AND event_time <= $__toTime" +
		// Candidates: the jobs not finished now (jobs_active) and those that
		// finished after the end of the range; events are read by key.
		" AND (job_queue, job_id) IN (SELECT job_queue, job_id FROM $database.jobs_active" +
		" UNION ALL SELECT job_queue, job_id FROM $database.jobs_by_day" +
		" WHERE created_at >= $__toTime - INTERVAL 14 DAY AND created_at <= $__toTime" +
		" AND stopped_at_ms > toUInt64(toUInt32($__toTime)) * 1000)" +
		" AND NOT (array_size > 0 AND array_index = -1) AND " + chFilter(cfg) +
		" GROUP BY job_id" +
		" HAVING " + latest("status") + " = 'RUNNABLE' AND runnable_seconds > " + strconv.Itoa(stuckAfterSeconds) +
		" ORDER BY runnable_seconds DESC LIMIT 200"
}

const isStateChange = "detail_type = 'Batch Job State Change'"
