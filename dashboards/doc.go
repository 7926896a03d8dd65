// Package dashboards builds batchwatch's Grafana dashboards as Go code with
// grafana-foundation-sdk (pinned at v0.0.18), following the SDK's
// examples/go: one Build() (dashboard.Dashboard, error) per dashboard, one
// file per row, house defaults (defaultTimeseries and friends), typed units
// and a description on every panel.
//
// The dashboards read the metrics of docs/metrics.md through Prometheus and
// the job history through the grafana-clickhouse-datasource plugin
// (clickhouse.go holds that query type, in the SDK's custom-query pattern,
// at the plugin version the compose stack pins, and the shared SQL filters:
// chFilter and friends, multi-value variables matched with IN/has() over
// Grafana's singlequote format, never regexes inside SQL strings).
//
// Every dashboard has account and region variables. Tables of jobs link each
// job id to the Job dashboard (job.go), which shows one job with its
// attempts and links to the AWS Batch console and to CloudWatch Logs in the
// job's own log group.
//
// Generate renders every dashboard to deterministic JSON; `batchwatch
// dashboards generate` writes it under deploy/grafana/dashboards, and a
// golden test fails when the committed JSON is stale.
//
// Without a Grafana server to look at them, verify.go proves the dashboards
// another way: it walks the generated JSON, extracts every panel target and
// template variable query, expands variables and macros the way Grafana and
// the ClickHouse plugin do, and runs them against a real Prometheus and a
// real ClickHouse, reporting every query that fails or returns no data.
package dashboards
