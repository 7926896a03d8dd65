package alerts

import (
	"fmt"
	"strings"
	"time"
)

// jobRules are the failure-spike recordings and alerts, and the spot
// reclaim storm.
func (c Config) jobRules() []Rule {
	exp, w := c.ExporterSelector, c.FailureSpike.Window.String()
	return []Rule{
		{Record: c.failuresRecord(), Expr: increaseWithBirths(
			fmt.Sprintf(`batchwatch_job_failures_total{%s}`, exp), scopeBy+", job_queue, job_definition, failure_class", w)},
		{Record: c.succeededRecord(), Expr: increaseWithBirths(
			fmt.Sprintf(`batchwatch_jobs_finished_total{%s, status="SUCCEEDED", kind!="array_parent"}`, exp), scopeBy+", job_queue, job_definition", w)},
		c.failureSpike(SeverityCritical, c.FailureSpike.Critical, false),
		c.failureSpike(SeverityCritical, c.FailureSpike.Critical, true),
		c.failureSpike(SeverityWarning, c.FailureSpike.Warning, false),
		c.alert("BatchwatchSpotReclaimStorm", SeverityWarning, c.SpotReclaims.For, fmt.Sprintf(`
%s > %s`,
			replicaMax(scopeBy+", job_queue", fmt.Sprintf("increase(batchwatch_job_spot_reclaims_total{%s}[%s])", exp, c.SpotReclaims.Window)),
			num(c.SpotReclaims.Value)),
			"Spot instances are being reclaimed under a job queue's jobs.",
			fmt.Sprintf(`EC2 reclaimed the spot instances of {{ $value | printf "%%.0f" }} job attempts of queue {{ $labels.job_queue }} in the last %s. Jobs are retried, but long jobs may never finish.`, c.SpotReclaims.Window)),
	}
}

// The recorded increases of the failure spike, by queue, job definition
// (and failure class) over the spike's window.
func (c Config) failuresRecord() string {
	return "batchwatch:job_failures:increase" + c.FailureSpike.Window.String()
}

func (c Config) succeededRecord() string {
	return "batchwatch:jobs_succeeded:increase" + c.FailureSpike.Window.String()
}

// increaseWithBirths is increase() that also counts a counter born inside
// the window: increase() needs two samples and never counts the step from
// nothing to the first one, so 40 failures of a series first scraped at 40
// (a new job definition or tier, an exporter restarted during a spike)
// would be 0. A series with no sample a window ago adds its smallest value
// in the window (its first, unless it was reset). Resets (exporter
// restarts) are increase()'s own business.
//
// It is computed per scrape target (instance) and the largest target's
// count is kept: two exporter replicas see the same events, so their sum
// would count every job twice (docs/ha.md).
func increaseWithBirths(series, by, window string) string {
	perTarget := by + ", instance"
	inc := fmt.Sprintf("sum by (%s) (increase(%s[%s]))", perTarget, series, window)
	born := fmt.Sprintf("sum by (%s) (min_over_time(%s[%s]) unless %s offset %s)", perTarget, series, window, series, window)
	return fmt.Sprintf("max by (%s) (\n(\n  %s\n+\n  %s\n)\nor\n%s\nor\n%s\n)", by, inc, born, inc, born)
}

// scopeBy are the labels every queue-level rule keeps: the scrape's region
// and the exporter's account, so that queues of one name in two accounts
// or regions stay apart (absent labels are empty and harmless).
const scopeBy = "region, account"

// replicaMax sums an expression per scrape target and keeps the largest
// target's: the count of one exporter, however many replicas are scraped.
func replicaMax(by, expr string) string {
	return fmt.Sprintf("max by (%s) (sum by (%s, instance) (%s))", by, by, expr)
}

