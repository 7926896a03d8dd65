package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Overview is the "Batch overview" dashboard, the one on-call opens first:
// queue depth and age, unschedulable and blocked jobs, finished jobs,
// failures, retries and spot reclaims.
type Overview struct{ Config Config }

// Build builds the dashboard.
func (d Overview) Build() (dashboard.Dashboard, error) {
	b := newDashboard(d.Config, "batchwatch-overview", "Batch overview",
		"AWS Batch queues and jobs from the batchwatch exporter: what is waiting, what is stuck, what finishes and what fails.")
	for _, v := range promJobVariables() {
		b = b.WithVariable(v)
	}
	return finish(withRows(b, overviewQueuesRow(), overviewJobsRow()).Build())
}

// promJobVariables are the variables of the Prometheus job dashboards: the
// datasource, then job_queue, job_definition and tier, each narrowing the
// next.
func promJobVariables() []cog.Builder[dashboard.VariableModel] {
	return append(promScopeVariables(),
		queryVariable(promPluginID, "job_queue", "Job queue",
			"label_values(batchwatch_queue_jobs{"+selScope+"}, job_queue)"),
		queryVariable(promPluginID, "job_definition", "Job definition",
			"label_values(batchwatch_jobs_finished_total{"+selQueue+"}, job_definition)"),
		queryVariable(promPluginID, "tier", "Tier",
			"label_values(batchwatch_jobs_finished_total{"+selQueue+"}, tier)"),
	)
}
