package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/awsclient"
)

const committedDir = "../deploy/grafana/dashboards"

func generated(t *testing.T) map[string]*ParsedDashboard {
	t.Helper()
	files, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ParsedDashboard{}
	for name, data := range files {
		p, err := ParseDashboard(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = p
	}
	return out
}

// The committed JSON is what the code generates (golden files).
func TestCommittedDashboardsUpToDate(t *testing.T) {
	files, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := Diff(committedDir, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("deploy/grafana/dashboards/%s — run: go run ./cmd/batchwatch dashboards generate", d)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		if string(a[name]) != string(b[name]) {
			t.Errorf("%s differs between two generations", name)
		}
	}
}

// The house rules of STYLE.md: a description on every panel, typed units,
// a datasource variable first, All on every query variable.
func TestDashboardsFollowHouseRules(t *testing.T) {
	uids := map[string]bool{}
	for name, d := range generated(t) {
		if uids[d.UID] {
			t.Errorf("duplicate uid %s", d.UID)
		}
		uids[d.UID] = true
		if len(d.Variables) == 0 || d.Variables[0].Name != "datasource" || d.Variables[0].Type != "datasource" {
			t.Errorf("%s: the first variable must be the datasource", name)
		}
		titles := map[string]bool{}
		for _, p := range d.Panels {
			if p.Title == "" {
				t.Errorf("%s: a %s panel has no title", name, p.Type)
			}
			if titles[p.Title] {
				t.Errorf("%s: two panels titled %q", name, p.Title)
			}
			titles[p.Title] = true
			if len(p.Description) < 30 {
				t.Errorf("%s / %s: description missing or too short: %q", name, p.Title, p.Description)
			}
			if p.Targets == 0 {
				t.Errorf("%s / %s: no query", name, p.Title)
			}
			if (p.Type == "timeseries" || p.Type == "stat") && p.Unit == "" {
				t.Errorf("%s / %s: no unit", name, p.Title)
			}
		}
		for _, v := range d.Variables {
			if v.Type != "query" {
				continue
			}
			all := allValue
			if v.Kind == KindClickHouse {
				all = chAllValue
			}
			if !v.IncludeAll || !v.Multi || v.AllValue != all || !isAll(v.Current) {
				t.Errorf("%s: variable %s must be multi-value with All (%s) selected", name, v.Name, all)
			}
		}
		scope := map[string]bool{}
		for _, v := range d.Variables {
			scope[v.Name] = true
		}
		if !scope["account"] || !scope["region"] {
			t.Errorf("%s: every dashboard has account and region variables", name)
		}
	}
}

var rangeRE = regexp.MustCompile(`\[[^\]]*\]`)

// Every range in every PromQL query is $__rate_interval: rate() and
// increase() always see enough samples, whatever the zoom.
func TestPromQLRangesAreRateInterval(t *testing.T) {
	for _, d := range generated(t) {
		for _, tg := range d.Targets {
			if tg.Kind != KindPrometheus {
				continue
			}
			for _, r := range rangeRE.FindAllString(tg.Query, -1) {
				if r != "[$__rate_interval]" {
					t.Errorf("%s: range %s, want [$__rate_interval]: %s", tg.Name(), r, tg.Query)
				}
			}
			for _, fn := range []string{"rate(", "increase(", "irate(", "delta("} {
				if strings.Count(tg.Query, fn) > strings.Count(tg.Query, "[$__rate_interval]") {
					t.Errorf("%s: %s without $__rate_interval: %s", tg.Name(), fn, tg.Query)
				}
			}
		}
	}
}

// Every metric the dashboards read is in the contract, docs/metrics.md.
func TestDashboardsUseDocumentedMetrics(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`batchwatch_[a-z0-9_*]+`).FindAllString(string(doc), -1) {
		documented[m] = true
	}
	metricRE := regexp.MustCompile(`batchwatch_[a-z0-9_]+`)
	for _, d := range generated(t) {
		for _, tg := range d.Targets {
			if tg.Kind != KindPrometheus {
				continue
			}
			for _, m := range metricRE.FindAllString(tg.Query, -1) {
				if !documentedMetric(m, documented) {
					t.Errorf("%s: %s is not in docs/metrics.md", tg.Name(), m)
				}
			}
		}
		for _, v := range d.Variables {
			for _, m := range metricRE.FindAllString(v.Query, -1) {
				if v.Kind == KindPrometheus && !documentedMetric(m, documented) {
					t.Errorf("%s variable %s: %s is not in docs/metrics.md", d.UID, v.Name, m)
				}
			}
		}
	}
}

