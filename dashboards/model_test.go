package dashboards

import (
	"strings"
	"testing"
)

func TestParseDashboard(t *testing.T) {
	src := `{
	  "uid": "u", "title": "T",
	  "templating": {"list": [
	    {"type": "datasource", "name": "datasource", "query": "prometheus"},
	    {"type": "query", "name": "q", "query": {"query": "label_values(x, y)", "refId": "V"},
	     "datasource": {"type": "prometheus", "uid": "${datasource}"},
	     "multi": true, "includeAll": true, "allValue": ".*", "current": {"value": ["$__all"]}},
	    {"type": "custom", "name": "c", "query": "a, b", "current": {"value": "a"}}
	  ]},
	  "panels": [
	    {"type": "row", "title": "open row", "panels": []},
	    {"type": "timeseries", "title": "P", "description": "d",
	     "datasource": {"type": "prometheus", "uid": "${datasource}"},
	     "fieldConfig": {"defaults": {"unit": "s"}},
	     "targets": [{"refId": "A", "expr": "up", "range": true}, {"refId": "B", "expr": "x", "instant": true}]},
	    {"type": "row", "title": "collapsed", "collapsed": true, "panels": [
	      {"type": "table", "title": "H", "datasource": {"type": "grafana-clickhouse-datasource"},
	       "targets": [{"refId": "A", "rawSql": "SELECT 1", "format": 0}]}
	    ]},
	    {"type": "text", "title": "notes"}
	  ]}`
	d, err := ParseDashboard([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Variables) != 3 || d.Variables[1].Query != "label_values(x, y)" || d.Variables[1].Kind != KindPrometheus ||
		!isAll(d.Variables[1].Current) || d.Variables[2].Current[0] != "a" {
		t.Errorf("variables: %+v", d.Variables)
	}
	if got := customValues(d.Variables[2].Query); len(got) != 2 || got[1] != "b" {
		t.Errorf("custom values: %q", got)
	}
	if len(d.Panels) != 3 {
		t.Fatalf("want the two query panels and the text panel, got %+v", d.Panels)
	}
	if len(d.Targets) != 3 {
		t.Fatalf("targets: %+v", d.Targets)
	}
	if tg := d.Targets[1]; tg.Kind != KindPrometheus || !tg.Instant || tg.Panel != "P" || tg.Name() != "u / P / B" {
		t.Errorf("prometheus target: %+v", tg)
	}
	if tg := d.Targets[2]; tg.Kind != KindClickHouse || !tg.TimeSeries || tg.Query != "SELECT 1" {
		t.Errorf("clickhouse target from a collapsed row: %+v", tg)
	}
}

func TestParseDashboardRejects(t *testing.T) {
	for name, src := range map[string]string{
		"unknown datasource": `{"panels": [{"type": "graph", "title": "x", "datasource": {"type": "loki"}, "targets": [{"refId": "A", "expr": "{a=\"b\"}"}]}]}`,
		"no query":           `{"panels": [{"type": "graph", "title": "x", "datasource": {"type": "prometheus"}, "targets": [{"refId": "A"}]}]}`,
		"no refId":           `{"panels": [{"type": "graph", "title": "x", "datasource": {"type": "prometheus"}, "targets": [{"expr": "up"}]}]}`,
		"not json":           `{`,
	} {
		if _, err := ParseDashboard([]byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	in := `{"a": "x \u003c= y \u0026\u0026 z \u003e 1", "b": "\\u003c stays", "c": "\"q\""}`
	want := `{"a": "x <= y && z > 1", "b": "\\u003c stays", "c": "\"q\""}`
	if got := string(unescapeHTML([]byte(in))); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestResultString(t *testing.T) {
	r := Result{Target: Target{Dashboard: "d", Panel: "p", RefID: "A"}, Expanded: "up"}
	if !strings.HasPrefix(r.String(), "EMPTY d / p / A") || r.OK() {
		t.Errorf("an empty result: %s", r.String())
	}
	r.Points, r.Series = 3, 1
	if !r.OK() || !strings.HasPrefix(r.String(), "ok") {
		t.Errorf("a good result: %s", r.String())
	}
	v := Result{Target: Target{Dashboard: "d"}, Variable: "job_queue"}
	if v.Name() != "d / variable job_queue" {
		t.Errorf("variable name: %s", v.Name())
	}
}

// ClickHouse variable queries are plugin query objects (rawSql), and
// annotation queries become targets; Grafana's built-in annotation does not.
func TestParseDashboardClickHouseObjects(t *testing.T) {
	src := `{
	  "uid": "u", "title": "T",
	  "templating": {"list": [
	    {"type": "query", "name": "q", "query": {"editorType": "sql", "rawSql": "SELECT 1", "pluginVersion": "4.13.0"},
	     "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}},
	    {"type": "textbox", "name": "job_id", "query": "j-1"}
	  ]},
	  "annotations": {"list": [
	    {"name": "Annotations & Alerts", "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}},
	    {"name": "revs", "builtIn": 0, "datasource": {"type": "grafana-clickhouse-datasource"},
	     "target": {"refId": "Anno", "rawSql": "SELECT now() AS time", "format": 1}}
	  ]},
	  "panels": []}`
	d, err := ParseDashboard([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if d.Variables[0].Query != "SELECT 1" || d.Variables[0].Kind != KindClickHouse {
		t.Errorf("variable: %+v", d.Variables[0])
	}
	if d.Variables[1].Type != "textbox" || d.Variables[1].Query != "j-1" {
		t.Errorf("textbox: %+v", d.Variables[1])
	}
	if len(d.Targets) != 1 || d.Targets[0].Panel != "annotation revs" || d.Targets[0].Query != "SELECT now() AS time" {
		t.Errorf("annotation targets: %+v", d.Targets)
	}
}
