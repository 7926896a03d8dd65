package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// msDateTime shows an epoch-millisecond column as a UTC time, empty when 0.
func msDateTime(col string) string {
	return "if(" + col + " > 0, toString(toDateTime(intDiv(" + col + ", 1000), 'UTC')), '')"
}

// jobSummaryRow: what the job is and where to look next.
func jobSummaryRow() row {
	scoped := thisJob + " AND " + chScopeFilter()
	link := func(name, url, cond string) string {
		return "SELECT '" + name + "' AS link, " + url + " AS url " + scoped + cond
	}
	return row{title: "Job", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("Job").
			Description("The job's latest state as ingest stored it (the newest observation wins, never the latest to arrive): status and reason, failure class, queue, definition and revision, image, instance type, times, resources, array and node linkage (an array parent shows its children by status; *Links* leads to a child's parent), where its logs go.").
			Span(16).
			Height(14).
			WithTarget(chQuery("SELECT job_id, job_name, status, status_reason, failure_class, exit_code, job_queue," +
				" concat(job_definition, ':', toString(job_definition_revision)) AS definition, image, platform, instance_type," +
				" " + msDateTime("created_at_ms") + " AS created, " + msDateTime("first_started_at_ms") + " AS first_started," +
				" " + msDateTime("stopped_at_ms") + " AS stopped, queue_wait_ms / 1000 AS queue_wait_seconds, run_time_ms / 1000 AS run_seconds," +
				" attempts, retry_attempts, timeout_seconds, vcpus, memory_mib, gpus, array_parent_id, array_index, array_size," +
				" arrayStringConcat(arrayMap((k, n) -> concat(k, '=', toString(n)), status_summary_keys, status_summary_values), ' ') AS array_children," +
				" node_parent_id, node_index, arrayStringConcat(depends_on, ' ') AS depends_on, share_identifier, scheduling_priority," +
				" account, region, log_driver, log_group, " + jobLogRegion + " AS log_region, log_stream, last_detail_type," +
				" toString(last_event_time) AS last_event " + scoped)).
			Transformations([]dashboard.DataTransformerConfig{{Id: "transpose", Options: map[string]any{}}}),
		defaultTable(clickhousePluginID).
			Title("Links").
			Description("The job in the AWS Batch console, and its logs in CloudWatch Logs: the last attempt's log stream and the whole log group, in the group and region of the job's log configuration (AWS Batch's default /aws/batch/job when it has none). No log links when the job logs elsewhere (another log driver, or EKS). For an array child or a multi-node node, its parent's Job dashboard.").
			Span(8).
			Height(14).
			WithTarget(chQuery(link("AWS Batch console", batchConsoleURL, "")+
				" UNION ALL "+link("CloudWatch Logs: last log stream", logsURL("log_group", "log_stream", jobLogRegion), " AND log_group != '' AND log_stream != ''")+
				" UNION ALL "+link("CloudWatch Logs: log group", logsURL("log_group", "''", jobLogRegion), " AND log_group != ''")+
				" UNION ALL "+link("Job dashboard of the array parent", jobDashboardURL("array_parent_id"), " AND array_parent_id != ''")+
				" UNION ALL "+link("Job dashboard of the multi-node parent", jobDashboardURL("node_parent_id"), " AND node_parent_id != ''"))).
			OverrideByName("url", urlLinks("Open ${__data.fields.link}")),
	}}
}

// jobTimelineRow: every event ingest received for the job, in order.
func jobTimelineRow() row {
	return row{title: "Timeline", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("Events").
			Description("Every event of the job in the order of its time: state changes (SUBMITTED … SUCCEEDED or FAILED, RUNNABLE again between attempts) and 'Queue Blocked' events, with the reason, attempts so far, exit code and log stream each reported, and when and how ingest received it.").
			Height(12).
			WithTarget(chQuery("SELECT toDateTime(intDiv(event_time_ms, 1000), 'UTC') AS time, detail_type, status, status_reason," +
				" failure_class, attempts, exit_code, log_stream, source, received_at, event_id" +
				" FROM $database.events FINAL WHERE " + isThisJob + " AND " + chScopeFilter() + " ORDER BY event_time_ms, version")),
	}}
}

// jobDetailsRow: the job's attempts, parameters and tags.
func jobDetailsRow() row {
	region := "if(log_region != '', log_region, (SELECT any(region) " + thisJob + "))"
	return row{title: "Attempts, parameters and tags", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("Attempts").
			Description("Each attempt of the job: start, stop and duration, exit code, the container's reason and the attempt's status reason, failure class, ECS task and container instance, and its log stream (a link to CloudWatch Logs). The instance type is the job's: AWS Batch reports only the latest one.").
			Height(10).
			WithTarget(chQuery("SELECT attempt + 1 AS attempt, if(finished = 1, 'finished', 'running') AS state,"+
				" "+msDateTime("started_at_ms")+" AS started, "+msDateTime("stopped_at_ms")+" AS stopped,"+
				" if(duration_ms >= 0, duration_ms / 1000, NULL) AS duration_seconds, exit_code, reason, status_reason, failure_class,"+
				" (SELECT any(instance_type) "+thisJob+") AS instance_type, task_arn, container_instance_arn, log_stream,"+
				" if(log_group != '' AND log_stream != '', "+logsURL("log_group", "log_stream", region)+", '') AS logs_url"+
				" FROM $database.attempts FINAL WHERE "+isThisJob+" ORDER BY attempt")).
			OverrideByName("duration_seconds", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Seconds}}).
			OverrideByName("logs_url", hidden()).
			OverrideByName("log_stream", []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
				"title": "CloudWatch Logs", "url": "${__data.fields.logs_url}", "targetBlank": true,
			}}}}),
		defaultTable(clickhousePluginID).
			Title("Parameters and tags").
			Description("The job's parameters (as submitted, after the job definition's defaults) and tags (its own and, with propagateTags, the definition's), one per row.").
			Height(10).
			WithTarget(chQuery("SELECT 'parameter' AS kind, k AS key, v AS value FROM $database.jobs FINAL ARRAY JOIN param_keys AS k, param_values AS v WHERE " + isThisJob +
				" UNION ALL SELECT 'tag' AS kind, k AS key, v AS value FROM $database.jobs FINAL ARRAY JOIN tag_keys AS k, tag_values AS v WHERE " + isThisJob)),
	}}
}