// documentedMetric accepts histogram series, and the families awsclient
// registers for a component, which the contract lists as "from awsclient".
func documentedMetric(m string, doc map[string]bool) bool {
	base := m
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(m, suffix); ok && (doc[b] || awsclientFamilies()[b]) {
			base = b
		}
	}
	return doc[base] || awsclientFamilies()[base]
}

// awsclientFamilies are the metric names awsclient.NewMetrics registers for
// the exporter and ingest.
func awsclientFamilies() map[string]bool {
	out := map[string]bool{}
	for _, ns := range []string{"batchwatch_exporter", "batchwatch_ingest"} {
		reg := prometheus.NewRegistry()
		awsclient.NewMetrics(reg, ns)
		for _, c := range []prometheus.Collector{reg} {
			ch := make(chan *prometheus.Desc, 16)
			go func() { c.Describe(ch); close(ch) }()
			for d := range ch {
				if m := descNameRE.FindStringSubmatch(d.String()); m != nil {
					out[m[1]] = true
				}
			}
		}
	}
	return out
}

var descNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// ClickHouse queries must run on 18.16 (DEVELOPERS.md) and count
// redelivered events once (FINAL).
func TestClickHouseQueriesFitTheServer(t *testing.T) {
	forbidden := []string{
		"toStartOfInterval", "JSONExtract", "WITH FILL", "DateTime64", "now64", "toDateTime64",
		"$__timeInterval", "$__fromTime_ms", "$__toTime_ms", "$__timeFilter_ms", "dateDiff",
	}
	tableRE := regexp.MustCompile(`(?i)\bFROM\s+(\S+)(\s+FINAL)?`)
	// Reads that duplicates cannot change, where FINAL would only cost:
	// a set of job ids, the newest event's time, a revision's first use.
	noFinal := []string{
		"job_id IN (SELECT job_id FROM $database.jobs WHERE ",
		"SELECT toUnixTimestamp(max(event_time)) * 1000 AS newest_event FROM $database.events WHERE ",
		"job_definition AS tags FROM $database.jobs WHERE ",
	}
	for _, d := range generated(t) {
		var queries []struct{ name, sql string }
		for _, tg := range d.Targets {
			if tg.Kind == KindClickHouse {
				queries = append(queries, struct{ name, sql string }{tg.Name(), tg.Query})
			}
		}
		for _, v := range d.Variables {
			if v.Kind == KindClickHouse {
				queries = append(queries, struct{ name, sql string }{d.UID + " / variable " + v.Name, v.Query})
			}
		}
		for _, q := range queries {
			sql := q.sql
			for _, nf := range noFinal {
				sql = strings.ReplaceAll(sql, nf, "")
			}
			for _, f := range forbidden {
				if strings.Contains(q.sql, f) {
					t.Errorf("%s uses %s, which ClickHouse 18.16 rejects: %s", q.name, f, q.sql)
				}
			}
			for _, m := range tableRE.FindAllStringSubmatch(sql, -1) {
				table, final := m[1], m[2] != ""
				if table == "(" || strings.HasPrefix(table, "(") {
					continue
				}
				base, ok := strings.CutPrefix(table, "$database.")
				if !ok {
					t.Errorf("%s reads %s: tables must be $database.<table>", q.name, table)
					continue
				}
				needsFinal := base == "jobs" || base == "attempts" || base == "events"
				isVariable := strings.Contains(q.name, "variable")
				if needsFinal && !final && !isVariable {
					t.Errorf("%s reads %s without FINAL", q.name, table)
				}
			}
		}
	}
}

// Every variable a query uses exists, or is one of Grafana's or the
// ClickHouse plugin's own.
func TestQueriesUseDefinedVariables(t *testing.T) {
	builtin := map[string]bool{
		"__interval": true, "__interval_ms": true, "__rate_interval": true, "__range": true,
		"__range_s": true, "__range_ms": true, "__from": true, "__to": true,
		"__timeFilter": true, "__fromTime": true, "__toTime": true, "__interval_s": true,
		"__dateFilter": true, "__dateTimeFilter": true, "__dt": true,
		"252F": true, // the CloudWatch console's escaped '/', no variable
	}
	for _, d := range generated(t) {
		defined := map[string]bool{}
		for _, v := range d.Variables {
			defined[v.Name] = true
		}
		check := func(where, q string) {
			for _, m := range varRE.FindAllStringSubmatch(q, -1) {
				name := m[1] + m[2] + m[4]
				if !defined[name] && !builtin[name] {
					t.Errorf("%s uses undefined variable $%s", where, name)
				}
			}
		}
		for _, tg := range d.Targets {
			check(tg.Name(), tg.Query)
		}
		for _, v := range d.Variables {
			check(d.UID+" variable "+v.Name, v.Query)
		}
	}
}

