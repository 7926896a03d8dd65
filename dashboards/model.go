package dashboards

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The harness reads dashboards back from their JSON, as Grafana does,
// rather than from the SDK types: it checks what is committed.

// TargetKind tells which datasource runs a target.
type TargetKind string

// Target kinds.
const (
	KindPrometheus TargetKind = "prometheus"
	KindClickHouse TargetKind = "clickhouse"
)

// Target is one query of one panel.
type Target struct {
	Dashboard string // dashboard uid
	Panel     string // panel title
	PanelType string // timeseries, stat, table, heatmap
	RefID     string
	Kind      TargetKind
	// Query is the PromQL expr or the ClickHouse rawSql as written.
	Query string
	// Instant marks a Prometheus instant query (tables); range otherwise.
	Instant bool
	// TimeSeries marks a ClickHouse query whose rows Grafana turns into
	// series: it needs a DateTime column.
	TimeSeries bool
}

// Name identifies the target in reports.
func (t Target) Name() string {
	return fmt.Sprintf("%s / %s / %s", t.Dashboard, t.Panel, t.RefID)
}

// Variable is one template variable.
type Variable struct {
	Name string
	// Type is Grafana's: query, custom, constant, datasource, textbox, …
	Type string
	// Query is the variable's query (query), its comma-separated values
	// (custom), its value (constant), its default (textbox) or its plugin
	// id (datasource).
	Query      string
	Kind       TargetKind // datasource kind of a query variable
	Multi      bool
	IncludeAll bool
	AllValue   string
	// Current is the saved selection ($__all for All).
	Current []string
}

// ParsedDashboard is what the harness needs of a dashboard.
type ParsedDashboard struct {
	UID       string
	Title     string
	Variables []Variable
	Targets   []Target
	// Panels has every non-row panel, including those without targets.
	Panels []PanelInfo
}

// PanelInfo is a panel's metadata, for the lint checks.
type PanelInfo struct {
	Title       string
	Type        string
	Description string
	Unit        string
	Targets     int
}

type jsonDashboard struct {
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Panels     []jsonPanel `json:"panels"`
	Templating struct {
		List []jsonVariable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []jsonAnnotation `json:"list"`
	} `json:"annotations"`
}

// jsonAnnotation is an annotation query; builtIn ones (Grafana's own
// "Annotations & Alerts") have no target.
type jsonAnnotation struct {
	Name       string         `json:"name"`
	BuiltIn    *float64       `json:"builtIn"`
	Datasource *jsonDSRef     `json:"datasource"`
	Target     map[string]any `json:"target"`
}

type jsonDSRef struct {
	Type string `json:"type"`
}

type jsonPanel struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *struct {
		Type string `json:"type"`
	} `json:"datasource"`
	Targets     []map[string]any `json:"targets"`
	Panels      []jsonPanel      `json:"panels"` // collapsed rows
	FieldConfig *struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type jsonVariable struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Query      json.RawMessage `json:"query"`
	Datasource *struct {
		Type string `json:"type"`
	} `json:"datasource"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Current    *struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// ParseDashboard reads a dashboard's JSON.
func ParseDashboard(data []byte) (*ParsedDashboard, error) {
	var d jsonDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse dashboard: %w", err)
	}
	out := &ParsedDashboard{UID: d.UID, Title: d.Title}
	for _, v := range d.Templating.List {
		pv := Variable{Name: v.Name, Type: v.Type, Multi: v.Multi, IncludeAll: v.IncludeAll, AllValue: v.AllValue}
		q, err := stringOrQuery(v.Query)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		pv.Query = q
		if v.Datasource != nil {
			pv.Kind = kindOf(v.Datasource.Type)
		}
		if v.Current != nil {
			pv.Current, err = stringOrStrings(v.Current.Value)
			if err != nil {
				return nil, fmt.Errorf("variable %s current value: %w", v.Name, err)
			}
		}
		out.Variables = append(out.Variables, pv)
	}
	var walk func(ps []jsonPanel) error
	walk = func(ps []jsonPanel) error {
		for _, p := range ps {
			if p.Type == "row" {
				if err := walk(p.Panels); err != nil {
					return err
				}
				continue
			}
			info := PanelInfo{Title: p.Title, Type: p.Type, Description: p.Description, Targets: len(p.Targets)}
			if p.FieldConfig != nil {
				info.Unit = p.FieldConfig.Defaults.Unit
			}
			out.Panels = append(out.Panels, info)
			panelDS := ""
			if p.Datasource != nil {
				panelDS = p.Datasource.Type
			}
			for i, raw := range p.Targets {
				t, err := parseTarget(raw, panelDS)
				if err != nil {
					return fmt.Errorf("panel %q target %d: %w", p.Title, i, err)
				}
				t.Dashboard, t.Panel, t.PanelType = d.UID, p.Title, p.Type
				out.Targets = append(out.Targets, t)
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	for _, a := range d.Annotations.List {
		if (a.BuiltIn != nil && *a.BuiltIn == 1) || a.Target == nil {
			continue
		}
		ds := ""
		if a.Datasource != nil {
			ds = a.Datasource.Type
		}
		t, err := parseTarget(a.Target, ds)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s annotation %q: %w", d.UID, a.Name, err)
		}
		t.Dashboard, t.Panel, t.PanelType = d.UID, "annotation "+a.Name, "annotation"
		out.Targets = append(out.Targets, t)
	}
	return out, nil
}

func parseTarget(raw map[string]any, panelDS string) (Target, error) {
	ds := panelDS
	if m, ok := raw["datasource"].(map[string]any); ok {
		if typ, ok := m["type"].(string); ok && typ != "" {
			ds = typ
		}
	}
	t := Target{Kind: kindOf(ds)}
	t.RefID, _ = raw["refId"].(string)
	switch t.Kind {
	case KindPrometheus:
		t.Query, _ = raw["expr"].(string)
		t.Instant, _ = raw["instant"].(bool)
	case KindClickHouse:
		t.Query, _ = raw["rawSql"].(string)
		f, _ := raw["format"].(float64)
		t.TimeSeries = ClickHouseFormat(f) == ClickHouseTimeSeries
	default:
		return t, fmt.Errorf("datasource type %q is neither Prometheus nor ClickHouse", ds)
	}
	if t.Query == "" {
		return t, fmt.Errorf("%s target %s has no query", t.Kind, t.RefID)
	}
	if t.RefID == "" {
		return t, fmt.Errorf("%s target has no refId", t.Kind)
	}
	return t, nil
}

func kindOf(pluginID string) TargetKind {
	switch pluginID {
	case promPluginID:
		return KindPrometheus
	case clickhousePluginID:
		return KindClickHouse
	}
	return TargetKind(pluginID)
}

// stringOrQuery reads a variable's query: a string, or an object with a
// "query" field (the newer Prometheus variable editor) or a "rawSql" field
// (a ClickHouse plugin query).
func stringOrQuery(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Query  string `json:"query"`
		RawSQL string `json:"rawSql"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("query is neither a string nor an object: %w", err)
	}
	if obj.RawSQL != "" {
		return obj.RawSQL, nil
	}
	return obj.Query, nil
}

func stringOrStrings(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// isAll reports whether a selection is Grafana's "All".
func isAll(values []string) bool {
	return len(values) == 1 && values[0] == "$__all"
}

// customValues splits a custom variable's query into its values.
func customValues(q string) []string {
	var out []string
	for _, v := range strings.Split(q, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
