package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// durationRow is one row of the wait and run times dashboard for one
// histogram: p50/p95/p99 per queue, p95 per job definition and per tier,
// and the heatmap of all selected jobs. The three rows share this file
// because they differ only in the histogram.
func durationRow(title, histogram, what, why string) row {
	byQueue := defaultTimeseries(promPluginID).
		Title(title + " p50 / p95 / p99 by queue").
		Description("Percentiles of the " + what + " per job queue. " + why).
		Unit(units.Seconds)
	for _, q := range []struct {
		q    float64
		name string
	}{{0.5, "p50"}, {0.95, "p95"}, {0.99, "p99"}} {
		byQueue = byQueue.WithTarget(promQuery(quantileOf(q.q, histogram, "job_queue", selJob), q.name+" {{job_queue}}"))
	}
	return row{title: title, panels: []cog.Builder[dashboard.Panel]{
		byQueue,
		defaultHeatmap(promPluginID).
			Title(title + " distribution").
			Description("Jobs per bucket of the " + what + " over time, all selected queues together: a second band shows a second population (another tier, retries, a different instance type).").
			WithTarget(promHeatmapQuery(`sum by (le) (` + increaseOf(histogram+"_bucket", selJob) + `)`)),
		defaultTimeseries(promPluginID).
			Title(title + " p95 by job definition").
			Description("95th percentile of the " + what + " per job definition (name without revision).").
			Unit(units.Seconds).
			WithTarget(promQuery(quantileOf(0.95, histogram, "job_definition", selJob), "{{job_definition}}")),
		defaultTimeseries(promPluginID).
			Title(title + " p95 by tier").
			Description("95th percentile of the " + what + " per size tier (from the job's tier tag; empty when the job has none).").
			Unit(units.Seconds).
			WithTarget(promQuery(quantileOf(0.95, histogram, "tier", selJob), "tier {{tier}}")),
	}}
}
