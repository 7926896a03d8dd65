package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// capacityCostRow: what the jobs cost, estimated live from their resource
// seconds and checked against Cost Explorer.
func capacityCostRow() row {
	cost := "batchwatch_job_estimated_cost_usd_total"
	perHour := func(expr string) string { return expr + " * 3600" }
	return row{title: "Cost", panels: []cog.Builder[dashboard.Panel]{
		defaultStat(promPluginID).
			Title("Actual cost, month to date").
			Description("Month-to-date cost from Cost Explorer for the resources the exporter's cost filter selects. Cost Explorer refreshes a few times a day and lags up to 24 hours.").
			Unit(units.Dollars).
			WithTarget(promQuery(`sum(batchwatch_cost_actual_usd{period="month_to_date"})`, "month to date")),
		defaultStat(promPluginID).
			Title("Actual cost, yesterday").
			Description("Yesterday's cost from Cost Explorer (final only after about a day).").
			Unit(units.Dollars).
			WithTarget(promQuery(`sum(batchwatch_cost_actual_usd{period="yesterday"})`, "yesterday")),
		defaultStat(promPluginID).
			Title("Cost Explorer data age").
			Description("Time since the exporter last refreshed the Cost Explorer figures (each request costs USD 0.01, so it asks rarely). Older than a day means the refresh fails: see the exporter's AWS errors.").
			Unit(units.Seconds).
			Thresholds(thresholds(thresholdStep{86400, "orange"}, thresholdStep{172800, "red"})).
			WithTarget(promQuery(`time() - max(batchwatch_cost_last_refresh_timestamp_seconds)`, "age")),

		stackedTimeseries(promPluginID).
			Title("Estimated cost rate by $cost_tag").
			Description("Estimated cost per hour of the selected jobs, from their vCPU, memory and GPU seconds and the exporter's price table, grouped by the chosen cost-allocation tag. Instances idle between jobs are not included: compare with the actual cost.").
			Unit(units.Dollars).
			AxisLabel("USD per hour").
			WithTarget(promQuery(perHour(`sum by (tag_$cost_tag) (`+rateOf(cost, selCost)+`)`), "{{tag_$cost_tag}}")),
		stackedTimeseries(promPluginID).
			Title("Estimated cost rate by tier").
			Description("Estimated cost per hour of the selected jobs per size tier.").
			Unit(units.Dollars).
			AxisLabel("USD per hour").
			WithTarget(promQuery(perHour(`sum by (tier) (`+rateOf(cost, selCost)+`)`), "tier {{tier}}")),
		defaultTimeseries(promPluginID).
			Title("Estimated cost per 1,000 jobs by tier").
			Description("Estimated cost divided by finished jobs (array parents excluded), per 1,000 jobs and tier: the number to compare across releases and right-sizing changes.").
			Unit(units.Dollars).
			WithTarget(promQuery(
				`1000 * sum by (tier) (`+rateOf(cost, selCost)+`) / sum by (tier) (`+rateOf("batchwatch_jobs_finished_total", selCost+`, kind!="array_parent"`)+`)`,
				"tier {{tier}}")),
		defaultTimeseries(promPluginID).
			Title("Estimated against actual cost").
			Description("Estimated cost per hour of all jobs against Cost Explorer's actual cost of yesterday spread over 24 hours. Actual above estimate is capacity paid for and not used by jobs (idle instances, minimum vCPUs) or prices missing from the price table.").
			Unit(units.Dollars).
			AxisLabel("USD per hour").
			WithTarget(promQuery(perHour(`sum(`+rateOf(cost, `job_queue=~".*"`)+`)`), "estimated")).
			WithTarget(promQuery(`sum(batchwatch_cost_actual_usd{period="yesterday"}) / 24`, "actual (yesterday / 24)")),
		defaultTable(promPluginID).
			Title("Actual cost by $cost_tag").
			Description("Cost Explorer's figures per value of the chosen cost-allocation tag (the tag must be activated as a cost-allocation tag in the billing console; untagged cost shows with an empty value).").
			Span(halfWidth).
			Unit(units.Dollars).
			WithTarget(promTableQuery(`sum by (period, tag_$cost_tag) (batchwatch_cost_actual_usd)`, "A")).
			WithTransformation(organize(map[string]string{
				"period": "Period", "tag_$cost_tag": "$cost_tag", "Value": "USD",
			}, []string{"period", "tag_$cost_tag", "Value"}, "Time")),
		stackedTimeseries(promPluginID).
			Title("Busy vCPUs by $cost_tag").
			Description("vCPUs the selected jobs kept busy on average, per value of the chosen cost-allocation tag: who uses the capacity.").
			Span(halfWidth).
			Unit(units.Short).
			WithTarget(promQuery(`sum by (tag_$cost_tag) (`+rateOf("batchwatch_job_vcpu_seconds_total", selCost)+`)`, "{{tag_$cost_tag}}")),
	}}
}
