package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// historySummaryRow: the range in four numbers.
func historySummaryRow(cfg Config) row {
	jobs := "FROM $database.jobs_by_day FINAL WHERE $__timeFilter(created_at) AND is_array_parent = 0 AND " + chFilter(cfg)
	return row{title: "Summary", panels: []cog.Builder[dashboard.Panel]{
		defaultStat(clickhousePluginID).
			Title("Jobs created").
			Description("Jobs created in the time range (array children count, parents do not), as far as ingest has seen them: the first event of a job is usually PENDING or RUNNABLE, never SUBMITTED.").
			Span(5).
			Unit(units.Short).
			GraphMode(common.BigValueGraphModeNone).
			WithTarget(chQuery("SELECT count() AS jobs " + jobs)),
		defaultStat(clickhousePluginID).
			Title("Failed jobs").
			Description("Jobs created in the time range whose latest status is FAILED (cancelled and terminated jobs included).").
			Span(5).
			Unit(units.Short).
			GraphMode(common.BigValueGraphModeNone).
			Thresholds(thresholds(thresholdStep{1, "orange"})).
			WithTarget(chQuery("SELECT count() AS failed " + jobs + " AND status = 'FAILED'")),
		defaultStat(clickhousePluginID).
			Title("Median queue wait").
			Description("Median time from creation to the first start of the jobs created in the time range that have started.").
			Span(5).
			Unit(units.Seconds).
			GraphMode(common.BigValueGraphModeNone).
			WithTarget(chQuery("SELECT quantileTDigest(0.5)(queue_wait_ms) / 1000 AS median_wait_seconds " + jobs + " AND queue_wait_ms >= 0")),
		defaultStat(clickhousePluginID).
			Title("Quarantined messages").
			Description("Messages ingest could not parse in the time range, kept whole in the quarantine table: query it for the body and the error, fix the parser, then replay them.").
			Span(5).
			Unit(units.Short).
			GraphMode(common.BigValueGraphModeNone).
			Thresholds(thresholds(thresholdStep{1, "red"})).
			WithTarget(chQuery("SELECT count() AS quarantined FROM $database.quarantine FINAL WHERE $__timeFilter(received_at)")),
		defaultStat(clickhousePluginID).
			Title("Newest event").
			Description("When the newest event in ClickHouse happened, whatever the time range: how fresh everything on this dashboard is. Minutes old while jobs run means ingest is behind or stopped (see the self-monitoring dashboard); days old, that nothing reaches it. Only the last 7 days are searched.").
			Span(4).
			Unit(units.DateTimeFromNow).
			GraphMode(common.BigValueGraphModeNone).
			WithTarget(chQuery(newestEventSQL())),
	}}
}

// newestEventSQL finds the time of the newest event. It reads events
// without FINAL: a duplicate does not change a max(), and FINAL would merge
// a week of events on every refresh.
func newestEventSQL() string {
	return "SELECT toUnixTimestamp(max(event_time)) * 1000 AS newest_event FROM $database.events" +
		" WHERE event_time >= now() - INTERVAL 7 DAY AND " + chScopeFilter()
}
