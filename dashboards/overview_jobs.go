package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// overviewJobsRow: what finishes, what fails and why, and what runs twice.
func overviewJobsRow() row {
	finished := "batchwatch_jobs_finished_total"
	notParent := selJob + `, kind!="array_parent"`
	return row{title: "Finished jobs and failures", panels: []cog.Builder[dashboard.Panel]{
		stackedTimeseries(promPluginID).
			Title("Finished jobs by status").
			Description("Jobs reaching SUCCEEDED or FAILED per minute. Array children and single jobs count; array parents do not (they finish when their children do).").
			Unit(units.CountsPerMinute).
			WithTarget(promQuery(perMinute(`sum by (status) (`+rateOf(finished, notParent)+`)`), "{{status}}")),
		defaultTimeseries(promPluginID).
			Title("Failure ratio by queue").
			Description("Share of finished jobs that FAILED, per queue. Cancelled and terminated jobs end as FAILED too; 'Failures by class' tells them apart.").
			Unit(units.PercentUnit).
			Max(1).
			WithTarget(promQuery(
				`sum by (job_queue) (`+rateOf(finished, `status="FAILED", `+notParent)+`) / sum by (job_queue) (`+rateOf(finished, notParent)+`)`,
				"{{job_queue}}")),
		stackedTimeseries(promPluginID).
			Title("Failures by class").
			Description("Failed jobs per minute by failure class: app_error (the container exited non-zero), oom, spot_reclaimed, image_pull, resource_init, timeout, dependency, cancelled, terminated, other.").
			Unit(units.CountsPerMinute).
			WithTarget(promQuery(perMinute(`sum by (failure_class) (`+rateOf("batchwatch_job_failures_total", selJob)+`)`), "{{failure_class}}")),
		stackedTimeseries(promPluginID).
			Title("Failures by exit code").
			Description("Failed jobs per minute by the container's exit code: 1 and 2-125 are the application, 137 is SIGKILL (often out of memory), 139 a segfault, 143 SIGTERM, none a job that never ran its container.").
			Unit(units.CountsPerMinute).
			WithTarget(promQuery(perMinute(`sum by (exit_code_class) (`+rateOf("batchwatch_job_failures_by_exit_code_total", selQueue)+`)`), "exit {{exit_code_class}}")),
		defaultTimeseries(promPluginID).
			Title("Attempts and retries").
			Description("Job attempts and retries per minute per queue. Retries come from the job's retryStrategy, typically spot reclaims (Host EC2 terminated).").
			Unit(units.CountsPerMinute).
			WithTarget(promQuery(perMinute(`sum by (job_queue) (`+rateOf("batchwatch_job_attempts_total", selJob)+`)`), "attempts {{job_queue}}")).
			WithTarget(promQuery(perMinute(`sum by (job_queue) (`+rateOf("batchwatch_job_retries_total", selJob)+`)`), "retries {{job_queue}}")),
		barsTimeseries(promPluginID).
			Title("Spot reclaims").
			Description("Attempts ended because EC2 reclaimed the spot instance, per queue. A storm means the instance types are scarce: add types or fall back to on-demand. Long jobs suffer most.").
			Unit(units.Short).
			NoValue("0").
			WithTarget(promQuery(`sum by (job_queue) (`+increaseOf("batchwatch_job_spot_reclaims_total", selQueue)+`)`, "{{job_queue}}")),
	}}
}
