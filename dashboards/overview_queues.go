package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// overviewQueuesRow: what is waiting in the queues, for how long, and why
// some of it will never run.
func overviewQueuesRow() row {
	active := `status=~"SUBMITTED|PENDING|RUNNABLE|STARTING|RUNNING"`
	return row{title: "Queues", panels: []cog.Builder[dashboard.Panel]{
		defaultStat(promPluginID).
			Title("Runnable jobs").
			Description("Jobs waiting for capacity (RUNNABLE) in the selected queues, array children excluded.").
			Span(6).
			Unit(units.Short).
			WithTarget(promQuery(`sum(batchwatch_queue_jobs{status="RUNNABLE", `+selQueue+`})`, "runnable")),
		defaultStat(promPluginID).
			Title("Running jobs").
			Description("Jobs in STARTING or RUNNING in the selected queues, array children excluded.").
			Span(6).
			Unit(units.Short).
			WithTarget(promQuery(`sum(batchwatch_queue_jobs{status=~"STARTING|RUNNING", `+selQueue+`})`, "running")),
		defaultStat(promPluginID).
			Title("Oldest RUNNABLE job").
			Description("How long the oldest RUNNABLE job of the selected queues has been waiting. Past 30 minutes something is usually wrong: no capacity, a compute environment at its maximum, or a job no instance can hold.").
			Span(6).
			Unit(units.Seconds).
			Thresholds(thresholds(thresholdStep{900, "orange"}, thresholdStep{1800, "red"})).
			WithTarget(promQuery(`max(batchwatch_queue_oldest_job_age_seconds{status="RUNNABLE", `+selQueue+`})`, "oldest")),
		defaultStat(promPluginID).
			Title("Unschedulable jobs").
			Description("RUNNABLE jobs that ask for more vCPUs, memory or GPUs than any instance type their queue's compute environments can launch. They never run: fix the job definition or the compute environment.").
			Span(6).
			Unit(units.Short).
			Thresholds(thresholds(thresholdStep{1, "red"})).
			WithTarget(promQuery(`sum(batchwatch_queue_unschedulable_jobs{`+selQueue+`})`, "unschedulable")),

		stackedTimeseries(promPluginID).
			Title("Jobs by queue and status").
			Description("Jobs per queue in each non-final status (array children are counted separately, below). RUNNABLE means waiting for capacity, PENDING waiting for dependencies.").
			Unit(units.Short).
			WithTarget(promQuery(`sum by (job_queue, status) (batchwatch_queue_jobs{`+active+`, `+selQueue+`})`, "{{job_queue}} {{status}}")),
		defaultTimeseries(promPluginID).
			Title("Oldest RUNNABLE and STARTING job").
			Description("Age of the oldest job in RUNNABLE and in STARTING per queue (time since it entered that status). A rising line is a queue that does not move; STARTING that stays high points to image pulls or instance start-up.").
			Unit(units.Seconds).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)).
			Thresholds(thresholds(thresholdStep{1800, "red"})).
			WithTarget(promQuery(`max by (job_queue, status) (batchwatch_queue_oldest_job_age_seconds{status=~"RUNNABLE|STARTING", `+selQueue+`})`, "{{job_queue}} {{status}}")),

		defaultTable(promPluginID).
			Title("Unschedulable jobs and the largest request that fits").
			Description("Per queue and resource: RUNNABLE jobs whose request exceeds every instance type the queue can launch, beside the largest request that would fit (vCPUs, MiB after the container agent's reserve, GPUs), which is the value to put in the job definition. 'combination' counts jobs whose vCPUs, memory and GPUs each fit some type but no type all together.").
			WithTarget(promTableQuery(`sum by (job_queue, resource) (batchwatch_queue_unschedulable_jobs{`+selQueue+`})`, "A")).
			WithTarget(promTableQuery(`max by (job_queue, resource) (batchwatch_queue_max_schedulable{`+selQueue+`})`, "B")).
			WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
			WithTransformation(organize(map[string]string{
				"job_queue": "Queue", "resource": "Resource",
				"Value #A": "Unschedulable jobs", "Value #B": "Largest request that fits",
			}, []string{"job_queue", "resource", "Value #A", "Value #B"}, "Time")).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Unschedulable jobs").Desc(true),
			}),

		barsTimeseries(promPluginID).
			Title("Queue blocked events by reason").
			Description("'Batch Job Queue Blocked' events per queue and reason. MISCONFIGURATION reasons need a change (job resources, compute environment maximum, service role); CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY means EC2 could not supply the instance types.").
			Unit(units.Short).
			NoValue("0").
			WithTarget(promQuery(`sum by (job_queue, reason) (`+increaseOf("batchwatch_queue_blocked_events_total", selQueue)+`)`, "{{job_queue}} {{reason}}")),
		stackedTimeseries(promPluginID).
			Title("Array children by status").
			Description("Children of array jobs per status in the selected queues; the parents are counted in 'Jobs by queue and status'.").
			Unit(units.Short).
			WithTarget(promQuery(`sum by (status) (batchwatch_queue_array_child_jobs{`+active+`, `+selQueue+`})`, "{{status}}")),
	}}
}
