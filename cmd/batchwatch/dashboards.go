package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/alerts"
	"github.com/batchwatch/batchwatch/dashboards"
	"github.com/batchwatch/batchwatch/store"
)

// dashboardsCommand generates the monitoring artifacts (Grafana dashboards,
// Prometheus rules, Alertmanager configuration) or verifies every panel
// query against live servers. main dispatches on the command, so the two
// actions are an argument, not subcommands.
func dashboardsCommand(app *kingpin.Application) *command {
	cmd := app.Command("dashboards", "Grafana dashboards, Prometheus alert rules and Alertmanager routing as code. "+
		"'generate' writes them (and with --check only compares); 'verify' runs every panel and variable query against a live Prometheus and ClickHouse.")
	action := cmd.Arg("action", "generate or verify.").Required().Enum("generate", "verify")

	out := cmd.Flag("out", "generate: directory of the dashboard JSON files.").Default("deploy/grafana/dashboards").String()
	rulesPath := cmd.Flag("rules", "generate: Prometheus rule file to write (empty: skip).").Default("deploy/prometheus/rules/batchwatch.rules.yml").String()
	amPath := cmd.Flag("alertmanager", "generate: Alertmanager configuration to write (empty: skip).").Default("deploy/alertmanager/alertmanager.yml").String()
	alertsCfg := cmd.Flag("alerts.config", "generate: alerting configuration (thresholds, windows, selectors, teams and receivers) the rules and the Alertmanager configuration are generated from; empty: the defaults.").Default("deploy/alerts/config.yml").String()
	var recv alerts.Team
	cmd.Flag("alertmanager.page-url", "generate: webhook receiving the critical alerts (pages) no team claims; overrides routing.default.page_url.").StringVar(&recv.PageURL)
	cmd.Flag("alertmanager.ticket-url", "generate: webhook receiving the warnings no team claims; overrides routing.default.ticket_url.").StringVar(&recv.TicketURL)
	check := cmd.Flag("check", "generate: write nothing; fail when a committed file differs from what would be generated.").Bool()

	promURL := cmd.Flag("prometheus.url", "verify: Prometheus to query.").Default("http://127.0.0.1:9090").String()
	chCfg := store.AddFlags(cmd)
	since := cmd.Flag("since", "verify: the dashboards' time range ends now and starts this long ago.").Default("6h").Duration()
	scrape := cmd.Flag("scrape-interval", "verify: the Prometheus datasource's scrape interval (sets $__rate_interval).").Default("15s").Duration()
	first := cmd.Flag("first-values", "verify: select the first value of every variable instead of All.").Bool()
	allowEmpty := cmd.Flag("allow-empty", "verify: report queries without data but do not fail on them.").Bool()
	jobID := cmd.Flag("job-id", "verify: the job the Job dashboard is run with (default: the job with the most attempts in ClickHouse).").String()

	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			l := log.WithField("component", "dashboards")
			if *action == "generate" {
				ac, err := loadAlertsConfig(*alertsCfg, recv)
				if err != nil {
					return err
				}
				return generateMonitoring(l, *out, *rulesPath, *amPath, ac, *check)
			}
			return verifyDashboards(ctx, l, *promURL, chCfg, *since, *scrape, *first, *allowEmpty, *jobID)
		},
	}
}

// loadAlertsConfig reads the alerting configuration and applies the
// receiver flags.
func loadAlertsConfig(path string, recv alerts.Team) (alerts.Config, error) {
	c := alerts.DefaultConfig()
	if path != "" {
		var err error
		if c, err = alerts.LoadConfig(path); err != nil {
			return c, err
		}
	}
	if recv.PageURL != "" {
		c.Routing.Default.PageURL = recv.PageURL
	}
	if recv.TicketURL != "" {
		c.Routing.Default.TicketURL = recv.TicketURL
	}
	return c, c.Validate()
}

// generateMonitoring renders the dashboards, and the rules, Alertmanager
// configuration and its template from the alerting configuration, and
// writes them, or with check compares them to what is on disk.
func generateMonitoring(l *logrus.Entry, out, rulesPath, amPath string, ac alerts.Config, check bool) error {
	files, err := dashboards.Generate(dashboards.DefaultConfig())
	if err != nil {
		return err
	}
	others := map[string]func() ([]byte, error){}
	if rulesPath != "" {
		others[rulesPath] = func() ([]byte, error) { return alerts.RenderRules(ac) }
	}
	if amPath != "" {
		others[amPath] = func() ([]byte, error) { return alerts.RenderAlertmanager(ac.Routing) }
		others[filepath.Join(filepath.Dir(amPath), alerts.TemplateFile)] = func() ([]byte, error) {
			return []byte(alerts.NotificationTemplate), nil
		}
	}
	if check {
		diffs, err := dashboards.Diff(out, files)
		if err != nil {
			return err
		}
		for path, render := range others {
			want, err := render()
			if err != nil {
				return err
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				diffs = append(diffs, path+": differs from the generated file")
			}
		}
		for _, d := range diffs {
			l.WithField("difference", d).Error("stale generated file")
		}
		if len(diffs) > 0 {
			return errors.New("generated files are stale: run batchwatch dashboards generate")
		}
		l.Info("generated files are up to date")
		return nil
	}
	if err := dashboards.Write(out, files); err != nil {
		return err
	}
	for path, render := range others {
		data, err := render()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	l.WithField("dashboards", len(files)).WithField("dir", out).WithField("rules", rulesPath).
		WithField("alertmanager", amPath).Info("generated")
	return nil
}

// verifyDashboards runs every query of the generated dashboards against
// live servers over the last `since` and prints one line per query.
func verifyDashboards(ctx context.Context, l *logrus.Entry, promURL string, chCfg *store.Config, since, scrape time.Duration, first, allowEmpty bool, jobID string) error {
	files, err := dashboards.Generate(dashboards.DefaultConfig())
	if err != nil {
		return err
	}
	var parsed []*dashboards.ParsedDashboard
	for _, name := range sortedNames(files) {
		p, err := dashboards.ParseDashboard(files[name])
		if err != nil {
			return err
		}
		parsed = append(parsed, p)
	}
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return fmt.Errorf("prometheus client: %w", err)
	}
	st, err := store.Open(chCfg, l)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	r := dashboards.TimeRange{From: now.Add(-since), To: now}
	v := &dashboards.Verifier{
		Prometheus: promv1.NewAPI(client), ClickHouse: st.Conn(),
		PromRange: r, ClickHouseRange: r, ScrapeInterval: scrape,
		Database: chCfg.Database, JobID: jobID, Log: l,
	}
	if first {
		v.Select = func(_ string, options []string) []string {
			if len(options) == 0 {
				return nil
			}
			return options[:1]
		}
	}
	failed, empty := 0, 0
	for _, res := range v.Verify(ctx, parsed) {
		fmt.Println(res.String())
		switch {
		case res.Err != nil:
			failed++
		case !res.OK():
			empty++
		}
	}
	l.WithField("failed", failed).WithField("empty", empty).Info("verified")
	if failed > 0 || (empty > 0 && !allowEmpty) {
		return fmt.Errorf("%d queries failed and %d returned no data", failed, empty)
	}
	return nil
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
