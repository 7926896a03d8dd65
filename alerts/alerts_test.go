package alerts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	configFile       = "../deploy/alerts/config.yml"
	rulesFile        = "../deploy/prometheus/rules/batchwatch.rules.yml"
	alertmanagerFile = "../deploy/alertmanager/alertmanager.yml"
	templateFile     = "../deploy/alertmanager/" + TemplateFile
	regenerate       = "go run ./cmd/batchwatch dashboards generate"
)

// The committed files are exactly what the code renders from the
// committed configuration.
func TestGeneratedFilesUpToDate(t *testing.T) {
	c, err := LoadConfig(configFile)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := RenderRules(c)
	if err != nil {
		t.Fatal(err)
	}
	am, err := RenderAlertmanager(c.Routing)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{rulesFile: rules, alertmanagerFile: am, templateFile: []byte(NotificationTemplate)} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read committed file: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run %s", path, regenerate)
		}
	}
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (install it with scripts/install.sh prometheus): %v", name, err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	run(t, "promtool", "check", "rules", "deploy/prometheus/rules/batchwatch.rules.yml")
}

// Every alert on both sides of its `for`, with promtool.
func TestPromtoolTestRules(t *testing.T) {
	files, err := filepath.Glob("tests/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool tests in alerts/tests: %v", err)
	}
	args := []string{"test", "rules"}
	for _, f := range files {
		args = append(args, filepath.Join("alerts", f))
	}
	run(t, "promtool", args...)
}

type promtoolTests struct {
	Tests []struct {
		Name           string `yaml:"name"`
		AlertRuleTests []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// Every alert (and every severity of it) is tested firing, and tested at a
// time it must not fire.
func TestEveryAlertTestedOnBothSides(t *testing.T) {
	rf, err := Rules(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	quiet := map[string]bool{}
	firing := map[string]bool{} // alertname/severity
	files, _ := filepath.Glob("tests/*.yml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(data, &pt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range pt.Tests {
			for _, at := range tc.AlertRuleTests {
				if len(at.ExpAlerts) == 0 {
					quiet[at.Alertname] = true
				}
				for _, a := range at.ExpAlerts {
					firing[at.Alertname+"/"+a.ExpLabels["severity"]] = true
				}
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				continue
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no promtool test where it must not fire", r.Alert)
			}
			if key := r.Alert + "/" + r.Labels["severity"]; !firing[key] {
				t.Errorf("%s (%s): no promtool test where it fires", r.Alert, r.Labels["severity"])
			}
		}
	}
}

var camelCase = regexp.MustCompile(`^Batchwatch([A-Z][a-z0-9]*|[A-Z]+)+$`)

// The monitoring-mixin conventions: one prefix, CamelCase, a severity, a
// static summary, a templated description, a runbook section that exists.
func TestRulesFollowMixinConventions(t *testing.T) {
	rf, err := Rules(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	runbook, err := os.ReadFile("../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(runbook), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[strings.ToLower(strings.TrimSpace(h))] = true
		}
	}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				if !strings.HasPrefix(r.Record, "batchwatch:") {
					t.Errorf("recording rule %s: not level:metric:operation with the batchwatch level", r.Record)
				}
				continue
			}
			if !camelCase.MatchString(r.Alert) {
				t.Errorf("%s: not CamelCase with the Batchwatch prefix", r.Alert)
			}
			switch r.Labels["severity"] {
			case SeverityCritical, SeverityWarning, SeverityInfo:
			default:
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			a := r.Annotations
			if a["summary"] == "" || strings.Contains(a["summary"], "{{") {
				t.Errorf("%s: summary must be static and present: %q", r.Alert, a["summary"])
			}
			if !strings.Contains(a["description"], "{{") {
				t.Errorf("%s: description must be templated: %q", r.Alert, a["description"])
			}
			anchor, ok := strings.CutPrefix(a["runbook_url"], DefaultConfig().RunbookURL+"#")
			if !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q has no section in docs/runbooks.md", r.Alert, a["runbook_url"])
			}
			seen[strings.ToLower(r.Alert)] = true
			if r.For <= 0 {
				t.Errorf("%s: no `for`", r.Alert)
			}
		}
	}
	for a := range anchors {
		if strings.HasPrefix(a, "batchwatch") && !seen[a] {
			t.Errorf("docs/runbooks.md has a section for %s, which is no alert", a)
		}
	}
}

