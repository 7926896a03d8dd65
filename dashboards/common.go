package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Datasource plugin ids.
const (
	promPluginID       = "prometheus"
	clickhousePluginID = "grafana-clickhouse-datasource"
)

// allValue is what an "All" selection expands to: a regex matching every
// value, for Prometheus matchers (=~) and ClickHouse match().
const allValue = ".*"

// Grid sizes (the grid is 24 units wide).
const (
	fullWidth  = 24
	halfWidth  = 12
	thirdWidth = 8
	panelH     = 8
	tableH     = 10
	statH      = 4
)

// row is one row of a dashboard: a title and its panels, laid out left to
// right by the SDK.
type row struct {
	title  string
	panels []cog.Builder[dashboard.Panel]
}

// withRows adds rows (expanded, their panels following them) to b.
func withRows(b *dashboard.DashboardBuilder, rows ...row) *dashboard.DashboardBuilder {
	for _, r := range rows {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			b = b.WithPanel(p)
		}
	}
	return b
}

// newDashboard starts a dashboard with the house settings.
func newDashboard(cfg Config, uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags(cfg.Tags).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh(cfg.Refresh).
		Time("now-6h", "now").
		Timezone(common.TimeZoneUtc).
		Link(dashboard.NewDashboardLinkBuilder("batchwatch").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{cfg.Tags[0]}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true))
}

func dsRef(pluginID string) common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(pluginID), Uid: cog.ToPtr("${datasource}")}
}

// datasourceVariable is the `datasource` variable every dashboard starts
// with, so one dashboard serves several Prometheus or ClickHouse servers.
func datasourceVariable(pluginID, label string) *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").
		Label(label).
		Type(pluginID)
}

// allOption is the "All" selection ($__all) variables start with.
func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: cog.ToPtr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}

// queryVariable is a multi-value variable with "All" (expanding to
// allValue) fed by a query of the dashboard's datasource.
func queryVariable(pluginID, name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Datasource(dsRef(pluginID)).
		Current(allOption()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(allValue)
}

// promScopeVariables are the datasource variable of a Prometheus dashboard
// and its account and region variables: account is the exporter's own
// label (--exporter.account or --exporter.account-role), region the scrape
// configuration's (one exporter per region); absent until a deployment
// sets them, when All still matches every series.
func promScopeVariables() []cog.Builder[dashboard.VariableModel] {
	return []cog.Builder[dashboard.VariableModel]{
		datasourceVariable(promPluginID, "Prometheus"),
		queryVariable(promPluginID, "account", "Account", "label_values(batchwatch_queue_jobs, account)").
			Description("AWS account of the jobs and queues (the exporter's account label: its job queue's ARN)."),
		queryVariable(promPluginID, "region", "Region", `label_values(batchwatch_queue_jobs{account=~"$account"}, region)`).
			Description("AWS region of the exporter's scrape target (the region label of the scrape configuration)."),
	}
}

// chScopeVariables are the datasource, database, account and region
// variables every ClickHouse dashboard starts with: account and region come
// from each event's envelope.
func chScopeVariables(cfg Config) []cog.Builder[dashboard.VariableModel] {
	return []cog.Builder[dashboard.VariableModel]{
		datasourceVariable(clickhousePluginID, "ClickHouse"),
		dashboard.NewConstantVariableBuilder("database").
			Label("Database").
			Description("ClickHouse database of batchwatch's tables (ingest's --clickhouse.database).").
			Value(dashboard.StringOrMap{String: cog.ToPtr(cfg.ClickHouseDatabase)}),
		chVariable("account", "Account",
			"SELECT DISTINCT account FROM $database.jobs WHERE $__timeFilter(created_at) ORDER BY account").
			Description("AWS account of the jobs (the events' account)."),
		chVariable("region", "Region",
			"SELECT DISTINCT region FROM $database.jobs WHERE $__timeFilter(created_at) AND "+inFilter("account", "account")+" ORDER BY region").
			Description("AWS region of the jobs (the events' region)."),
	}
}

// withSelectionVariables adds the scope variables (datasource, database,
// account, region) and the job_queue, job_definition and tier variables,
// their values read from table within scope (an SQL condition).
func withSelectionVariables(b *dashboard.DashboardBuilder, cfg Config, table, scope string) *dashboard.DashboardBuilder {
	for _, v := range chScopeVariables(cfg) {
		b = b.WithVariable(v)
	}
	from := " FROM $database." + table + " WHERE " + scope
	return b.WithVariable(chVariable("job_queue", "Job queue", "SELECT DISTINCT job_queue"+from+" ORDER BY job_queue")).
		WithVariable(chVariable("job_definition", "Job definition",
			"SELECT DISTINCT job_definition"+from+" AND "+inFilter("job_queue", "job_queue")+" ORDER BY job_definition")).
		WithVariable(chVariable("tier", "Tier",
			fmt.Sprintf("SELECT DISTINCT %s AS tier%s AND has(tag_keys, %s) ORDER BY tier", tagValue(cfg.TierTag), from, sqlString(cfg.TierTag))))
}

// costTagVariable chooses which cost-allocation tag the cost panels group by.
func costTagVariable(cfg Config) *dashboard.CustomVariableBuilder {
	opts := make([]dashboard.VariableOption, 0, len(cfg.CostTagKeys))
	for i, k := range cfg.CostTagKeys {
		opts = append(opts, dashboard.VariableOption{
			Selected: cog.ToPtr(i == 0),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(k)},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(k)},
		})
	}
	values := ""
	for i, k := range cfg.CostTagKeys {
		if i > 0 {
			values += ","
		}
		values += k
	}
	return dashboard.NewCustomVariableBuilder("cost_tag").
		Label("Cost tag").
		Description("Cost-allocation tag the cost and usage panels group by.").
		Values(dashboard.StringOrMap{String: cog.ToPtr(values)}).
		Current(opts[0]).
		Options(opts)
}

