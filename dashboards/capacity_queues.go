package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// capacityQueuesRow: the queues' settings, which decide who gets capacity
// first.
func capacityQueuesRow() row {
	return row{title: "Job queues", panels: []cog.Builder[dashboard.Panel]{
		defaultTable(promPluginID).
			Title("Job queues").
			Description("Each queue's state, status and priority (0-1000, higher is scheduled first among queues sharing a compute environment). A DISABLED queue accepts no new jobs.").
			Span(halfWidth).
			WithTarget(promTableQuery(`max by (job_queue, state, status) (batchwatch_queue_info{`+selQueue+`})`, "A")).
			WithTarget(promTableQuery(`max by (job_queue) (batchwatch_queue_priority{`+selQueue+`})`, "B")).
			WithTransformation(joinByField("job_queue")).
			WithTransformation(organize(map[string]string{
				"job_queue": "Queue", "state": "State", "status": "Status", "Value #B": "Priority",
			}, []string{"job_queue", "state", "status", "Value #B"}, "Time 1", "Time 2", "Value #A")).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Priority").Desc(true),
			}),
		defaultTable(promPluginID).
			Title("Queue compute environments").
			Description("The compute environments of each queue in the order Batch tries them (spot first, on-demand as fallback is the usual setup; up to three per queue).").
			Span(halfWidth).
			WithTarget(promTableQuery(`max by (job_queue, order, compute_environment) (batchwatch_queue_compute_environment_info{`+selQueue+`})`, "A")).
			WithTransformation(organize(map[string]string{
				"job_queue": "Queue", "order": "Order", "compute_environment": "Compute environment",
			}, []string{"job_queue", "order", "compute_environment"}, "Time", "Value")).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Queue"),
			}),
	}}
}
