package dashboards

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/sirupsen/logrus"
)

// Verifier runs every query of generated dashboards against a real
// Prometheus and a real ClickHouse, the way Grafana would run them, and
// reports which fail and which return no data.
type Verifier struct {
	// Prometheus answers the PromQL targets and label_values variables.
	Prometheus promv1.API
	// ClickHouse answers the SQL targets and variables.
	ClickHouse driver.Conn
	// PromRange and ClickHouseRange are the dashboard time ranges used for
	// each datasource (data written by a simulator can sit at another
	// time than the scrapes).
	PromRange, ClickHouseRange TimeRange
	// ScrapeInterval is the Prometheus datasource's minimum interval (the
	// scrape interval), which sets $__rate_interval.
	ScrapeInterval time.Duration
	// MaxDataPoints is the panel width Grafana would ask for; 1000 if 0.
	MaxDataPoints int
	// Database, when set, replaces the `database` constant variable.
	Database string
	// Select, when set, chooses each query variable's selection from its
	// options (nil or a missing name keeps "All").
	Select func(variable string, options []string) []string
	// JobID is the job the Job dashboard is verified with (its job_id
	// variable). Empty: the job with the most attempts, the latest stopped
	// first, in the database (PickJobID).
	JobID string
	Log   *logrus.Entry
}

// Result is the outcome of one query.
type Result struct {
	Target Target
	// Variable is set instead of Target for a template variable's query.
	Variable string
	// Expanded is the query as sent.
	Expanded string
	Err      error
	// Optional marks a variable that may have no values yet: account and
	// region of Prometheus come from the scrape configuration, which may
	// not set them (All then matches every series).
	Optional bool
	// Series counts result series (Prometheus) or rows (ClickHouse);
	// Points counts samples or rows holding at least one real number.
	Series, Points int
	// Values are a variable query's results.
	Values []string
}

// Name identifies the result in reports.
func (r Result) Name() string {
	if r.Variable != "" {
		return r.Target.Dashboard + " / variable " + r.Variable
	}
	return r.Target.Name()
}

// OK is a query that ran and returned data (or may return none).
func (r Result) OK() bool { return r.Err == nil && (r.Points > 0 || r.Optional) }

// String is one report line.
func (r Result) String() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("FAIL  %s: %v\n      query: %s", r.Name(), r.Err, r.Expanded)
	case r.Points == 0 && r.Optional:
		return fmt.Sprintf("ok    %s: no values (the scrape configuration sets no such label; All matches every series)", r.Name())
	case r.Points == 0:
		return fmt.Sprintf("EMPTY %s: no data\n      query: %s", r.Name(), r.Expanded)
	}
	return fmt.Sprintf("ok    %s: %d series/rows, %d points", r.Name(), r.Series, r.Points)
}

// Verify runs the variables and targets of every dashboard, in order: a
// variable's options feed the variables and targets after it.
func (v *Verifier) Verify(ctx context.Context, dashboards []*ParsedDashboard) []Result {
	var out []Result
	for _, d := range dashboards {
		out = append(out, v.verifyDashboard(ctx, d)...)
	}
	return out
}

func (v *Verifier) verifyDashboard(ctx context.Context, d *ParsedDashboard) []Result {
	vars := append([]Variable(nil), d.Variables...)
	if v.Database != "" {
		for i := range vars {
			if vars[i].Name == "database" && vars[i].Type == "constant" {
				vars[i].Query = v.Database
			}
		}
	}
	exp := map[TargetKind]*Expander{}
	for kind, r := range map[TargetKind]TimeRange{KindPrometheus: v.PromRange, KindClickHouse: v.ClickHouseRange} {
		scrape := v.ScrapeInterval
		if kind == KindClickHouse || scrape <= 0 {
			scrape = 15 * time.Second
			if kind == KindClickHouse {
				scrape = time.Second // the ClickHouse plugin has no minimum interval by default
			}
		}
		exp[kind] = &Expander{
			Range: r, Intervals: ComputeIntervals(r, v.MaxDataPoints, scrape), Variables: vars,
			Selected: map[string][]string{}, Options: map[string][]string{},
		}
	}
	var out []Result
	for _, va := range vars {
		if va.Type == "textbox" && va.Name == "job_id" {
			res := v.pickJob(ctx, d.UID, vars)
			if res.Err != nil {
				out = append(out, res)
			}
			for _, e := range exp {
				e.Selected[va.Name] = res.Values
			}
			continue
		}
		if va.Type != "query" {
			continue
		}
		res := v.runVariable(ctx, d.UID, va, exp[va.Kind])
		out = append(out, res)
		for _, e := range exp {
			e.Options[va.Name] = res.Values
			if v.Select != nil {
				if sel := v.Select(va.Name, res.Values); len(sel) > 0 {
					e.Selected[va.Name] = sel
				}
			}
		}
	}
	for _, t := range d.Targets {
		e, ok := exp[t.Kind]
		if !ok {
			out = append(out, Result{Target: t, Err: fmt.Errorf("no datasource for %s targets", t.Kind)})
			continue
		}
		out = append(out, v.runTarget(ctx, t, e))
	}
	return out
}

