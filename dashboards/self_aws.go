package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// selfAWSRow: how much of the account's API budget batchwatch uses, and
// whether AWS pushes back.
func selfAWSRow() row {
	// The batchwatch processes that call AWS, by metric prefix (awsclient
	// registers <prefix>_aws_*).
	awsComponents := []string{"exporter", "ingest"}
	perAPI := func(title, description, metric string, zero bool) cog.Builder[dashboard.Panel] {
		p := defaultTimeseries(promPluginID).
			Title(title).
			Description(description).
			Unit(units.RequestsPerSecond)
		for _, c := range awsComponents {
			expr := `sum by (service, operation) (` + rateOf("batchwatch_"+c+"_aws_"+metric, "") + `)`
			if zero {
				expr = orZero(expr, "operation")
			}
			p = p.WithTarget(promQuery(expr, c+" {{service}} {{operation}}"))
		}
		return p
	}
	latency := defaultTimeseries(promPluginID).
		Title("AWS call latency p99 per API").
		Description("99th percentile duration of AWS API calls per operation, retries and the rate limiter's waits included.").
		Unit(units.Seconds)
	for _, c := range awsComponents {
		latency = latency.WithTarget(promQuery(quantileOf(0.99, "batchwatch_"+c+"_aws_call_duration_seconds", "service, operation", ""), c+" {{service}} {{operation}}"))
	}
	return row{title: "AWS APIs", panels: []cog.Builder[dashboard.Panel]{
		perAPI("AWS calls per API",
			"AWS API calls per second per component, service and operation (retries not counted). All Batch API calls of an account and region share about 50 requests per second with the teams submitting jobs: the exporter should stay far below.",
			"calls_total", false),
		perAPI("AWS throttled requests per API",
			"HTTP requests AWS answered with throttling (429 TooManyRequestsException or a throttling code), per operation. batchwatch backs off and retries; steady throttling slows resyncs and also hurts everyone else's SubmitJob calls.",
			"throttled_requests_total", true),
		perAPI("AWS call errors per API",
			"AWS API calls that failed after all retries, per operation: credentials, permissions, endpoints or an AWS outage.",
			"call_errors_total", true),
		latency,
	}}
}