// Every metric the rules use is in the contract, docs/metrics.md.
func TestRulesUseDocumentedMetrics(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`batchwatch_[a-z0-9_*]+`).FindAllString(string(doc), -1) {
		documented[m] = true
	}
	rf, err := Rules(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	metricRE := regexp.MustCompile(`batchwatch_[a-z0-9_]+`)
	var missing []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, m := range metricRE.FindAllString(r.Expr+" "+r.Annotations["description"], -1) {
				if !isDocumented(m, documented) {
					missing = append(missing, r.Alert+": "+m)
				}
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("metric not in docs/metrics.md: %s", m)
	}
}

// isDocumented accepts histogram series names and the awsclient families
// the contract lists as <prefix>_aws_* (the rules match them by regex).
func isDocumented(m string, doc map[string]bool) bool {
	if doc[m] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(m, suffix); ok && doc[base] {
			return true
		}
	}
	// {__name__=~"batchwatch_.+_aws_…"}: the regex, not a name.
	if strings.HasPrefix(m, "batchwatch_") && strings.HasSuffix(m, "_") {
		return true
	}
	return false
}

// Routing: critical pages, warning tickets, info goes nowhere, the
// watchdog reaches the heartbeat, and an alert without a severity still
// reaches the ticket receiver.
func TestAlertmanagerConfig(t *testing.T) {
	run(t, "amtool", "check-config", "deploy/alertmanager/alertmanager.yml")
	routes(t, "deploy/alertmanager/alertmanager.yml", []routeCase{
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=etl"}, ReceiverPage},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=warning", "job_queue=etl"}, ReceiverTicket},
		{[]string{"alertname=BatchwatchJobsStuckRunnable", "severity=warning"}, ReceiverTicket},
		{[]string{"alertname=BatchwatchActualCostAboveBudget", "severity=info"}, ReceiverNull},
		{[]string{"alertname=BatchwatchWatchdog", "severity=info"}, ReceiverHeartbeat},
		{[]string{"alertname=BatchwatchExporterDown", "severity=critical", "job=batchwatch-exporter"}, ReceiverPage},
		{[]string{"alertname=SomethingElse"}, ReceiverTicket},
	})
}

type routeCase struct {
	labels []string
	want   string
}

func routes(t *testing.T, config string, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		args := append([]string{"config", "routes", "test", "--config.file=" + config, "--verify.receivers=" + tc.want}, tc.labels...)
		out := run(t, "amtool", args...)
		if got := strings.TrimSpace(lastLine(out)); got != tc.want {
			t.Errorf("%v routed to %q, want %q", tc.labels, got, tc.want)
		}
	}
}

