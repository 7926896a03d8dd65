package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// historyUsageRow: who used the capacity, by cost-allocation tag.
func historyUsageRow(cfg Config) row {
	// Finished attempts that started in the range, from attempts_by_day
	// without FINAL: a finished row is its attempt's latest state, and
	// argMax by version folds its duplicates as FINAL would.
	attempts := "FROM (SELECT job_queue, job_id, attempt, job_definition, tag_keys, tag_values, started_at," +
		" argMax(vcpus, version) AS vcpus, argMax(memory_mib, version) AS memory_mib, argMax(gpus, version) AS gpus," +
		" argMax(duration_ms, version) AS duration_ms FROM $database.attempts_by_day" +
		" WHERE created_at >= $__fromTime - INTERVAL 14 DAY AND created_at <= $__toTime AND $__timeFilter(started_at) AND finished = 1" +
		" GROUP BY job_queue, job_id, attempt, job_definition, tag_keys, tag_values, started_at) WHERE " + chAttemptsFilter(cfg)
	return row{title: "Usage", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("vCPU-hours by $cost_tag").
			Description("Resources reserved by the finished attempts that started in the range, per value of the chosen cost-allocation tag: vCPU-hours, memory GiB-hours and GPU-hours are requested size times run time, retries included. An empty value is untagged work.").
			Span(halfWidth).
			WithTarget(chQuery("SELECT "+tagValue("${cost_tag}")+" AS tag, uniqExact(job_id) AS jobs, count() AS attempts,"+
				" sum(vcpus * duration_ms) / 3600000 AS vcpu_hours, sum(memory_mib * duration_ms) / 1024 / 3600000 AS memory_gib_hours,"+
				" sum(gpus * duration_ms) / 3600000 AS gpu_hours "+attempts+" GROUP BY tag ORDER BY vcpu_hours DESC")).
			OverrideByName("tag", []dashboard.DynamicConfigValue{{Id: "displayName", Value: "$cost_tag"}}).
			OverrideByRegexp(".*_hours$", []dashboard.DynamicConfigValue{{Id: "decimals", Value: 1}}),
		barsTimeseries(clickhousePluginID).
			Title("vCPU-hours per hour by $cost_tag").
			Description("vCPU-hours of the finished attempts started in each hour, per value of the chosen cost-allocation tag.").
			Span(halfWidth).
			Unit(units.Short).
			DisplayName("${__field.labels.tag}").
			WithTarget(chSeries("SELECT toStartOfHour(started_at) AS time, " + tagValue("${cost_tag}") + " AS tag," +
				" sum(vcpus * duration_ms) / 3600000 AS vcpu_hours " + attempts + " GROUP BY time, tag ORDER BY time")),
	}}
}
