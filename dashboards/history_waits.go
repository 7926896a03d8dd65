package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// historyWaitsRow: how long jobs waited for capacity, per queue and hour.
func historyWaitsRow(cfg Config) row {
	started := "FROM $database.jobs_by_day FINAL WHERE $__timeFilter(created_at) AND is_array_parent = 0 AND queue_wait_ms >= 0 AND " + chFilter(cfg)
	return row{title: "Queue wait", panels: []cog.Builder[dashboard.Panel]{
		defaultTimeseries(clickhousePluginID).
			Title("p95 queue wait per queue per hour").
			Description("95th percentile of the time from creation to first start of the jobs created in each hour, per queue (jobs not started yet are left out). Exact per job, unlike the histogram buckets of the Prometheus dashboards.").
			Unit(units.Seconds).
			DisplayName("${__field.labels.job_queue}").
			ShowPoints(common.VisibilityModeAlways).
			WithTarget(chSeries("SELECT toStartOfHour(created_at) AS time, job_queue, quantileTDigest(0.95)(queue_wait_ms) / 1000 AS p95_wait_seconds " +
				started + " GROUP BY time, job_queue ORDER BY time")),
		defaultTable(clickhousePluginID).
			Title("Queue wait by queue").
			Description("Queue wait of the jobs created in the range that have started, per queue: count, median, p95, p99 and the longest.").
			Span(halfWidth).
			WithTarget(chQuery("SELECT job_queue, count() AS jobs, quantileTDigest(0.5)(queue_wait_ms) / 1000 AS p50_seconds,"+
				" quantileTDigest(0.95)(queue_wait_ms) / 1000 AS p95_seconds, quantileTDigest(0.99)(queue_wait_ms) / 1000 AS p99_seconds,"+
				" max(queue_wait_ms) / 1000 AS max_seconds "+started+" GROUP BY job_queue ORDER BY p95_seconds DESC")).
			OverrideByRegexp(".*_seconds$", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Seconds}}),
	}}
}
