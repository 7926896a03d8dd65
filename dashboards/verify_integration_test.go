//go:build integration

package dashboards

import (
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// dashboardData is what the panels are run against: batchwatch's own
// exporter and ingest fed by the simulator, a Prometheus scraping them and
// the ClickHouse database ingest writes.
type dashboardData struct {
	stack *testenv.Stack
	prom  promv1.API
	store *store.Store
}

// startDashboardData is the data setup, kept apart from the checks. It
// runs two scenarios that together give every panel something to show:
// smoke (array jobs, spot reclaims, retries, OOM, image pulls, cancelled
// jobs, Cost Explorer) and stuck-runnable (blocked queues, unschedulable
// and stuck jobs), each with its simulator, exporter and ingest, all
// ingests writing one ClickHouse database.
func startDashboardData(t *testing.T) *dashboardData {
	t.Helper()
	st := testenv.StartStack(t, testenv.StackOptions{
		Scenarios: []string{"smoke", "stuck-runnable"},
		Speed:     60,
		Adjust:    adjustScenarios,
	})
	client, err := api.NewClient(api.Config{Address: st.PrometheusURL})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(st.ClickHouse, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &dashboardData{stack: st, prom: promv1.NewAPI(client), store: s}
}

// adjustScenarios makes the scenarios show what every panel needs.
func adjustScenarios(scenario string, doc map[string]any) {
	frequentSpotReclaims(scenario, doc)
	wrapDefinitions(scenario, doc)
}

// wrapDefinitions runs the definitions that have a behavior wrapped in
// batchwatch-run, so the right-sizing panels have usage to show (smoke's
// delivery is one queue, which takes every event).
func wrapDefinitions(_ string, doc map[string]any) {
	defs, _ := doc["job_definitions"].([]any)
	for _, d := range defs {
		def, _ := d.(map[string]any)
		if b, ok := def["behavior"].(map[string]any); ok {
			b["usage"] = map[string]any{"wrapped": true, "cpu_vcpus": map[string]any{"median": "0.5", "sigma": "0.3"}}
		}
	}
}

// frequentSpotReclaims makes smoke's spot instances reclaimed every few
// minutes instead of 0.3 times an hour, so a short run has reclaims to show.
func frequentSpotReclaims(scenario string, doc map[string]any) {
	ces, _ := doc["compute_environments"].([]any)
	for _, c := range ces {
		if ce, ok := c.(map[string]any); ok && ce["type"] == "SPOT" {
			ce["spot_interruption_rate"] = 20
		}
	}
}

// verifier runs the panels over the whole run: Prometheus from the start
// of the stack until now, ClickHouse over the simulated time (the
// simulator's clock runs Speed times faster than the scrapes).
func (d *dashboardData) verifier() *Verifier {
	now := time.Now()
	return &Verifier{
		Prometheus:      d.prom,
		ClickHouse:      d.store.Conn(),
		PromRange:       TimeRange{From: d.stack.RealStart, To: now},
		ClickHouseRange: TimeRange{From: d.stack.SimStart.Add(-time.Minute), To: d.stack.SimNow().Add(time.Minute)},
		ScrapeInterval:  time.Second,
		MaxDataPoints:   1000,
		Database:        d.stack.ClickHouse.Database,
	}
}

func committedDashboards(t *testing.T) []*ParsedDashboard {
	t.Helper()
	files, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*ParsedDashboard
	for _, n := range names {
		p, err := ParseDashboard(files[n])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// Every panel query and every variable query of every dashboard, expanded
// as Grafana expands them, runs without error on the real Prometheus and
// ClickHouse and returns data. The run is repeated until every query has
// data (events take a while to flow through) or the time is up; then each
// query still failing or empty fails the test. A second pass selects the
// first value of every variable instead of All and must run without error.
func TestEveryPanelRunsWithData(t *testing.T) {
	data := startDashboardData(t)
	dashboards := committedDashboards(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var results []Result
	testenv.WaitFor(t, 5*time.Minute, "every panel to have data", func() (bool, string) {
		results = data.verifier().Verify(ctx, dashboards)
		var bad []string
		for _, r := range results {
			if !r.OK() {
				bad = append(bad, r.String())
			}
		}
		// The stuck-jobs table needs 30 simulated minutes past the jobs'
		// arrival in RUNNABLE.
		if data.stack.SimNow().Sub(data.stack.SimStart) < 45*time.Minute {
			bad = append(bad, "simulated time below 45 minutes")
		}
		return len(bad) == 0, "\n" + strings.Join(bad, "\n")
	}, append(append(data.stack.Sims, data.stack.Exporters...), data.stack.Ingests...)...)

	queries := 0
	for _, r := range results {
		queries++
		if !r.OK() {
			t.Error(r.String())
		}
	}
	t.Logf("%d queries ran with data", queries)

	// The command does the same: `batchwatch dashboards verify` against
	// these servers runs every query without error, and the Job dashboard
	// (queried by job id, whatever the range) with data. The range ends
	// now, before most of the simulated day: empty panels are allowed.
	cmd := exec.CommandContext(ctx, data.stack.Binary, "dashboards", "verify",
		"--prometheus.url", data.stack.PrometheusURL, "--clickhouse.addr", data.stack.ClickHouse.Addrs[0],
		"--clickhouse.database", data.stack.ClickHouse.Database, "--since", "2h", "--scrape-interval", "1s", "--allow-empty")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("batchwatch dashboards verify: %v\n%s", err, out)
	}
	for _, want := range []string{"ok    batchwatch-job / Job / A", "ok    batchwatch-job / Attempts / A", "ok    batchwatch-job / Links / A"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("batchwatch dashboards verify printed no %q:\n%s", want, out)
		}
	}

	// The log group the links use is the one the job's definition set,
	// end to end: simulator events → ingest → ClickHouse.
	var own, dflt uint64
	err = data.store.Conn().QueryRow(ctx, "SELECT countIf(job_definition = 'smoke-report' AND log_group = '/batch/smoke/report'"+
		" AND (log_stream = '' OR startsWith(log_stream, 'report/default/'))), countIf(job_definition = 'smoke-build' AND log_group = '/aws/batch/job')"+
		" FROM "+data.store.Table("jobs")+" FINAL").Scan(&own, &dflt)
	if err != nil || own == 0 || dflt == 0 {
		t.Errorf("jobs in their definitions' log groups: %d in /batch/smoke/report, %d in /aws/batch/job, err %v", own, dflt, err)
	}

	v := data.verifier()
	v.Select = func(_ string, options []string) []string {
		if len(options) == 0 {
			return nil
		}
		return options[:1]
	}
	for _, r := range v.Verify(ctx, dashboards) {
		if r.Err != nil {
			t.Errorf("with the first value of every variable: %s", r.String())
		}
	}
}
