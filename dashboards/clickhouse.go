package dashboards

import (
	"errors"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
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

// ClickHouseQuery is a raw-SQL query of the grafana-clickhouse-datasource
// plugin (its CHSqlQuery model). SDK v0.0.18 has no type for this plugin, so
// it follows the SDK's examples/go/custom-query.
type ClickHouseQuery struct {
	RefId      string                `json:"refId"`
	Hide       *bool                 `json:"hide,omitempty"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	// EditorType is always "sql": the builder mode cannot express FINAL
	// reads or the tag arrays.
	EditorType string `json:"editorType"`
	// QueryType is "table" or "timeseries" (the plugin's QueryType).
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
		Datasource: cog.ToPtr(dsRef(clickhousePluginID)),
		EditorType: "sql",
		QueryType:  "table",
		Format:     ClickHouseTable,
		RawSql:     sql,
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
	b.internal.QueryType = "timeseries"
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
