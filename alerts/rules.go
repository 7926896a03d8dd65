package alerts

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Severities, as the monitoring mixins use them.
const (
	// SeverityCritical pages: jobs are failing or will never run.
	SeverityCritical = "critical"
	// SeverityWarning opens a ticket: needs a look within working hours.
	SeverityWarning = "warning"
	// SeverityInfo is for dashboards and inhibition only; never notified.
	SeverityInfo = "info"
)

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is one group of rules, evaluated together.
type RuleGroup struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is one alerting rule.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         model.Duration    `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// alert builds a rule with the mixin's labels and annotations.
func (c Config) alert(name, severity string, forDur model.Duration, expr, summary, description string) Rule {
	return Rule{
		Alert:  name,
		Expr:   strings.TrimSpace(expr),
		For:    forDur,
		Labels: map[string]string{"severity": severity},
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook_url": c.RunbookURL + "#" + strings.ToLower(name),
		},
	}
}

// num formats a threshold for PromQL.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// pct formats a ratio as a percentage for the texts.
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" }

// Rules builds every batchwatch alert.
func Rules(c Config) (RuleFile, error) {
	if err := c.Validate(); err != nil {
		return RuleFile{}, err
	}
	exp, ing := c.ExporterSelector, c.IngestSelector
	return RuleFile{Groups: []RuleGroup{
		{Name: "batchwatch-jobs", Rules: []Rule{
			c.failureSpike(SeverityCritical, c.FailureSpike.Critical),
			c.failureSpike(SeverityWarning, c.FailureSpike.Warning),
			c.alert("BatchwatchSpotReclaimStorm", SeverityWarning, c.SpotReclaims.For, fmt.Sprintf(`
sum by (job_queue) (increase(batchwatch_job_spot_reclaims_total{%s}[%s])) > %s`,
				exp, c.SpotReclaims.Window, num(c.SpotReclaims.Value)),
				"Spot instances are being reclaimed under a job queue's jobs.",
				fmt.Sprintf(`EC2 reclaimed the spot instances of {{ $value | printf "%%.0f" }} job attempts of queue {{ $labels.job_queue }} in the last %s. Jobs are retried, but long jobs may never finish.`, c.SpotReclaims.Window)),
		}},
		{Name: "batchwatch-queues", Rules: []Rule{
			c.alert("BatchwatchJobsStuckRunnable", SeverityWarning, c.StuckRunnable.For, fmt.Sprintf(`
max by (job_queue) (batchwatch_queue_oldest_job_age_seconds{%s, status="RUNNABLE"}) > %s`,
				exp, num(c.StuckRunnable.Value)),
				"Jobs have waited in RUNNABLE for too long.",
				fmt.Sprintf(`The oldest RUNNABLE job of queue {{ $labels.job_queue }} has waited {{ $value | humanizeDuration }} for capacity (threshold %s).`, humanizeSeconds(c.StuckRunnable.Value))),
			c.alert("BatchwatchJobsStuckStarting", SeverityWarning, c.StuckStarting.For, fmt.Sprintf(`
max by (job_queue) (batchwatch_queue_oldest_job_age_seconds{%s, status="STARTING"}) > %s`,
				exp, num(c.StuckStarting.Value)),
				"Jobs have been STARTING for too long.",
				fmt.Sprintf(`The oldest STARTING job of queue {{ $labels.job_queue }} has been starting for {{ $value | humanizeDuration }} (threshold %s): image pulls or instance start-up are failing or slow.`, humanizeSeconds(c.StuckStarting.Value))),
			c.alert("BatchwatchUnschedulableJobs", SeverityWarning, c.Unschedulable.For, fmt.Sprintf(`
max by (job_queue, resource) (batchwatch_queue_unschedulable_jobs{%s}) > %s`,
				exp, num(c.Unschedulable.Value)),
				"Jobs request more than any instance of their queue can offer.",
				`{{ $value | printf "%.0f" }} RUNNABLE jobs of queue {{ $labels.job_queue }} `+
					`{{ if eq $labels.resource "combination" }}request vCPUs, memory and GPUs that no single instance type of its compute environments offers together; they will never run.`+
					`{{ else }}request more {{ $labels.resource }} than any instance type its compute environments can launch; they will never run. `+
					`The largest {{ $labels.resource }} request that fits is {{ with printf `+"`"+`max(batchwatch_queue_max_schedulable{`+exp+`, job_queue=%q, resource=%q})`+"`"+` $labels.job_queue $labels.resource | query }}{{ . | first | value }}{{ else }}unknown{{ end }}.{{ end }}`),
			c.alert("BatchwatchQueueBlocked", SeverityWarning, c.QueueBlocked.For, fmt.Sprintf(`