// Teams own queues by regular expression; what no team claims, and the
// alerts without a queue, reach the default receivers.
func TestAlertmanagerTeams(t *testing.T) {
	c := DefaultConfig()
	err := ParseConfig([]byte(`
routing:
  teams:
    - {name: data, queues: [etl-.*, spike], pagerduty_routing_key: abc, ticket_url: http://tickets/data}
    - {name: ml, queues: [gpu], job_definitions: [train-.*], page_url: http://pager/ml, ticket_url: http://tickets/ml}
    - {name: search, job_definitions: [index], page_url: http://pager/search, ticket_url: http://tickets/search}
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	am, err := RenderAlertmanager(c.Routing)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(path, am, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TemplateFile), []byte(NotificationTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "amtool", "check-config", path)
	routes(t, path, []routeCase{
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=etl-nightly"}, "data-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=spike"}, "data-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=spike-2"}, ReceiverPage},
		{[]string{"alertname=BatchwatchJobsStuckRunnable", "severity=warning", "job_queue=gpu"}, "ml-ticket"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=gpu"}, "ml-page"},
		{[]string{"alertname=BatchwatchExporterDown", "severity=critical"}, ReceiverPage},
		{[]string{"alertname=BatchwatchWatchdog", "severity=info", "job_queue=gpu"}, ReceiverHeartbeat},
		// A job definition's spike goes to the team that claims the
		// definition, wherever it runs; the queue's spike to the queue's.
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=job_definition", "job_queue=etl-nightly", "job_definition=train-bert"}, "ml-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=job_definition", "job_queue=etl-nightly", "job_definition=index"}, "search-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=job_definition", "job_queue=etl-nightly", "job_definition=load"}, "data-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=job_definition", "job_queue=shared", "job_definition=index"}, "search-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=job_definition", "job_queue=shared", "job_definition=index-2"}, ReceiverPage},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=job_definition", "job_queue=gpu", "job_definition=train-bert"}, "ml-page"},
		{[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "scope=queue", "job_queue=shared"}, ReceiverPage},
	})
	// A team's queue spike and its own definition's spike in that queue
	// share a route, hence one group and one page.
	if !sameRoute(t, path, []string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=gpu"},
		[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=gpu", "job_definition=train-bert"}) {
		t.Error("ml's queue and definition spikes in its own queue are routed apart: two pages")
	}
	if sameRoute(t, path, []string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=gpu"},
		[]string{"alertname=BatchwatchJobFailureSpike", "severity=critical", "job_queue=gpu", "job_definition=index"}) {
		t.Error("sameRoute cannot tell ml's queue route from search's definition route")
	}
	if !strings.Contains(string(am), "routing_key: abc") || !strings.Contains(string(am), `batchwatch.page.text`) {
		t.Errorf("team data pages PagerDuty with the page text:\n%s", am)
	}
}

// sameRoute says whether two label sets end on the same route: amtool
// prints the path of matchers in its tree output.
func sameRoute(t *testing.T, config string, a, b []string) bool {
	t.Helper()
	tree := func(labels []string) string {
		return run(t, "amtool", append([]string{"config", "routes", "test", "--config.file=" + config, "--tree"}, labels...)...)
	}
	return tree(a) == tree(b)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The committed configuration file documents the defaults: it renders
// exactly what DefaultConfig renders.
func TestCommittedConfigIsTheDefault(t *testing.T) {
	c, err := LoadConfig(configFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{c, DefaultConfig()} {
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := RenderRules(c)
	b, _ := RenderRules(DefaultConfig())
	if !bytes.Equal(a, b) {
		t.Error("deploy/alerts/config.yml renders other rules than DefaultConfig: keep it the documented defaults")
	}
	a, _ = RenderAlertmanager(c.Routing)
	b, _ = RenderAlertmanager(DefaultConfig().Routing)
	if !bytes.Equal(a, b) {
		t.Error("deploy/alerts/config.yml renders another Alertmanager configuration than DefaultConfig")
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.FailureSpike.Warning.Ratio = c.FailureSpike.Critical.Ratio
	if err := c.Validate(); err == nil {
		t.Error("a warning ratio equal to the critical one must be rejected")
	}
	c = DefaultConfig()
	c.Budget.DailyUSD = 0
	if _, err := Rules(c); err == nil {
		t.Error("a zero budget must be rejected")
	}
	if _, err := RenderAlertmanager(Routing{}); err == nil {
		t.Error("routing without receivers must be rejected")
	}
	for doc, want := range map[string]string{
		"failure_spike: {windw: 5m}":                                                                   "field windw not found",
		"failure_spike: {not_paging_failure_classes: [canceled]}":                                      `unknown failure class "canceled"`,
		"routing: {teams: [{name: Data, queues: [a], page_url: x, ticket_url: y}]}":                    `team name "Data"`,
		"routing: {teams: [{name: data, queues: ['(' ], page_url: x, ticket_url: y}]}":                 "queue",
		"routing: {teams: [{name: data, queues: [a], ticket_url: y}]}":                                 "needs queues or job_definitions, a page_url",
		"routing: {teams: [{name: data, page_url: x, ticket_url: y}]}":                                 "needs queues or job_definitions",
		"routing: {teams: [{name: data, job_definitions: ['(' ], page_url: x, ticket_url: y}]}":        "job definition",
		"routing: {teams: [{name: data, job_definitions: ['train-.*|'], page_url: x, ticket_url: y}]}": "matches the empty name",
		"failure_spike: {window: 0s}":                                                                  "failure_spike window must be positive",
	} {
		c := DefaultConfig()
		err := ParseConfig([]byte(doc), &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", doc, err, want)
		}
	}
	if _, err := LoadConfig("testdata/missing.yml"); err == nil || !strings.Contains(err.Error(), "read alerts config") {
		t.Errorf("a missing file: %v", err)
	}
}
