package dashboards

import (
	"fmt"
	"strconv"
)

// Label matchers of the template variables. Every job metric carries
// job_queue; the histograms and job counters also job_definition and tier.
// account is the exporter's own label (--exporter.account or
// --exporter.account-role), region the scrape configuration's (one exporter
// per region); until a deployment sets them they are absent, and All (.*)
// matches the empty value.
const (
	selScope = `account=~"$account", region=~"$region"`
	selQueue = selScope + `, job_queue=~"$job_queue"`
	selJob   = selQueue + `, job_definition=~"$job_definition", tier=~"$tier"`
	selCost  = selQueue + `, tier=~"$tier"`
	selCE    = selScope + `, compute_environment=~"$compute_environment"`
)

// rateOf is rate() over Grafana's $__rate_interval, the only range the
// dashboards use: it always spans at least four scrapes.
func rateOf(metric, sel string) string {
	return fmt.Sprintf("rate(%s[$__rate_interval])", selector(metric, sel))
}

// selector is metric{sel}, or the bare metric without matchers.
func selector(metric, sel string) string {
	if sel == "" {
		return metric
	}
	return metric + "{" + sel + "}"
}

// increaseOf is increase() over $__rate_interval: the count per step.
func increaseOf(metric, sel string) string {
	return fmt.Sprintf("increase(%s[$__rate_interval])", selector(metric, sel))
}

// perMinute turns a per-second rate into a per-minute one: jobs arrive in
// handfuls per minute, and 0.05/s reads worse than 3/min.
func perMinute(expr string) string { return expr + " * 60" }

// quantileOf is the q-quantile of a histogram, aggregated by the given
// labels (le is added).
func quantileOf(q float64, histogram, by, sel string) string {
	le := "le"
	if by != "" {
		le = "le, " + by
	}
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (%s))",
		strconv.FormatFloat(q, 'f', -1, 64), le, rateOf(histogram+"_bucket", sel))
}

// orZero shows 0 under label=none when expr has no series: counters with
// labels (errors, throttles, quarantined messages) only exist once
// something happened, and an empty panel reads as "broken", not "none".
func orZero(expr, label string) string {
	return fmt.Sprintf(`(%s) or on() label_replace(vector(0), "%s", "none", "", "")`, expr, label)
}