// promQuery is a range query drawn as a time series.
func promQuery(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Expr(expr).
		LegendFormat(legend).
		Range()
}

// promTableQuery is an instant query shown as a table (one row per series).
func promTableQuery(expr, refID string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Expr(expr).
		Instant().
		Format(prometheus.PromQueryFormatTable).
		RefId(refID)
}

// promHeatmapQuery reads histogram buckets for a heatmap panel.
func promHeatmapQuery(expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Expr(expr).
		LegendFormat("{{le}}").
		Format(prometheus.PromQueryFormatHeatmap).
		Range()
}

// defaultTimeseries is the house time series: lines without points,
// legend as a table with last/max, shared tooltip.
func defaultTimeseries(pluginID string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Datasource(dsRef(pluginID)).
		Height(panelH).
		Span(halfWidth).
		LineWidth(1).
		FillOpacity(10).
		LineInterpolation(common.LineInterpolationLinear).
		ShowPoints(common.VisibilityModeNever).
		DrawStyle(common.GraphDrawStyleLine).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			Calcs([]string{"lastNotNull", "max"}).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending)).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		AxisSoftMin(0)
}

// stackedTimeseries stacks its series: parts of a whole (jobs by status).
func stackedTimeseries(pluginID string) *timeseries.PanelBuilder {
	return defaultTimeseries(pluginID).
		FillOpacity(40).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
}

// barsTimeseries draws counts per interval as bars.
func barsTimeseries(pluginID string) *timeseries.PanelBuilder {
	return stackedTimeseries(pluginID).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80)
}

// defaultStat is a single number with its trend.
func defaultStat(pluginID string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Datasource(dsRef(pluginID)).
		Height(statH).
		Span(thirdWidth).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeArea).
		JustifyMode(common.BigValueJustifyModeAuto).
		TextMode(common.BigValueTextModeAuto)
}

// defaultTable is a full-width table with a filter per column.
func defaultTable(pluginID string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Datasource(dsRef(pluginID)).
		Height(tableH).
		Span(fullWidth).
		Filterable(true).
		CellHeight(common.TableCellHeightSm).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}))
}

// defaultHeatmap shows a histogram's buckets over time.
func defaultHeatmap(pluginID string) *heatmap.PanelBuilder {
	return heatmap.NewPanelBuilder().
		Datasource(dsRef(pluginID)).
		Height(panelH).
		Span(halfWidth).
		Calculate(false).
		CellGap(1).
		Color(heatmap.NewHeatmapColorOptionsBuilder().
			Mode(heatmap.HeatmapColorModeScheme).
			Scheme("Oranges").
			Steps(64).
			Exponent(0.5).
			Fill("dark-orange")).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit("s")).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutLe)).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true)).
		ShowLegend()
}

// thresholds builds absolute thresholds: green below the first step.
func thresholds(steps ...thresholdStep) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: "green"}}
	for _, st := range steps {
		s = append(s, dashboard.Threshold{Value: cog.ToPtr(st.value), Color: st.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

type thresholdStep struct {
	value float64
	color string
}

// organize renames and orders table columns and hides the rest.
func organize(renames map[string]string, order []string, hide ...string) dashboard.DataTransformerConfig {
	index := map[string]int{}
	for i, c := range order {
		index[c] = i
	}
	excluded := map[string]bool{}
	for _, h := range hide {
		excluded[h] = true
	}
	return dashboard.DataTransformerConfig{
		Id: "organize",
		Options: map[string]any{
			"excludeByName": excluded,
			"indexByName":   index,
			"renameByName":  renames,
		},
	}
}

// joinByField merges the frames of several table queries on shared columns.
func joinByField(field string) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{
		Id:      "joinByField",
		Options: map[string]any{"byField": field, "mode": "outer"},
	}
}

// finish numbers the panels and names the queries of a built dashboard.
// Grafana needs unique panel ids (rows included) and refers to queries by
// refId in transformations ("Value #B"); the SDK leaves both to the caller.
func finish(d dashboard.Dashboard, err error) (dashboard.Dashboard, error) {
	if err != nil {
		return d, err
	}
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.RowPanel != nil:
			p.RowPanel.Id = id
			for i := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[i].Id = cog.ToPtr(id)
				nameQueries(&p.RowPanel.Panels[i])
			}
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
			nameQueries(p.Panel)
		}
	}
	return d, nil
}

// nameQueries gives targets without a refId the letter of their position.
func nameQueries(p *dashboard.Panel) {
	for i, t := range p.Targets {
		ref := string(rune('A' + i))
		switch q := t.(type) {
		case prometheus.Dataquery:
			if q.RefId == nil {
				q.RefId = cog.ToPtr(ref)
			}
			p.Targets[i] = q
		case ClickHouseQuery:
			if q.RefId == "" {
				q.RefId = ref
			}
			p.Targets[i] = q
		}
	}
}
