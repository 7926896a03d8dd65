package alerts

import (
	"fmt"
	"strings"
)

// exporterRules watch the pager itself: a heartbeat, the exporter's
// scrape, its resyncs and AWS calls, the Batch API budget, its collectors
// and the scrape targets.
func (c Config) exporterRules() []Rule {
	exp, ing := c.ExporterSelector, c.IngestSelector
	return []Rule{
		c.alert("BatchwatchWatchdog", SeverityInfo, d(60e9), "vector(1)",
			"Always firing: the heartbeat of the alerting pipeline.",
			`Prometheus {{ $externalURL }} evaluates batchwatch's rules and reaches Alertmanager. This alert always fires and goes to the heartbeat receiver, a dead man's switch: when the heartbeats stop, the pager is blind.`),
		c.alert("BatchwatchExporterDown", SeverityCritical, c.ExporterDown.For, fmt.Sprintf(`
up{%s} == 0 or absent(up{%s})`, exp, exp),
			"Prometheus cannot scrape the batchwatch exporter.",
			fmt.Sprintf(`{{ if $labels.instance }}Prometheus has failed to scrape exporter {{ $labels.instance }}{{ else }}Prometheus has no exporter target (%s){{ end }} for %s: failure-spike pages cannot fire.`, exp, c.ExporterDown.For)),
		c.alert("BatchwatchExporterResyncStale", SeverityCritical, c.ResyncStale.For, fmt.Sprintf(`
time() - batchwatch_exporter_last_resync_timestamp_seconds{%s} > %s`,
			exp, num(c.ResyncStale.Value)),
			"The exporter has not resynced with AWS Batch.",
			fmt.Sprintf(`Exporter {{ $labels.instance }} last listed the queues {{ $value | humanizeDuration }} ago (threshold %s): queue metrics drift from AWS.`, humanizeSeconds(c.ResyncStale.Value))),
		c.awsDown(),
		c.alert("BatchwatchBatchAPIThrottling", SeverityWarning, c.Throttling.For, fmt.Sprintf(`
sum by (job, instance, operation) (rate({__name__=~"batchwatch_.+_aws_throttled_requests_total", service="Batch"}[%s]))
/
sum by (job, instance, operation) (rate({__name__=~"batchwatch_.+_aws_requests_total", service="Batch"}[%s]))
> %s`,
			c.Throttling.Window, c.Throttling.Window, num(c.Throttling.Value)),
			"AWS throttles batchwatch's Batch API calls.",
			fmt.Sprintf(`{{ $value | humanizePercentage }} of the Batch {{ $labels.operation }} requests of {{ $labels.job }} {{ $labels.instance }} were throttled over %s (threshold %s). The account's Batch API budget (about 50 requests per second) is shared with job submission.`, c.Throttling.Window, pct(c.Throttling.Value))),
		c.alert("BatchwatchExporterCollectorFailing", SeverityWarning, c.Collector.For, fmt.Sprintf(`
batchwatch_scrape_collector_success{%s} == %s`,
			exp, num(c.Collector.Value)),
			"An exporter collector fails.",
			fmt.Sprintf(`Collector {{ $labels.collector }} of exporter {{ $labels.instance }} has failed every scrape for %s: its metrics are missing.`, c.Collector.For)),
		c.alert("BatchwatchTargetDown", SeverityWarning, c.TargetDown.For, fmt.Sprintf(`
up{%s} == %s or up{%s} == %s`,
			exp, num(c.TargetDown.Value), ing, num(c.TargetDown.Value)),
			"A batchwatch process cannot be scraped.",
			fmt.Sprintf(`Prometheus has failed to scrape {{ $labels.job }} {{ $labels.instance }} for %s.`, c.TargetDown.For)),
	}
}

// awsDown pages when a kind of AWS call of the exporter keeps failing,
// except the ignored kinds (a missing Cost Explorer permission loses the
// actual costs, and blinds no alert).
func (c Config) awsDown() Rule {
	sel := c.ExporterSelector
	if len(c.AWSDown.IgnoredKinds) > 0 {
		sel += fmt.Sprintf(`, kind!~"%s"`, strings.Join(c.AWSDown.IgnoredKinds, "|"))
	}
	return c.alert("BatchwatchExporterAWSDown", SeverityCritical, c.AWSDown.For, fmt.Sprintf(`
batchwatch_exporter_aws_call_up{%s} == 0`, sel),
		"The exporter's AWS calls fail.",
		fmt.Sprintf(`Exporter {{ $labels.instance }} has failed its {{ $labels.kind }} AWS calls for %s: queue metrics are frozen and job alerts may not fire.`, c.AWSDown.For))
}

