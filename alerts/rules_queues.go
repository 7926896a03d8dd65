package alerts

import "fmt"

// queueRules watch the queues and compute environments: jobs that wait
// or will never run, and queues or environments that cannot run any.
func (c Config) queueRules() []Rule {
	exp := c.ExporterSelector
	return []Rule{
		c.alert("BatchwatchJobsStuckRunnable", SeverityWarning, c.StuckRunnable.For, fmt.Sprintf(`
max by (region, account, job_queue) (batchwatch_queue_oldest_job_age_seconds{%s, status="RUNNABLE"}) > %s`,
			exp, num(c.StuckRunnable.Value)),
			"Jobs have waited in RUNNABLE for too long.",
			fmt.Sprintf(`The oldest RUNNABLE job of queue {{ $labels.job_queue }} has waited {{ $value | humanizeDuration }} for capacity (threshold %s).`, humanizeSeconds(c.StuckRunnable.Value))),
		c.alert("BatchwatchJobsStuckStarting", SeverityWarning, c.StuckStarting.For, fmt.Sprintf(`
max by (region, account, job_queue) (batchwatch_queue_oldest_job_age_seconds{%s, status="STARTING"}) > %s`,
			exp, num(c.StuckStarting.Value)),
			"Jobs have been STARTING for too long.",
			fmt.Sprintf(`The oldest STARTING job of queue {{ $labels.job_queue }} has been starting for {{ $value | humanizeDuration }} (threshold %s): image pulls or instance start-up are failing or slow.`, humanizeSeconds(c.StuckStarting.Value))),
		c.alert("BatchwatchUnschedulableJobs", SeverityWarning, c.Unschedulable.For, fmt.Sprintf(`
max by (region, account, job_queue, resource) (batchwatch_queue_unschedulable_jobs{%s}) > %s`,
			exp, num(c.Unschedulable.Value)),
			"Jobs request more than any instance of their queue can offer.",
			`{{ $value | printf "%.0f" }} RUNNABLE jobs of queue {{ $labels.job_queue }} `+
				`{{ if eq $labels.resource "combination" }}request vCPUs, memory and GPUs that no single instance type of its compute environments offers together; they will never run.`+
				`{{ else }}request more {{ $labels.resource }} than any instance type its compute environments can launch; they will never run. `+
				`The largest {{ $labels.resource }} request that fits is {{ with printf `+"`"+`max(batchwatch_queue_max_schedulable{`+exp+`, account=%q, job_queue=%q, resource=%q})`+"`"+` $labels.account $labels.job_queue $labels.resource | query }}{{ . | first | value }}{{ else }}unknown{{ end }}.{{ end }}`),
		c.alert("BatchwatchQueueBlocked", SeverityWarning, c.QueueBlocked.For, fmt.Sprintf(`
max by (region, account, job_queue, reason) (sum by (region, account, job_queue, reason, instance) (increase(batchwatch_queue_blocked_events_total{%s}[%s]))) > %s`,
			exp, c.QueueBlocked.Window, num(c.QueueBlocked.Value)),
			"AWS Batch reports a blocked job queue.",
			fmt.Sprintf(`AWS Batch reported queue {{ $labels.job_queue }} blocked ({{ $labels.reason }}): {{ $value | printf "%%.0f" }} blocked events in the last %s. The job at its head cannot be placed.`, c.QueueBlocked.Window)),
		c.alert("BatchwatchQueueDisabled", SeverityWarning, c.QueueDisabled.For, fmt.Sprintf(`
max by (region, account, job_queue) (batchwatch_queue_info{%s, state="DISABLED"}) == 1`, exp),
			"A job queue is DISABLED.",
			`Job queue {{ $labels.job_queue }} is DISABLED: it accepts no new jobs (SubmitJob fails) while the jobs in it still run.`),
		c.alert("BatchwatchComputeEnvironmentInvalid", SeverityWarning, c.ComputeEnvironmentInvalid.For, fmt.Sprintf(`
max by (compute_environment) (batchwatch_compute_environment_state{%s, status="INVALID"}) == 1`, exp),
			"A compute environment is INVALID.",
			`Compute environment {{ $labels.compute_environment }} is INVALID: it launches no instances, and jobs of the queues that depend on it alone stay RUNNABLE. Its statusReason in the Batch console says why (service role, subnets, launch template, instance types).`),
		c.alert("BatchwatchComputeEnvironmentDisabled", SeverityWarning, c.ComputeEnvironmentDisabled.For, fmt.Sprintf(`
max by (compute_environment) (batchwatch_compute_environment_state{%s, state="DISABLED"}) == 1`, exp),
			"A compute environment is DISABLED.",
			`Compute environment {{ $labels.compute_environment }} is DISABLED: Batch places no new jobs on it and scales it down.`),
	}
}

// pipelineRules watch the SQS queues that carry Batch events to ingest
// and the exporter, and their dead-letter queues.
func (c Config) pipelineRules() []Rule {
	exp := c.ExporterSelector
	return []Rule{
		c.alert("BatchwatchSQSBacklog", SeverityWarning, c.SQSVisible.For, fmt.Sprintf(`
max by (queue) (batchwatch_sqs_queue_messages{%s, dead_letter="false", state="visible"}) > %s`, exp, num(c.SQSVisible.Value)),
			"Batch events pile up in an SQS queue.",
			fmt.Sprintf(`SQS queue {{ $labels.queue }} holds {{ $value | printf "%%.0f" }} visible messages (threshold %s): its consumer is down or slower than Batch's events.`, num(c.SQSVisible.Value))),
		c.alert("BatchwatchSQSInFlightHigh", SeverityWarning, c.SQSInFlight.For, fmt.Sprintf(`
max by (queue) (batchwatch_sqs_queue_messages{%s, dead_letter="false", state="in_flight"}) > %s`, exp, num(c.SQSInFlight.Value)),
			"Many messages of an SQS queue are received and not deleted.",
			fmt.Sprintf(`SQS queue {{ $labels.queue }} has {{ $value | printf "%%.0f" }} messages in flight (threshold %s): its consumer receives them but does not delete them (a stuck insert, or messages it cannot process); they will reach the dead-letter queue.`, num(c.SQSInFlight.Value))),
		c.alert("BatchwatchDeadLetterMessages", SeverityWarning, c.DeadLetter.For, fmt.Sprintf(`
sum by (queue) (batchwatch_sqs_queue_messages{%s, dead_letter="true"}) > %s`, exp, num(c.DeadLetter.Value)),
			"Batch events reached a dead-letter queue.",
			`Dead-letter queue {{ $labels.queue }} holds {{ $value | printf "%.0f" }} messages: Batch events that their consumer failed to process too many times. They are missing from ClickHouse (ingest) or were never counted (exporter) until redriven.`),
	}
}
