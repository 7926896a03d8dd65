package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// failuresRowTitle names the row whose time series show the annotations of
// new job definition revisions.
const failuresRowTitle = "Failures"

// historyFailuresRow: which jobs failed, why, and where their logs are.
func historyFailuresRow(cfg Config) row {
	failed := "FROM " + stoppedJobs("status", "stopped_at_ms", "failure_class", "status_reason", "exit_code", "job_name", "attempts", "log_stream",
		"job_definition_revision", "image", "log_group", "log_region", "account", "region") +
		" WHERE " + stoppedMs + " AND status = 'FAILED' AND is_array_parent = 0 AND " + chFilter(cfg)
	return row{title: failuresRowTitle, panels: []cog.Builder[dashboard.Panel]{
		barsTimeseries(clickhousePluginID).
			Title("Failed jobs by reason over time").
			Description("Jobs that ended FAILED per interval, by failure class (the bounded classification of statusReason and the container's reason and exit code: app_error, oom, spot_reclaimed, image_pull, resource_init, timeout, dependency, cancelled, terminated, other).").
			Span(fullWidth).
			Unit(units.Short).
			DisplayName("${__field.labels.failure_class}").
			WithTarget(chSeries("SELECT " + stoppedBucket + " AS time, failure_class, count() AS jobs " + failed +
				" GROUP BY time, failure_class ORDER BY time")),
		defaultTable(clickhousePluginID).
			Title("Top failure reasons").
			Description("The most frequent reasons of failed jobs in the range: failure class, AWS's statusReason (first 200 characters) and exit code, per job definition, revision and image (a new revision or image that fails shows up on its own row), with how many jobs and queues, when it last happened, and the latest such job (a link to the Job dashboard).").
			WithTarget(chQuery("SELECT failure_class, substring(status_reason, 1, 200) AS reason, exit_code, job_definition, job_definition_revision AS revision, image,"+
				" count() AS jobs, uniqExact(job_queue) AS queues, toDateTime(intDiv(max(stopped_at_ms), 1000), 'UTC') AS last_seen,"+
				" argMax(job_id, stopped_at_ms) AS job_id "+failed+
				" GROUP BY failure_class, reason, exit_code, job_definition, revision, image ORDER BY jobs DESC LIMIT 50")).
			OverrideByName("job_id", jobIDLinks()).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("jobs").Desc(true),
			}),
		defaultTable(clickhousePluginID).
			Title("Recent failures").
			Description("The latest failed jobs with their exit code, reason and log stream; the job id links to the Job dashboard (timeline, attempts, parameters), the log stream to CloudWatch Logs in the job's own log group. Attempts counts every try: a job with retries failed its last one.").
			Height(12).
			WithTarget(chQuery("SELECT toDateTime(intDiv(stopped_at_ms, 1000), 'UTC') AS stopped, job_queue, job_definition, job_name, job_id,"+
				" failure_class, exit_code, status_reason, attempts, log_stream, "+logsURL("log_group", "log_stream", jobLogRegion)+" AS logs_url "+failed+
				" ORDER BY stopped_at_ms DESC LIMIT 200")).
			OverrideByName("job_id", jobIDLinks()).
			OverrideByName("logs_url", hidden()).
			OverrideByName("log_stream", []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
				"title":       "CloudWatch Logs",
				"url":         "${__data.fields.logs_url}",
				"targetBlank": true,
			}}}}),
	}}
}