// failureSpike is the page (and its ticket twin, per queue only): the
// actionable failures of a queue, or of a job definition within it, are
// above a ratio of its finished jobs, with enough failures that a handful
// of jobs cannot trigger it. The alert's value is the number of failed
// jobs. Array parents are left out: their children count.
func (c Config) failureSpike(severity string, l SpikeLevel, perDefinition bool) Rule {
	fs := c.FailureSpike
	by, what := scopeBy+", job_queue", "queue {{ $labels.job_queue }}"
	if perDefinition {
		by, what = scopeBy+", job_queue, job_definition", "job definition {{ $labels.job_definition }} in queue {{ $labels.job_queue }}"
	}
	paging := fmt.Sprintf(`%s{failure_class!~"%s"}`, c.failuresRecord(), strings.Join(fs.NotPaging, "|"))
	failed := fmt.Sprintf("sum by (%s) (%s)", by, paging)
	succeeded := fmt.Sprintf("sum by (%s) (%s)", by, c.succeededRecord())
	expr := fmt.Sprintf("%s >= %s\nand on (%s)\n%s\n/\n(%s + (%s or %s * 0))\n> %s",
		failed, num(l.MinFailures), by, failed, failed, succeeded, failed, num(l.Ratio))
	r := c.alert("BatchwatchJobFailureSpike", severity, l.For, expr,
		"Many jobs of a job queue fail.",
		fmt.Sprintf(`About {{ $value | printf "%%.0f" }} jobs of %s failed over the last %s (increase() extrapolates to the window), more than %s of those that finished (thresholds: %s of the jobs and at least %s failures; %s not counted).`,
			what, fs.Window, pct(l.Ratio), pct(l.Ratio), num(l.MinFailures), notCounted(fs.NotPaging)))
	r.KeepFiringFor = fs.KeepFiringFor
	// Two rules of one name and severity: a static label tells them apart.
	r.Labels["scope"] = "queue"
	if perDefinition {
		r.Labels["scope"] = "job_definition"
	}
	for k, v := range c.spikeAnnotations(perDefinition, l) {
		r.Annotations[k] = v
	}
	return r
}

func notCounted(classes []string) string {
	if len(classes) == 0 {
		return "every failure"
	}
	return strings.Join(classes, ", ") + " failures are"
}

// spikeAnnotations are what the page shows besides the description: the
// count, the top failure classes and job definitions, and the job-history
// dashboard filtered to the queue (and definition) over the spike.
func (c Config) spikeAnnotations(perDefinition bool, l SpikeLevel) map[string]string {
	filter, vars := `region=%q, account=%q, job_queue=%q`, `$labels.region $labels.account $labels.job_queue`
	link := `var-job_queue={{ $labels.job_queue | urlquery }}`
	if perDefinition {
		filter, vars = `region=%q, account=%q, job_queue=%q, job_definition=%q`, `$labels.region $labels.account $labels.job_queue $labels.job_definition`
		link += `&var-job_definition={{ $labels.job_definition | urlquery }}`
	}
	top := func(label, extra string) string {
		q := fmt.Sprintf("sort_desc(topk(3, sum by (%s) (%s{%s%s}) > 0))", label, c.failuresRecord(), filter, extra)
		return fmt.Sprintf("{{ range $i, $s := query (printf `%s` %s) }}{{ if $i }}, {{ end }}{{ $s.Labels.%s }} {{ $s.Value | printf \"%%.0f\" }}{{ end }}",
			q, vars, label)
	}
	span := time.Duration(c.FailureSpike.Window + l.For).Seconds()
	ms := func(expr string) string {
		return fmt.Sprintf(`{{ with query "%s" }}{{ . | first | value | printf "%%.0f" }}{{ end }}`, expr)
	}
	a := map[string]string{
		"failed_jobs":         `{{ $value | printf "%.0f" }}`,
		"top_failure_classes": top("failure_class", ""),
		"dashboard_url": fmt.Sprintf("%s/d/%s?%s&from=%s&to=%s", strings.TrimRight(c.Dashboard.GrafanaURL, "/"), c.Dashboard.HistoryUID,
			link, ms("(time() - "+num(span)+") * 1000"), ms("time() * 1000")),
	}
	if !perDefinition {
		a["top_job_definitions"] = top("job_definition", fmt.Sprintf(`, failure_class!~"%s"`, strings.Join(c.FailureSpike.NotPaging, "|")))
	}
	return a
}
