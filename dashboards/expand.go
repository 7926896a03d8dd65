package dashboards

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// TimeRange is a dashboard's time range.
type TimeRange struct {
	From, To time.Time
}

// Duration is the length of the range.
func (r TimeRange) Duration() time.Duration { return r.To.Sub(r.From) }

// Intervals are the interval variables Grafana derives for one panel.
type Intervals struct {
	// Interval is $__interval: the range over the panel's data points,
	// rounded, never below the datasource's minimum interval.
	Interval time.Duration
	// RateInterval is $__rate_interval (Prometheus only):
	// max($__interval + scrape interval, 4 × scrape interval).
	RateInterval time.Duration
}

// ComputeIntervals does what Grafana does for a panel of maxDataPoints
// (its width in pixels) over r on a datasource whose minimum interval is
// the scrape interval (the Prometheus datasource's "timeInterval"; 15s by
// default).
func ComputeIntervals(r TimeRange, maxDataPoints int, scrape time.Duration) Intervals {
	if maxDataPoints <= 0 {
		maxDataPoints = 1000
	}
	iv := roundInterval(r.Duration() / time.Duration(maxDataPoints))
	if iv < scrape {
		iv = scrape
	}
	if iv < time.Millisecond {
		iv = time.Millisecond
	}
	rate := iv + scrape
	if four := 4 * scrape; four > rate {
		rate = four
	}
	return Intervals{Interval: iv, RateInterval: rate}
}

// roundInterval is Grafana's rangeutil.roundInterval: the "nice" interval
// a raw interval rounds to.
func roundInterval(d time.Duration) time.Duration {
	ms := d.Milliseconds()
	steps := []struct {
		below int64
		to    time.Duration
	}{
		{15, 10 * time.Millisecond},
		{35, 20 * time.Millisecond},
		{75, 50 * time.Millisecond},
		{150, 100 * time.Millisecond},
		{350, 200 * time.Millisecond},
		{750, 500 * time.Millisecond},
		{1500, time.Second},
		{3500, 2 * time.Second},
		{7500, 5 * time.Second},
		{12500, 10 * time.Second},
		{17500, 15 * time.Second},
		{25000, 20 * time.Second},
		{45000, 30 * time.Second},
		{90000, time.Minute},
		{450000, 5 * time.Minute},
		{1050000, 10 * time.Minute},
		{1800000, 15 * time.Minute},
		{3600000, 30 * time.Minute},
		{7200000, time.Hour},
		{10800000, 2 * time.Hour},
		{21600000, 3 * time.Hour},
		{43200000, 6 * time.Hour},
		{86400000, 12 * time.Hour},
		{604800000, 24 * time.Hour},
		{1814400000, 7 * 24 * time.Hour},
		{3628800000, 30 * 24 * time.Hour},
	}
	for _, s := range steps {
		if ms < s.below {
			return s.to
		}
	}
	return 365 * 24 * time.Hour
}

// Expander expands Grafana template variables, global variables and the
// ClickHouse plugin's macros in a query, for one time range and one
// selection of the dashboard's variables.
type Expander struct {
	Range     TimeRange
	Intervals Intervals
	// Variables are the dashboard's variables.
	Variables []Variable
	// Selected is the selection per variable name: Grafana's $__all for
	// All, otherwise the chosen values. Variables missing here keep their
	// saved selection (Current).
	Selected map[string][]string
	// Options are the values a query variable's query returned, needed
	// when All has no custom all value.
	Options map[string][]string
}

