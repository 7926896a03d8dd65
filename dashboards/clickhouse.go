package dashboards

import (
	"errors"
	"reflect"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// ClickHouseFormat is the result format the grafana-clickhouse-datasource
// backend (grafana/sqlds) converts rows to.
type ClickHouseFormat int

// The formats batchwatch uses (sqlds FormatQueryOption values).
const (
	// ClickHouseTimeSeries needs a DateTime column; long results (time,
	// label columns, value) are turned into one series per label set.
	ClickHouseTimeSeries ClickHouseFormat = 0
	// ClickHouseTable keeps rows as they are.
	ClickHouseTable ClickHouseFormat = 1
)

// ClickHousePluginVersion is the grafana-clickhouse-datasource release the
// dashboards are written for: the compose stack installs exactly this one
// (docker-compose.yml at the repository root, GF_INSTALL_PLUGINS), and every query carries
// it as pluginVersion. The plugin treats a query without a pluginVersion of
// 4.0.0 or later as a v3 query and rewrites it on load (its
// src/data/migration.ts), guessing queryType from format.
const ClickHousePluginVersion = "4.13.0"

// The plugin's QueryType values (src/types/sql.ts).
const (
	chQueryTypeTable      = "table"
	chQueryTypeTimeSeries = "timeSeries"
)

// ClickHouseQuery is a raw-SQL query of the grafana-clickhouse-datasource
// plugin (its CHSqlQuery model). SDK v0.0.18 has no type for this plugin, so
// it follows the SDK's examples/go/custom-query.
type ClickHouseQuery struct {
	RefId      string                `json:"refId"`
	Hide       *bool                 `json:"hide,omitempty"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	// PluginVersion tells the plugin the query is already in its current
	// (v4) shape.
	PluginVersion string `json:"pluginVersion"`
	// EditorType is always "sql": the builder mode cannot express FINAL
	// reads or the tag arrays.
	EditorType string `json:"editorType"`
	// QueryType is "table" or "timeSeries" (the plugin's QueryType).
	QueryType string           `json:"queryType"`
	Format    ClickHouseFormat `json:"format"`
	RawSql    string           `json:"rawSql"`
}

// ImplementsDataqueryVariant marks ClickHouseQuery as a panel target.
func (ClickHouseQuery) ImplementsDataqueryVariant() {}

// DataqueryType is the plugin id.
func (ClickHouseQuery) DataqueryType() string { return clickhousePluginID }

// Equals compares two queries.
func (q ClickHouseQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(ClickHouseQuery)
	return ok && reflect.DeepEqual(q, o)
}

// Validate requires SQL.
func (q ClickHouseQuery) Validate() error {
	if q.RawSql == "" {
		return errors.New("clickhouse query: rawSql is empty")
	}
	return nil
}

var _ cog.Builder[variants.Dataquery] = (*ClickHouseQueryBuilder)(nil)

// ClickHouseQueryBuilder builds a ClickHouseQuery.
type ClickHouseQueryBuilder struct {
	internal ClickHouseQuery
}

// NewClickHouseQueryBuilder starts a raw-SQL table query.
func NewClickHouseQueryBuilder(sql string) *ClickHouseQueryBuilder {
	return &ClickHouseQueryBuilder{internal: ClickHouseQuery{
		Datasource:    cog.ToPtr(dsRef(clickhousePluginID)),
		PluginVersion: ClickHousePluginVersion,
		EditorType:    "sql",
		QueryType:     chQueryTypeTable,
		Format:        ClickHouseTable,
		RawSql:        sql,
	}}
}

// Build returns the query.
func (b *ClickHouseQueryBuilder) Build() (variants.Dataquery, error) {
	// The SDK's panel builders expect cog.BuildErrors from target builders.
	if err := b.internal.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("clickhouse.dataquery", err)
	}
	return b.internal, nil
}

// RefId sets the query's reference id.
func (b *ClickHouseQueryBuilder) RefId(refID string) *ClickHouseQueryBuilder {
	b.internal.RefId = refID
	return b
}

// TimeSeries makes the result a time series.
func (b *ClickHouseQueryBuilder) TimeSeries() *ClickHouseQueryBuilder {
	b.internal.QueryType = chQueryTypeTimeSeries
	b.internal.Format = ClickHouseTimeSeries
	return b
}

// chQuery is a table query with refId A.
func chQuery(sql string) *ClickHouseQueryBuilder {
	return NewClickHouseQueryBuilder(sql).RefId("A")
}

// chSeries is a time-series query with refId A.
func chSeries(sql string) *ClickHouseQueryBuilder {
	return NewClickHouseQueryBuilder(sql).RefId("A").TimeSeries()
}

// chVariableQuery is a ClickHouse variable's query as the plugin saves it:
// an object of its query model (editorType and rawSql; the plugin's own
// dashboards write the same), not a bare string, which current versions
// read inconsistently.
func chVariableQuery(sql string) dashboard.StringOrMap {
	return dashboard.StringOrMap{Map: map[string]any{
		"refId":         "variable",
		"pluginVersion": ClickHousePluginVersion,
		"editorType":    "sql",
		"queryType":     chQueryTypeTable,
		"format":        int(ClickHouseTable),
		"rawSql":        sql,
	}}
}

// chAllValue is what "All" of a ClickHouse variable expands to: a quoted
// marker that inFilter recognises. Grafana inserts a custom all value as it
// is, unformatted.
const chAllValue = "'__all__'"

// chVariable is a multi-value ClickHouse variable with All, its query saved
// as a query object (and as the definition Grafana shows).
func chVariable(name, label, sql string) *dashboard.QueryVariableBuilder {
	return queryVariable(clickhousePluginID, name, label, "").
		Query(chVariableQuery(sql)).
		Definition(sql).
		AllValue(chAllValue)
}

// inFilter restricts expr to the values selected in the multi-value
// variable v: IN over the values as Grafana's singlequote format writes
// them (each in single quotes, a quote inside escaped as \', which
// ClickHouse reads), or everything when All is selected.
func inFilter(expr, v string) string {
	vals := "${" + v + ":singlequote}"
	return "(has([" + vals + "], " + chAllValue + ") OR " + expr + " IN (" + vals + "))"
}

// sqlString quotes s as a ClickHouse string literal.
func sqlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// chScopeFilter restricts rows of jobs or events to the selected accounts
// and regions.
func chScopeFilter() string {
	return inFilter("account", "account") + " AND " + inFilter("region", "region")
}

// chSelectionFilter restricts rows to the selected queues, job definitions
// and tiers: the columns jobs, attempts and events share.
func chSelectionFilter(cfg Config) string {
	return inFilter("job_queue", "job_queue") +
		" AND " + inFilter("job_definition", "job_definition") +
		" AND " + inFilter(tagValue(cfg.TierTag), "tier")
}

// chFilter restricts rows of jobs or events to every selection of the
// job-history dashboard: account, region, queue, definition and tier.
func chFilter(cfg Config) string {
	return chScopeFilter() + " AND " + chSelectionFilter(cfg)
}

// chAttemptsScope restricts rows of attempts (or usage), which have no
// account or region of their own, to the selected accounts and regions
// through the jobs table. With both on All the subquery's condition is
// false, so its set stays empty.
func chAttemptsScope() string {
	allScope := "has([${account:singlequote}], " + chAllValue + ") AND has([${region:singlequote}], " + chAllValue + ")"
	return "(" + allScope + " OR job_id IN (SELECT job_id FROM $database.jobs WHERE NOT (" + allScope + ") AND " + chScopeFilter() + "))"
}

// chAttemptsFilter is chFilter for the attempts table (see chAttemptsScope).
func chAttemptsFilter(cfg Config) string {
	return chAttemptsScope() + " AND " + chSelectionFilter(cfg)
}