func (v *Verifier) runVariable(ctx context.Context, uid string, va Variable, e *Expander) Result {
	res := Result{Target: Target{Dashboard: uid, Kind: va.Kind}, Variable: va.Name}
	if e == nil {
		res.Err = fmt.Errorf("variable of unknown datasource kind %q", va.Kind)
		return res
	}
	q, err := e.Expand(va.Query, va.Kind)
	res.Expanded = q
	if err != nil {
		res.Err = err
		return res
	}
	switch va.Kind {
	case KindPrometheus:
		res.Values, res.Err = v.labelValues(ctx, q, e.Range)
	case KindClickHouse:
		res.Values, res.Err = v.clickhouseColumn(ctx, q)
	}
	res.Series, res.Points = len(res.Values), len(res.Values)
	res.Optional = va.Kind == KindPrometheus && isScopeVariable(va.Name)
	return res
}

// isScopeVariable names the account and region variables.
func isScopeVariable(name string) bool { return name == "account" || name == "region" }

// pickJob chooses the job of the job_id variable: v.JobID, else one from
// the database of the dashboard's `database` variable.
func (v *Verifier) pickJob(ctx context.Context, uid string, vars []Variable) Result {
	res := Result{Target: Target{Dashboard: uid, Kind: KindClickHouse}, Variable: "job_id"}
	if v.JobID != "" {
		res.Values = []string{v.JobID}
		return res
	}
	db := ""
	for _, va := range vars {
		if va.Name == "database" && va.Type == "constant" {
			db = va.Query
		}
	}
	if v.ClickHouse == nil {
		res.Err = errors.New("no ClickHouse configured to pick a job from")
		return res
	}
	id, err := PickJobID(ctx, v.ClickHouse, db)
	res.Values, res.Err = []string{id}, err
	return res
}

// PickJobID returns a job of the database worth showing on the Job
// dashboard: the one with the most attempts, the latest stopped first.
func PickJobID(ctx context.Context, conn driver.Conn, database string) (string, error) {
	if !dbRE.MatchString(database) {
		return "", fmt.Errorf("pick a job: database name %q", database)
	}
	var id string
	err := conn.QueryRow(ctx, "SELECT job_id FROM "+database+".jobs FINAL WHERE attempts > 0 ORDER BY attempts DESC, stopped_at_ms DESC, job_id LIMIT 1").Scan(&id)
	if err != nil {
		return "", fmt.Errorf("pick a job with attempts: %w", err)
	}
	return id, nil
}

func (v *Verifier) runTarget(ctx context.Context, t Target, e *Expander) Result {
	res := Result{Target: t}
	q, err := e.Expand(t.Query, t.Kind)
	res.Expanded = q
	if err != nil {
		res.Err = err
		return res
	}
	if v.Log != nil {
		v.Log.WithField("target", t.Name()).Debug("running panel query")
	}
	switch t.Kind {
	case KindPrometheus:
		res.Series, res.Points, res.Err = v.promQuery(ctx, q, t.Instant, e)
	case KindClickHouse:
		res.Series, res.Points, res.Err = v.clickhouseQuery(ctx, q, t.TimeSeries)
	}
	return res
}

