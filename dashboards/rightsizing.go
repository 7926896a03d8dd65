package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// RightSizing is the "Right-sizing (ClickHouse)" dashboard: what wrapped
// jobs (batchwatch-run, docs/usage.md) asked for against what they used, per
// job definition and tier, the requested-but-unused vCPU-hours and GiB-hours,
// and the attempts that ran out of memory or nearly did. `batchwatch
// rightsize` turns the same history into requests rounded to values Batch
// and Fargate accept, with the saving.
type RightSizing struct{ Config Config }

// Build builds the dashboard.
func (d RightSizing) Build() (dashboard.Dashboard, error) {
	cfg := d.Config
	b := newDashboard(cfg, "batchwatch-rightsizing", "Right-sizing (ClickHouse)",
		"Requested against used memory and CPU of jobs wrapped in batchwatch-run, per job definition and tier: p50/p95/max, the p95 plus headroom, unused vCPU- and GiB-hours, OOM kills and near misses.")
	b = withSelectionVariables(b, cfg, "attempts", "$__timeFilter(started_at) AND "+chAttemptsScope()).
		WithVariable(dashboard.NewCustomVariableBuilder("headroom").
			Label("Headroom").
			Description("Headroom above the p95 of what was used, as batchwatch rightsize --headroom.").
			Values(dashboard.StringOrMap{String: cog.ToPtr("0.1,0.2,0.3,0.5")}).
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("0.2")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("0.2")}}))
	return finish(withRows(b,
		rightSizingRequestsRow(cfg),
		rightSizingMemoryRow(cfg),
	).Build())
}

// usageJoin is attempts (what was asked for) joined with usage (what was
// used), both FINAL, for the attempts that started in the range and pass the
// variables. The usage side names only its own measures, so the other
// columns (job_queue, started_at, …) are the attempts'.
func usageJoin(cfg Config) string {
	return " FROM $database.attempts FINAL INNER JOIN (SELECT job_id, attempt, memory_peak_bytes, cpu_mean_vcpus, cpu_p95_vcpus," +
		" wall_seconds, oom_killed FROM $database.usage FINAL WHERE $__timeFilter(started_at)) AS u USING (job_id, attempt)" +
		" WHERE $__timeFilter(started_at) AND finished = 1 AND " + chAttemptsFilter(cfg)
}

// rightSizingRequestsRow: requested vs used per definition and tier, and the
// unused reservation over time.
func rightSizingRequestsRow(cfg Config) row {
	tier := tagValue(cfg.TierTag)
	return row{title: "Requested vs used", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("Requested vs used, per job definition and tier").
			Description("Per job definition and tier, over the wrapped attempts that started in the range: the request most of them made, what they used (memory peak in MiB, each attempt's CPU p95 in vCPUs) at p50, p95 and max, the p95 plus the chosen headroom (before rounding to values Batch accepts: batchwatch rightsize does that), the share killed for memory, and the requested-but-unused vCPU-hours and GiB-hours.").
			Span(fullWidth).
			WithTarget(chQuery("SELECT job_definition AS definition, "+tier+" AS tier_value, count() AS attempts,"+
				" topK(1)(memory_mib)[1] AS requested_mib, round(quantileTDigest(0.5)(memory_peak_bytes) / 1048576) AS used_mib_p50,"+
				" round(quantileTDigest(0.95)(memory_peak_bytes) / 1048576) AS used_mib_p95, round(max(memory_peak_bytes) / 1048576) AS used_mib_max,"+
				" round(used_mib_p95 * (1 + $headroom)) AS p95_plus_headroom_mib,"+
				" topK(1)(vcpus)[1] AS requested_vcpus, round(quantileTDigest(0.5)(cpu_p95_vcpus), 2) AS used_vcpus_p50,"+
				" round(quantileTDigest(0.95)(cpu_p95_vcpus), 2) AS used_vcpus_p95, round(used_vcpus_p95 * (1 + $headroom), 2) AS p95_plus_headroom_vcpus,"+
				" round(100 * countIf(oom_killed = 1) / count(), 1) AS oom_percent,"+
				" round(sum(greatest(vcpus - cpu_mean_vcpus, 0) * wall_seconds) / 3600, 1) AS unused_vcpu_hours,"+
				" round(sum(greatest(memory_mib / 1024 - memory_peak_bytes / 1073741824, 0) * wall_seconds) / 3600, 1) AS unused_gib_hours"+
				usageJoin(cfg)+" GROUP BY definition, tier_value ORDER BY unused_gib_hours DESC")).
			OverrideByName("tier_value", []dashboard.DynamicConfigValue{{Id: "displayName", Value: "tier"}}).
			OverrideByName("oom_percent", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Percent}}),
		barsTimeseries(clickhousePluginID).
			Title("Unused GiB-hours per hour, by job definition").
			Description("Memory reserved but not used by the wrapped attempts that started in each hour: (request − peak) × run time. The peak is the attempt's highest, so this is the least that was idle.").
			Span(halfWidth).
			Unit(units.Short).
			DisplayName("${__field.labels.definition}").
			WithTarget(chSeries("SELECT toStartOfHour(started_at) AS time, job_definition AS definition," +
				" sum(greatest(memory_mib / 1024 - memory_peak_bytes / 1073741824, 0) * wall_seconds) / 3600 AS unused_gib_hours" +
				usageJoin(cfg) + " GROUP BY time, definition ORDER BY time")),
		barsTimeseries(clickhousePluginID).
			Title("Unused vCPU-hours per hour, by job definition").
			Description("vCPUs reserved but not used on average by the wrapped attempts that started in each hour: (request − mean use) × run time.").
			Span(halfWidth).
			Unit(units.Short).
			DisplayName("${__field.labels.definition}").
			WithTarget(chSeries("SELECT toStartOfHour(started_at) AS time, job_definition AS definition," +
				" sum(greatest(vcpus - cpu_mean_vcpus, 0) * wall_seconds) / 3600 AS unused_vcpu_hours" +
				usageJoin(cfg) + " GROUP BY time, definition ORDER BY time")),
	}}
}

// rightSizingMemoryRow: who ran out of memory, and who nearly did.
func rightSizingMemoryRow(cfg Config) row {
	return row{title: "Out of memory", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(clickhousePluginID).
			Title("Attempts within 10 % of their memory").
			Description("Wrapped attempts whose memory peak reached 90 % of the request or more, the ones the kernel killed included (their peak is the limit): the jobs about to run out of memory. Raise these definitions first.").
			Span(halfWidth).
			WithTarget(chQuery("SELECT job_definition AS definition, job_id, attempt, memory_mib AS requested_mib,"+
				" round(memory_peak_bytes / 1048576) AS peak_mib, round(100 * memory_peak_bytes / (memory_mib * 1048576), 1) AS peak_percent,"+
				" oom_killed"+usageJoin(cfg)+" AND memory_mib > 0 AND memory_peak_bytes >= 0.9 * memory_mib * 1048576"+
				" ORDER BY peak_percent DESC LIMIT 100")).
			OverrideByName("peak_percent", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Percent}}),
		barsTimeseries(clickhousePluginID).
			Title("OOM kills per hour, by job definition").
			Description("Wrapped attempts the kernel killed for memory, by the hour they started.").
			Span(halfWidth).
			Unit(units.Short).
			DisplayName("${__field.labels.definition}").
			WithTarget(chSeries("SELECT toStartOfHour(started_at) AS time, job_definition AS definition, countIf(oom_killed = 1) AS oom_kills" +
				usageJoin(cfg) + " GROUP BY time, definition ORDER BY time")),
	}}
}