// varRE is Grafana's variable syntax: $name, ${name}, ${name:format},
// [[name]] and [[name:format]].
var varRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// Expand returns the query as the datasource receives it: Grafana's
// variables first (frontend), then, for ClickHouse, the plugin's macros
// (backend, grafana/sqlds).
func (e *Expander) Expand(query string, kind TargetKind) (string, error) {
	var firstErr error
	out := varRE.ReplaceAllStringFunc(query, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		name, format := sub[1], ""
		switch {
		case sub[2] != "":
			name, format = sub[2], sub[3]
		case sub[4] != "":
			name, format = sub[4], sub[6]
			if sub[5] != "" { // ${name.field}: not used by batchwatch
				return m
			}
		}
		v, ok, err := e.value(name, format, kind)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !ok {
			return m // Grafana leaves unknown names alone (macros included)
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	if kind == KindClickHouse {
		return e.clickhouseMacros(out)
	}
	return out, nil
}

// value is the text of one variable reference; ok is false for names
// Grafana does not know.
func (e *Expander) value(name, format string, kind TargetKind) (string, bool, error) {
	switch name {
	case "__interval":
		return promDuration(e.Intervals.Interval), true, nil
	case "__interval_ms":
		return strconv.FormatInt(e.Intervals.Interval.Milliseconds(), 10), true, nil
	case "__rate_interval":
		if kind != KindPrometheus {
			return "", false, nil
		}
		return promDuration(e.Intervals.RateInterval), true, nil
	case "__range":
		return promDuration(e.Range.Duration().Round(time.Second)), true, nil
	case "__range_s":
		return strconv.FormatInt(int64(e.Range.Duration().Seconds()), 10), true, nil
	case "__range_ms":
		return strconv.FormatInt(e.Range.Duration().Milliseconds(), 10), true, nil
	case "__from":
		return strconv.FormatInt(e.Range.From.UnixMilli(), 10), true, nil
	case "__to":
		return strconv.FormatInt(e.Range.To.UnixMilli(), 10), true, nil
	}
	var v *Variable
	for i := range e.Variables {
		if e.Variables[i].Name == name {
			v = &e.Variables[i]
		}
	}
	if v == nil {
		return "", false, nil
	}
	sel, ok := e.Selected[name]
	if !ok {
		sel = v.Current
	}
	switch v.Type {
	case "constant":
		return v.Query, true, nil
	case "textbox":
		// One value, typed in or from a link: what is selected, else the
		// saved value, else the default.
		if len(sel) == 0 {
			sel = []string{v.Query}
		}
		return formatValues(sel[:1], format, v, kind), true, nil
	case "datasource":
		return "", false, nil
	case "custom":
		if len(sel) == 0 {
			vals := customValues(v.Query)
			if len(vals) == 0 {
				return "", true, fmt.Errorf("variable %s has no values", name)
			}
			sel = vals[:1]
		}
	}
	if isAll(sel) {
		if v.AllValue != "" {
			// Grafana does not format a custom all value (except for the
			// text and URL formats, which batchwatch does not use).
			return v.AllValue, true, nil
		}
		sel = e.Options[name]
		if len(sel) == 0 {
			return "", true, fmt.Errorf("variable %s: All without an all value needs the options of its query", name)
		}
	}
	return formatValues(sel, format, v, kind), true, nil
}

// formatValues applies a Grafana variable format.
func formatValues(vals []string, format string, v *Variable, kind TargetKind) string {
	switch format {
	case "regex":
		return regexFormat(vals)
	case "pipe":
		return strings.Join(vals, "|")
	case "csv":
		return strings.Join(vals, ",")
	case "singlequote":
		q := make([]string, len(vals))
		for i, s := range vals {
			q[i] = "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
		}
		return strings.Join(q, ",")
	case "doublequote":
		q := make([]string, len(vals))
		for i, s := range vals {
			q[i] = `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
		}
		return strings.Join(q, ",")
	case "raw", "text":
		return strings.Join(vals, ",")
	}
	// No format: the datasource decides. Prometheus escapes for regex
	// matchers when the variable can hold several values.
	if kind == KindPrometheus && (v.Multi || v.IncludeAll) {
		return regexFormat(vals)
	}
	return strings.Join(vals, ",")
}

// regexFormat is Grafana's regex format: one escaped value, or several in
// a group of alternatives.
func regexFormat(vals []string) string {
	if len(vals) == 1 {
		return escapeRegex(vals[0])
	}
	q := make([]string, len(vals))
	for i, s := range vals {
		q[i] = escapeRegex(s)
	}
	return "(" + strings.Join(q, "|") + ")"
}

// escapeRegex is Grafana's escapeRegex: a backslash before
// \ ^ $ * + ? . ( ) | [ ] { } and /.
func escapeRegex(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\^$*+?.()|[]{}/`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// promDuration formats a duration the way PromQL reads it (1m30s, 250ms).
func promDuration(d time.Duration) string {
	if d <= 0 {
		d = time.Millisecond
	}
	return model.Duration(d).String()
}

// chMacroRE finds the ClickHouse plugin's macros: $__name or
// $__name(args). Longer names first so $__timeFilter_ms is not read as
// $__timeFilter.
var chMacroRE = regexp.MustCompile(`\$__(timeFilter_ms|timeFilter|timeInterval_ms|timeInterval|dateTimeFilter|dateFilter|fromTime_ms|fromTime|toTime_ms|toTime|interval_s|dt)\b(?:\(([^)]*)\))?`)

// clickhouseMacros expands the macros of grafana-clickhouse-datasource
// (pkg/macros) exactly as the plugin writes them, including the ones 18.16
// rejects ($__timeInterval's toStartOfInterval, the _ms variants'
// DateTime64), so a query using them fails here as it would in Grafana.
func (e *Expander) clickhouseMacros(sql string) (string, error) {
	from, to := e.Range.From, e.Range.To
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	dt64 := func(t time.Time) string { return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli()) }
	date := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format("2006-01-02")) }
	var firstErr error
	out := chMacroRE.ReplaceAllStringFunc(sql, func(m string) string {
		sub := chMacroRE.FindStringSubmatch(m)
		name := sub[1]
		var args []string
		if sub[2] != "" {
			for _, a := range strings.Split(sub[2], ",") {
				args = append(args, strings.TrimSpace(a))
			}
		}
		need := func(n int) bool {
			if len(args) != n && firstErr == nil {
				firstErr = fmt.Errorf("macro $__%s: expected %d arguments, got %d", name, n, len(args))
			}
			return len(args) == n
		}
		seconds := int64(math.Max(e.Intervals.Interval.Seconds(), 1))
		switch name {
		case "fromTime":
			return dt(from)
		case "toTime":
			return dt(to)
		case "fromTime_ms":
			return dt64(from)
		case "toTime_ms":
			return dt64(to)
		case "interval_s":
			return strconv.FormatInt(seconds, 10)
		case "timeFilter":
			if need(1) {
				return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt(from), args[0], dt(to))
			}
		case "timeFilter_ms":
			if need(1) {
				return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt64(from), args[0], dt64(to))
			}
		case "dateFilter":
			if need(1) {
				return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], date(from), args[0], date(to))
			}
		case "dateTimeFilter", "dt":
			if need(2) {
				return fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
					args[0], date(from), args[0], date(to), args[1], dt(from), args[1], dt(to))
			}
		case "timeInterval":
			if need(1) {
				return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], seconds)
			}
		case "timeInterval_ms":
			if need(1) {
				ms := max(e.Intervals.Interval.Milliseconds(), 1)
				return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], ms)
			}
		}
		return m
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}