// ingestRules watch ingest: lag, stalls, quarantine, ClickHouse errors.
func (c Config) ingestRules() []Rule {
	ing := c.IngestSelector
	return []Rule{
		c.alert("BatchwatchIngestLagHigh", SeverityWarning, c.IngestLag.For, fmt.Sprintf(`
histogram_quantile(0.99, sum by (job, instance, le) (rate(batchwatch_ingest_lag_seconds_bucket{%s}[%s]))) > %s`,
			ing, c.IngestLag.Window, num(c.IngestLag.Value)),
			"Job events reach ClickHouse late.",
			fmt.Sprintf(`99%% of the events ingest {{ $labels.instance }} wrote over the last %s took up to {{ $value | humanizeDuration }} from the event to ClickHouse (threshold %s).`, c.IngestLag.Window, humanizeSeconds(c.IngestLag.Value))),
		c.alert("BatchwatchIngestStalled", SeverityWarning, c.IngestStalled.For, fmt.Sprintf(`
(time() - batchwatch_ingest_last_insert_timestamp_seconds{%s} > %s)
and on (job, instance)
(batchwatch_ingest_buffered_events{%s} > 0)`,
			ing, num(c.IngestStalled.Value), ing),
			"Ingest holds events it does not write.",
			fmt.Sprintf(`Ingest {{ $labels.instance }} has events waiting and has written nothing to ClickHouse for {{ $value | humanizeDuration }} (threshold %s).`, humanizeSeconds(c.IngestStalled.Value))),
		c.alert("BatchwatchIngestQuarantineGrowing", SeverityWarning, c.Quarantine.For, fmt.Sprintf(`
sum by (job, instance, source) (increase(batchwatch_ingest_quarantined_total{%s}[%s])) > %s`,
			ing, c.Quarantine.Window, num(c.Quarantine.Value)),
			"Ingest quarantines messages it cannot parse.",
			fmt.Sprintf(`Ingest {{ $labels.instance }} quarantined {{ $value | printf "%%.0f" }} {{ $labels.source }} messages in the last %s (threshold %s): they are kept in the quarantine table, not lost.`, c.Quarantine.Window, num(c.Quarantine.Value))),
		c.alert("BatchwatchClickHouseInsertErrors", SeverityWarning, c.InsertErrors.For, fmt.Sprintf(`
sum by (job, instance, operation) (rate(batchwatch_ingest_clickhouse_errors_total{%s}[%s])) > %s`,
			ing, c.InsertErrors.Window, num(c.InsertErrors.Value)),
			"Ingest's ClickHouse operations fail.",
			fmt.Sprintf(`Ingest {{ $labels.instance }} has seen ClickHouse {{ $labels.operation }} errors for %s ({{ $value | printf "%%.2f" }} per second). Events wait in SQS until the inserts succeed.`, c.InsertErrors.For)),
	}
}

// costRules compare the spend with the daily budget.
func (c Config) costRules() []Rule {
	exp := c.ExporterSelector
	return []Rule{
		c.alert("BatchwatchEstimatedCostAboveBudget", SeverityWarning, c.Budget.EstimateFor, fmt.Sprintf(`
sum(%s) * 86400 > %s`,
			replicaMax(scopeBy, fmt.Sprintf("rate(batchwatch_job_estimated_cost_usd_total{%s}[%s])", exp, c.Budget.EstimateWindow)), num(c.Budget.DailyUSD)),
			"Jobs spend faster than the daily budget.",
			fmt.Sprintf(`At the rate of the last %s, jobs would cost {{ $value | printf "%%.0f" }} USD a day, above the budget of %s USD (estimate from the exporter's price table).`, c.Budget.EstimateWindow, num(c.Budget.DailyUSD))),
		c.alert("BatchwatchActualCostAboveBudget", SeverityInfo, c.Budget.ActualFor, fmt.Sprintf(`
sum(%s) > %s`,
			replicaMax(scopeBy, fmt.Sprintf(`batchwatch_cost_actual_usd{%s, period="yesterday"}`, exp)), num(c.Budget.DailyUSD)),
			"Yesterday's actual cost was above the daily budget.",
			fmt.Sprintf(`Cost Explorer reports {{ $value | printf "%%.0f" }} USD for yesterday, above the daily budget of %s USD.`, num(c.Budget.DailyUSD))),
	}
}
