package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// selfExporterRow: are the exporter's numbers current?
func selfExporterRow() row {
	return row{title: "Exporter", panels: []cog.Builder[dashboard.Panel]{
		defaultStat(promPluginID).
			Title("AWS reachable").
			Description("1 when the exporter's last AWS calls succeeded. At 0 the queue metrics freeze at their last values: check credentials, endpoints and the AWS errors above.").
			Unit(units.Short).
			Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: map[string]dashboard.ValueMappingResult{
				"0": {Text: cog.ToPtr("down"), Color: cog.ToPtr("red")},
				"1": {Text: cog.ToPtr("up"), Color: cog.ToPtr("green")},
			}}}}).
			WithTarget(promQuery(`min(batchwatch_exporter_aws_up)`, "aws up")),
		defaultStat(promPluginID).
			Title("Time since the last resync").
			Description("Time since the exporter last listed every queue and status from the Batch API (events keep the numbers current in between). Much older than the resync interval means resyncs fail.").
			Unit(units.Seconds).
			WithTarget(promQuery(`time() - max(batchwatch_exporter_last_resync_timestamp_seconds)`, "since last resync")),
		defaultStat(promPluginID).
			Title("Last resync duration").
			Description("How long the last full resync (ListJobs per queue and status, paginated, then DescribeJobs) took. It grows with the number of jobs and with throttling.").
			Unit(units.Seconds).
			WithTarget(promQuery(`max(batchwatch_exporter_resync_duration_seconds)`, "resync")),
		stackedTimeseries(promPluginID).
			Title("Events applied by result").
			Description("Events the exporter consumed, by result: applied, ignored, out_of_order (older than what it knows: harmless, ordered by status rank and time) and duplicate.").
			Unit(units.EventsPerSecond).
			WithTarget(promQuery(`sum by (result) (`+rateOf("batchwatch_exporter_events_total", "")+`)`, "{{result}}")),
		defaultTimeseries(promPluginID).
			Title("Scrape collector durations").
			Description("How long each of the exporter's collectors took at the last scrape.").
			Unit(units.Seconds).
			WithTarget(promQuery(`max by (collector) (batchwatch_scrape_collector_duration_seconds)`, "{{collector}}")),
		defaultTimeseries(promPluginID).
			Title("Scrape collector success").
			Description("1 when the collector succeeded at the last scrape, 0 when it failed (its metrics are then missing from the scrape).").
			Unit(units.Short).
			Min(0).
			Max(1).
			DrawStyle(common.GraphDrawStyleLine).
			WithTarget(promQuery(`min by (collector) (batchwatch_scrape_collector_success)`, "{{collector}}")),
	}}
}