// Every PromQL query, expanded as Grafana would, parses: promtool checks
// them as recording rules (the prometheus module cannot be a dependency:
// it would move prometheus/common past v0.72.0).
func TestPromQLParses(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (install it with scripts/install.sh prometheus): %v", err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	r := TimeRange{From: now.Add(-6 * time.Hour), To: now}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboards\n    rules:\n")
	n := 0
	names := []string{}
	ds := generated(t)
	for k := range ds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		d := ds[name]
		for _, sel := range [][]string{nil, {"smoke-high", "smoke-low"}} {
			e := &Expander{Range: r, Intervals: ComputeIntervals(r, 1000, 15*time.Second), Variables: d.Variables,
				Selected: map[string][]string{}, Options: map[string][]string{}}
			if sel != nil {
				for _, v := range d.Variables {
					if v.Type == "query" {
						e.Selected[v.Name] = sel
					}
				}
			}
			for _, tg := range d.Targets {
				if tg.Kind != KindPrometheus {
					continue
				}
				q, err := e.Expand(tg.Query, KindPrometheus)
				if err != nil {
					t.Fatalf("%s: %v", tg.Name(), err)
				}
				if strings.Contains(q, "$") {
					t.Errorf("%s: unexpanded variable in %s", tg.Name(), q)
				}
				n++
				fmt.Fprintf(&b, "      - record: dashboards:query_%d\n        expr: %q\n", n, q)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if n == 0 {
		t.Fatal("no PromQL queries found")
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.CostTagKeys = []string{"cost-center"}
	if _, err := Generate(c); err == nil {
		t.Error("a tag key that is no label name must be rejected")
	}
	c = DefaultConfig()
	c.ClickHouseDatabase = "x; DROP"
	if err := c.Validate(); err == nil {
		t.Error("a database name with SQL in it must be rejected")
	}
}

// The provisioning files offer a datasource of every plugin the dashboards
// query, and load the dashboards from a folder.
func TestProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Type string `yaml:"type"`
			UID  string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	readYAML(t, "../deploy/grafana/provisioning/datasources/batchwatch.yml", &ds)
	types := map[string]bool{}
	for _, d := range ds.Datasources {
		types[d.Type] = true
	}
	for _, d := range generated(t) {
		if plugin := d.Variables[0].Query; !types[plugin] {
			t.Errorf("%s needs a %s datasource, which is not provisioned", d.UID, plugin)
		}
	}
	var dash struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "../deploy/grafana/provisioning/dashboards/batchwatch.yml", &dash)
	if ds.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path == "" {
		t.Errorf("provisioning: datasources %+v, providers %+v", ds, dash.Providers)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The compose stack installs exactly the ClickHouse plugin version the
// queries are written for.
func TestComposePinsClickHousePlugin(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	readYAML(t, "../docker-compose.yml", &compose)
	want := clickhousePluginID + " " + ClickHousePluginVersion
	found := false
	for _, p := range strings.Split(compose.Services["grafana"].Environment["GF_INSTALL_PLUGINS"], ",") {
		f := strings.Fields(p)
		if len(f) > 0 && f[0] == clickhousePluginID {
			found = true
			if strings.Join(f, " ") != want {
				t.Errorf("GF_INSTALL_PLUGINS has %q, want %q", strings.TrimSpace(p), want)
			}
		}
	}
	if !found {
		t.Errorf("GF_INSTALL_PLUGINS does not install %s", clickhousePluginID)
	}
}

// The JSON has what current Grafana and grafana-clickhouse-datasource v4
// read: every ClickHouse target (panels and annotations) in the plugin's v4
// query model (pluginVersion, editorType sql, a queryType that matches its
// format), every ClickHouse variable's query an object of that model with
// its SQL also as definition, multi-value ClickHouse filters never as
// regexes, and panel ids unique.
func TestJSONMatchesGrafanaAndPlugin(t *testing.T) {
	files, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		var d struct {
			SchemaVersion int              `json:"schemaVersion"`
			Panels        []map[string]any `json:"panels"`
			Templating    struct {
				List []map[string]any `json:"list"`
			} `json:"templating"`
			Annotations struct {
				List []map[string]any `json:"list"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d, current Grafana writes 39 or later", name, d.SchemaVersion)
		}
		ids := map[float64]bool{}
		var targets []map[string]any
		for _, p := range d.Panels {
			id, _ := p["id"].(float64)
			if ids[id] {
				t.Errorf("%s: panel id %v twice", name, id)
			}
			ids[id] = true
			if _, ok := p["gridPos"].(map[string]any); !ok {
				t.Errorf("%s: panel %v has no gridPos", name, p["title"])
			}
			ts, _ := p["targets"].([]any)
			for _, x := range ts {
				targets = append(targets, x.(map[string]any))
			}
		}
		for _, a := range d.Annotations.List {
			if tg, ok := a["target"].(map[string]any); ok {
				targets = append(targets, tg)
			}
		}
		for _, tg := range targets {
			ds, _ := tg["datasource"].(map[string]any)
			if ds["type"] != clickhousePluginID {
				continue
			}
			checkCHQuery(t, name, tg)
			if strings.Contains(tg["rawSql"].(string), ":regex}") || strings.Contains(tg["rawSql"].(string), "match(") {
				t.Errorf("%s: %s filters with a regex: %s", name, tg["refId"], tg["rawSql"])
			}
		}
		for _, v := range d.Templating.List {
			ds, _ := v["datasource"].(map[string]any)
			if v["type"] != "query" || ds["type"] != clickhousePluginID {
				continue
			}
			q, ok := v["query"].(map[string]any)
			if !ok {
				t.Errorf("%s: variable %s: query is %T, want the plugin's query object", name, v["name"], v["query"])
				continue
			}
			checkCHQuery(t, name+" variable "+v["name"].(string), q)
			if v["definition"] != q["rawSql"] {
				t.Errorf("%s: variable %s: definition differs from its SQL", name, v["name"])
			}
		}
	}
}

func checkCHQuery(t *testing.T, where string, q map[string]any) {
	t.Helper()
	if q["pluginVersion"] != ClickHousePluginVersion {
		t.Errorf("%s: pluginVersion %v, want %s (without it the plugin migrates the query as v3)", where, q["pluginVersion"], ClickHousePluginVersion)
	}
	if q["editorType"] != "sql" {
		t.Errorf("%s: editorType %v, want sql", where, q["editorType"])
	}
	if s, _ := q["rawSql"].(string); s == "" {
		t.Errorf("%s: no rawSql", where)
	}
	want := map[string]float64{"table": float64(ClickHouseTable), "timeSeries": float64(ClickHouseTimeSeries)}
	format, ok := want[fmt.Sprint(q["queryType"])]
	if !ok {
		t.Errorf("%s: queryType %v is none of the plugin's (table, timeSeries)", where, q["queryType"])
	} else if q["format"] != format {
		t.Errorf("%s: format %v does not match queryType %v", where, q["format"], q["queryType"])
	}
}

// Every link to a dashboard names one that exists, with variables it has.
func TestDashboardLinksResolve(t *testing.T) {
	files, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]map[string]bool{}
	for _, d := range generated(t) {
		vars[d.UID] = map[string]bool{}
		for _, v := range d.Variables {
			vars[d.UID][v.Name] = true
		}
	}
	linkRE := regexp.MustCompile(`"url":\s*"/d/([\w-]+)/[\w-]*\?([^"]*)"`)
	links := 0
	for name, data := range files {
		for _, m := range linkRE.FindAllStringSubmatch(string(data), -1) {
			links++
			have, ok := vars[m[1]]
			if !ok {
				t.Errorf("%s links to dashboard %s, which does not exist", name, m[1])
				continue
			}
			for _, kv := range strings.Split(m[2], "&") {
				if v, ok := strings.CutPrefix(strings.SplitN(kv, "=", 2)[0], "var-"); ok && !have[v] {
					t.Errorf("%s links to %s with variable %s, which it does not have", name, m[1], v)
				}
			}
		}
	}
	if links < 4 {
		t.Errorf("found %d dashboard links, want the job tables' links to the Job dashboard", links)
	}
}
