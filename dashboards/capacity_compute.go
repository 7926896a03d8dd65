package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// capacityComputeRow: how much capacity the compute environments have, how
// much they are asked for, and how much the jobs use.
func capacityComputeRow() row {
	return row{title: "Compute environments", panels: []cog.Builder[dashboard.Panel]{
		defaultTimeseries(promPluginID).
			Title("Desired vCPUs against min and max").
			Description("Desired vCPUs per managed compute environment (what Batch scales to), with its minimum and maximum. Desired stuck at max while jobs are RUNNABLE means the environment is full; raise max vCPUs or add an environment.").
			Unit(units.Short).
			WithTarget(promQuery(`max by (compute_environment) (batchwatch_compute_environment_desired_vcpus{`+selCE+`})`, "{{compute_environment}} desired")).
			WithTarget(promQuery(`max by (compute_environment) (batchwatch_compute_environment_max_vcpus{`+selCE+`})`, "{{compute_environment}} max")).
			WithTarget(promQuery(`max by (compute_environment) (batchwatch_compute_environment_min_vcpus{`+selCE+`})`, "{{compute_environment}} min")).
			OverrideByRegexp(".* (max|min)$", []dashboard.DynamicConfigValue{
				{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
				{Id: "custom.fillOpacity", Value: 0},
			}),
		stackedTimeseries(promPluginID).
			Title("Busy vCPUs by capacity type").
			Description("vCPUs the selected jobs kept busy on average (vCPU-seconds per second) on on-demand, spot and Fargate capacity. Compare with desired vCPUs: the gap is capacity paid for and idle.").
			Unit(units.Short).
			WithTarget(promQuery(`sum by (capacity) (`+rateOf("batchwatch_job_vcpu_seconds_total", selCost)+`)`, "{{capacity}}")),
		defaultTable(promPluginID).
			Title("Compute environments").
			Description("Each compute environment's type, capacity, state (ENABLED/DISABLED) and status (VALID, INVALID, UPDATING…) with its current and maximum vCPUs. An INVALID environment launches nothing: its status reason is in the AWS console.").
			WithTarget(promTableQuery(`max by (compute_environment, type, capacity) (batchwatch_compute_environment_info{`+selCE+`})`, "A")).
			WithTarget(promTableQuery(`max by (compute_environment, state, status) (batchwatch_compute_environment_state{`+selCE+`} == 1)`, "B")).
			WithTarget(promTableQuery(`max by (compute_environment) (batchwatch_compute_environment_desired_vcpus{`+selCE+`})`, "C")).
			WithTarget(promTableQuery(`max by (compute_environment) (batchwatch_compute_environment_max_vcpus{`+selCE+`})`, "D")).
			WithTransformation(joinByField("compute_environment")).
			WithTransformation(organize(map[string]string{
				"compute_environment": "Compute environment", "type": "Type", "capacity": "Capacity",
				"state": "State", "status": "Status", "Value #C": "Desired vCPUs", "Value #D": "Max vCPUs",
			}, []string{"compute_environment", "type", "capacity", "state", "status", "Value #C", "Value #D"},
				"Time 1", "Time 2", "Time 3", "Time 4", "Value #A", "Value #B")).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Compute environment"),
			}),
	}}
}
