package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// WaitRun is the "Wait and run times" dashboard: percentiles of the queue
// wait, attempt and total duration histograms by queue, job definition and
// tier, and their heatmaps.
type WaitRun struct{ Config Config }

// Build builds the dashboard.
func (d WaitRun) Build() (dashboard.Dashboard, error) {
	b := newDashboard(d.Config, "batchwatch-wait-run", "Wait and run times",
		"How long AWS Batch jobs wait for capacity and how long they run, from the exporter's histograms (buckets from 1 s to 1 day).")
	for _, v := range promJobVariables() {
		b = b.WithVariable(v)
	}
	return finish(withRows(b,
		durationRow("Queue wait", "batchwatch_job_queue_wait_seconds",
			"queue wait (creation to first start)",
			"Jobs wait in SUBMITTED, PENDING and RUNNABLE until their first attempt starts. Long waits mean too little capacity (compute environment max vCPUs, instance availability) or lower queue priority."),
		durationRow("Attempt run time", "batchwatch_job_attempt_duration_seconds",
			"attempt run time (start to stop, per finished attempt)",
			"Each finished attempt counts once, including attempts that failed and were retried."),
		durationRow("Total time", "batchwatch_job_total_duration_seconds",
			"total time (creation to final stop)",
			"What the submitter experiences: waiting, every attempt and every retry."),
	).Build())
}
