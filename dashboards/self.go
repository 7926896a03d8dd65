package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// SelfMonitoring is the "batchwatch self-monitoring" dashboard: is
// batchwatch itself keeping up? Ingest rates, insert latency and lag, the
// quarantine, AWS calls with throttles and errors per API, the exporter's
// resync and its collectors.
type SelfMonitoring struct{ Config Config }

// Build builds the dashboard.
func (d SelfMonitoring) Build() (dashboard.Dashboard, error) {
	b := newDashboard(d.Config, "batchwatch-self", "batchwatch self-monitoring",
		"batchwatch's own health: ingest throughput, ClickHouse inserts and lag, the quarantine, AWS API use (the account's Batch API budget is about 50 requests per second, shared with everyone), and the exporter's resync and collectors.")
	for _, v := range promScopeVariables() {
		b = b.WithVariable(v)
	}
	return finish(withRows(b, selfIngestRow(), selfAWSRow(), selfExporterRow()).Build())
}