sum by (job_queue, reason) (increase(batchwatch_queue_blocked_events_total{%s}[%s])) > %s`,
				exp, c.QueueBlocked.Window, num(c.QueueBlocked.Value)),
				"AWS Batch reports a blocked job queue.",
				fmt.Sprintf(`AWS Batch reported queue {{ $labels.job_queue }} blocked ({{ $labels.reason }}): {{ $value | printf "%%.0f" }} blocked events in the last %s. The job at its head cannot be placed.`, c.QueueBlocked.Window)),
		}},
		{Name: "batchwatch-exporter", Rules: []Rule{
			c.alert("BatchwatchExporterResyncStale", SeverityWarning, c.ResyncStale.For, fmt.Sprintf(`
time() - batchwatch_exporter_last_resync_timestamp_seconds{%s} > %s`,
				exp, num(c.ResyncStale.Value)),
				"The exporter has not resynced with AWS Batch.",
				fmt.Sprintf(`Exporter {{ $labels.instance }} last listed the queues {{ $value | humanizeDuration }} ago (threshold %s): queue metrics drift from AWS.`, humanizeSeconds(c.ResyncStale.Value))),
			c.alert("BatchwatchExporterAWSDown", SeverityWarning, c.AWSDown.For, fmt.Sprintf(`
batchwatch_exporter_aws_up{%s} == %s`,
				exp, num(c.AWSDown.Value)),
				"The exporter cannot reach AWS.",
				fmt.Sprintf(`Exporter {{ $labels.instance }} has failed its AWS calls for %s: queue metrics are frozen and job alerts cannot fire.`, c.AWSDown.For)),
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
		}},
		{Name: "batchwatch-ingest", Rules: []Rule{
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
		}},
		{Name: "batchwatch-cost", Rules: []Rule{
			c.alert("BatchwatchEstimatedCostAboveBudget", SeverityWarning, c.Budget.EstimateFor, fmt.Sprintf(`
sum(rate(batchwatch_job_estimated_cost_usd_total{%s}[%s])) * 86400 > %s`,
				exp, c.Budget.EstimateWindow, num(c.Budget.DailyUSD)),
				"Jobs spend faster than the daily budget.",
				fmt.Sprintf(`At the rate of the last %s, jobs would cost {{ $value | printf "%%.0f" }} USD a day, above the budget of %s USD (estimate from the exporter's price table).`, c.Budget.EstimateWindow, num(c.Budget.DailyUSD))),
			c.alert("BatchwatchActualCostAboveBudget", SeverityInfo, c.Budget.ActualFor, fmt.Sprintf(`
sum(batchwatch_cost_actual_usd{%s, period="yesterday"}) > %s`,
				exp, num(c.Budget.DailyUSD)),
				"Yesterday's actual cost was above the daily budget.",
				fmt.Sprintf(`Cost Explorer reports {{ $value | printf "%%.0f" }} USD for yesterday, above the daily budget of %s USD.`, num(c.Budget.DailyUSD))),
		}},
	}}, nil
}

// failureSpike is the page (and its ticket twin): a queue's finished jobs
// fail above a ratio, with enough failures that a handful of jobs cannot
// trigger it. Array parents are left out: their children count.
func (c Config) failureSpike(severity string, l SpikeLevel) Rule {
	sel := c.ExporterSelector + `, kind!="array_parent"`
	w := c.FailureSpike.Window
	failed := fmt.Sprintf(`sum by (job_queue) (increase(batchwatch_jobs_finished_total{%s, status="FAILED"}[%s]))`, sel, w)
	all := fmt.Sprintf(`sum by (job_queue) (increase(batchwatch_jobs_finished_total{%s}[%s]))`, sel, w)
	expr := fmt.Sprintf("(\n  %s\n/\n  %s\n) > %s\nand on (job_queue)\n%s >= %s",
		failed, all, num(l.Ratio), failed, num(l.MinFailures))
	return c.alert("BatchwatchJobFailureSpike", severity, l.For, expr,
		"Many jobs of a job queue fail.",
		fmt.Sprintf(`{{ $value | humanizePercentage }} of the jobs that finished in queue {{ $labels.job_queue }} over the last %s failed (thresholds: %s of the jobs and at least %s failures).`,
			w, pct(l.Ratio), num(l.MinFailures)))
}

// humanizeSeconds writes a threshold in seconds as a duration (1800 → 30m).
func humanizeSeconds(s float64) string {
	return model.Duration(s * 1e9).String()
}

// RenderRules renders the rule file as committed, with a header saying
// where it comes from.
func RenderRules(c Config) ([]byte, error) {
	rf, err := Rules(c)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by `batchwatch dashboards generate` from alerts/ (alerts.DefaultConfig).\n# Do not edit: change alerts/config.go or alerts/rules.go and regenerate.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(rf); err != nil {
		return nil, fmt.Errorf("render rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render rules: %w", err)
	}
	return buf.Bytes(), nil
}
