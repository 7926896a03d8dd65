package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// CapacityCost is the "Capacity and cost" dashboard: compute environments
// (desired, min and max vCPUs, state), queue settings, the estimated cost
// rate by tag and tier, cost per 1,000 jobs, and the estimate against Cost
// Explorer's actual figures.
type CapacityCost struct{ Config Config }

// Build builds the dashboard.
func (d CapacityCost) Build() (dashboard.Dashboard, error) {
	b := newDashboard(d.Config, "batchwatch-capacity-cost", "Capacity and cost",
		"Compute environments and queues as AWS Batch reports them, and what the jobs cost: estimated from vCPU, memory and GPU seconds with the exporter's price table, and actual from Cost Explorer.")
	for _, v := range promScopeVariables() {
		b = b.WithVariable(v)
	}
	b = b.WithVariable(queryVariable(promPluginID, "job_queue", "Job queue",
		"label_values(batchwatch_queue_jobs{"+selScope+"}, job_queue)")).
		WithVariable(queryVariable(promPluginID, "compute_environment", "Compute environment",
			"label_values(batchwatch_compute_environment_desired_vcpus{"+selScope+"}, compute_environment)")).
		WithVariable(queryVariable(promPluginID, "tier", "Tier",
			"label_values(batchwatch_job_vcpu_seconds_total{"+selQueue+"}, tier)")).
		WithVariable(costTagVariable(d.Config))
	return finish(withRows(b, capacityComputeRow(), capacityQueuesRow(), capacityCostRow()).Build())
}