// promQuery runs a range query with Grafana's step ($__interval), or an
// instant query at the end of the range, and counts real samples (NaN, as
// from histogram_quantile over no observations, draws nothing).
func (v *Verifier) promQuery(ctx context.Context, q string, instant bool, e *Expander) (int, int, error) {
	if v.Prometheus == nil {
		return 0, 0, errors.New("no Prometheus configured")
	}
	var (
		val model.Value
		err error
	)
	if instant {
		val, _, _, err = v.Prometheus.Query(ctx, q, e.Range.To)
	} else {
		val, _, _, err = v.Prometheus.QueryRange(ctx, q, promv1.Range{Start: e.Range.From, End: e.Range.To, Step: e.Intervals.Interval})
	}
	if err != nil {
		return 0, 0, fmt.Errorf("prometheus: %w", err)
	}
	series, points := 0, 0
	real := func(f model.SampleValue) bool {
		x := float64(f)
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	switch r := val.(type) {
	case model.Matrix:
		for _, s := range r {
			series++
			for _, p := range s.Values {
				if real(p.Value) {
					points++
				}
			}
		}
	case model.Vector:
		for _, s := range r {
			series++
			if real(s.Value) {
				points++
			}
		}
	case *model.Scalar:
		series = 1
		if real(r.Value) {
			points++
		}
	default:
		return 0, 0, fmt.Errorf("prometheus: unexpected result type %s", val.Type())
	}
	return series, points, nil
}

// labelValuesRE parses label_values([selector,] label).
var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$`)

// labelValues answers a Prometheus variable query the way the datasource
// does for label_values: the label's values among the selector's series.
func (v *Verifier) labelValues(ctx context.Context, q string, r TimeRange) ([]string, error) {
	if v.Prometheus == nil {
		return nil, errors.New("no Prometheus configured")
	}
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return nil, fmt.Errorf("unsupported variable query %q (only label_values)", q)
	}
	var matches []string
	if m[1] != "" {
		matches = []string{m[1]}
	}
	vals, _, _, err := v.Prometheus.LabelValues(ctx, m[2], matches, r.From, r.To)
	if err != nil {
		return nil, fmt.Errorf("prometheus label values: %w", err)
	}
	out := make([]string, 0, len(vals))
	for _, x := range vals {
		if x != "" {
			out = append(out, string(x))
		}
	}
	sort.Strings(out)
	return out, nil
}

// clickhouseColumn runs a variable query and returns its first column as
// text, as the plugin does for variables.
func (v *Verifier) clickhouseColumn(ctx context.Context, q string) ([]string, error) {
	rows, err := v.queryCH(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		if len(vals) > 0 {
			out = append(out, fmt.Sprint(deref(vals[0])))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return out, nil
}

// clickhouseQuery runs a panel's SQL and counts rows and rows with data
// (a number that is not NaN, or any non-numeric value for tables). For
// time series it also checks what Grafana needs: a DateTime column.
func (v *Verifier) clickhouseQuery(ctx context.Context, q string, timeSeries bool) (int, int, error) {
	rows, err := v.queryCH(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	if timeSeries {
		hasTime := false
		for _, ct := range rows.ColumnTypes() {
			if strings.HasPrefix(ct.DatabaseTypeName(), "DateTime") || ct.DatabaseTypeName() == "Date" {
				hasTime = true
			}
		}
		if !hasTime {
			return 0, 0, errors.New("time series query without a Date or DateTime column")
		}
	}
	n, points := 0, 0
	for rows.Next() {
		vals, err := scanRow(rows)
		if err != nil {
			return 0, 0, err
		}
		n++
		if rowHasData(vals) {
			points++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("clickhouse: %w", err)
	}
	return n, points, nil
}

func (v *Verifier) queryCH(ctx context.Context, q string) (driver.Rows, error) {
	if v.ClickHouse == nil {
		return nil, errors.New("no ClickHouse configured")
	}
	rows, err := v.ClickHouse.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return rows, nil
}

// scanRow reads one row into values of the columns' own types.
func scanRow(rows driver.Rows) ([]any, error) {
	cts := rows.ColumnTypes()
	dest := make([]any, len(cts))
	for i, ct := range cts {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, fmt.Errorf("clickhouse scan: %w", err)
	}
	return dest, nil
}

// rowHasData: a row with only NaN numbers (an aggregate over no rows)
// draws nothing in Grafana.
func rowHasData(vals []any) bool {
	numbers, nan := 0, 0
	for _, p := range vals {
		switch x := deref(p).(type) {
		case float64:
			numbers++
			if math.IsNaN(x) || math.IsInf(x, 0) {
				nan++
			}
		case float32:
			numbers++
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				nan++
			}
		}
	}
	return numbers == 0 || nan < numbers
}

// deref follows pointers down to the value.
func deref(p any) any {
	rv := reflect.ValueOf(p)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	return rv.Interface()
}
