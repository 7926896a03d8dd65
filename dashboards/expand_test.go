package dashboards

import (
	"testing"
	"time"
)

func TestRoundInterval(t *testing.T) {
	for _, tc := range []struct {
		in, want time.Duration
	}{
		{5 * time.Millisecond, 10 * time.Millisecond},
		{time.Second, time.Second},
		{3 * time.Second, 2 * time.Second},
		{21600 * time.Millisecond, 20 * time.Second},
		{40 * time.Second, 30 * time.Second},
		{80 * time.Second, time.Minute},
		{5 * time.Minute, 5 * time.Minute},
		{20 * time.Minute, 15 * time.Minute},
		{2 * 24 * time.Hour, 24 * time.Hour},
		{400 * 24 * time.Hour, 365 * 24 * time.Hour},
	} {
		if got := roundInterval(tc.in); got != tc.want {
			t.Errorf("roundInterval(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestComputeIntervals(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name           string
		span           time.Duration
		points         int
		scrape         time.Duration
		interval, rate time.Duration
	}{
		// 6h over 1000 points is 21.6s → 20s; rate = max(20s+15s, 60s).
		{"six hours, 15s scrapes", 6 * time.Hour, 1000, 15 * time.Second, 20 * time.Second, time.Minute},
		// 7 days: 604.8s → 10m; rate = 10m + 15s.
		{"a week", 7 * 24 * time.Hour, 1000, 15 * time.Second, 10 * time.Minute, 10*time.Minute + 15*time.Second},
		// Short test ranges never go below the scrape interval.
		{"five minutes, 1s scrapes", 5 * time.Minute, 1000, time.Second, time.Second, 4 * time.Second},
		{"default points", time.Hour, 0, 15 * time.Second, 15 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ComputeIntervals(TimeRange{From: at.Add(-tc.span), To: at}, tc.points, tc.scrape)
			if got.Interval != tc.interval || got.RateInterval != tc.rate {
				t.Errorf("got interval %v rate %v, want %v and %v", got.Interval, got.RateInterval, tc.interval, tc.rate)
			}
		})
	}
}

func testExpander() *Expander {
	to := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	r := TimeRange{From: to.Add(-time.Hour), To: to}
	return &Expander{
		Range:     r,
		Intervals: Intervals{Interval: 20 * time.Second, RateInterval: time.Minute},
		Variables: []Variable{
			{Name: "datasource", Type: "datasource", Query: "prometheus"},
			{Name: "database", Type: "constant", Query: "batchwatch"},
			{Name: "job_queue", Type: "query", Multi: true, IncludeAll: true, AllValue: ".*", Current: []string{"$__all"}},
			{Name: "tier", Type: "query", Multi: true, IncludeAll: true, Current: []string{"$__all"}},
			{Name: "cost_tag", Type: "custom", Query: "team,product", Current: []string{"team"}},
			{Name: "plain", Type: "query", Current: []string{"a.b"}},
		},
		Selected: map[string][]string{},
		Options:  map[string][]string{"tier": {"small", "large"}},
	}
}

func TestExpandPrometheus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		selected map[string][]string
		in, want string
	}{
		{"all uses the all value unformatted", nil,
			`rate(x{job_queue=~"$job_queue"}[$__rate_interval])`, `rate(x{job_queue=~".*"}[1m])`},
		{"all without an all value lists the options", nil,
			`x{tier=~"$tier"}`, `x{tier=~"(small|large)"}`},
		{"one value is regex-escaped", map[string][]string{"job_queue": {"etl.v2"}},
			`x{job_queue=~"$job_queue"}`, `x{job_queue=~"etl\.v2"}`},
		{"several values become alternatives", map[string][]string{"job_queue": {"a", "b"}},
			`x{job_queue=~"${job_queue}"}`, `x{job_queue=~"(a|b)"}`},
		{"custom and bracket syntax", nil,
			`sum by (tag_$cost_tag) (x) / [[cost_tag]]`, `sum by (tag_team) (x) / team`},
		{"a single-value variable is not escaped", nil, `x{v="$plain"}`, `x{v="a.b"}`},
		{"global variables", nil, `$__interval $__range $__range_s $__interval_ms`, `20s 1h 3600 20000`},
		{"unknown names are left alone", nil, `$nothing ${nothing:csv} $__timeFilter(t)`, `$nothing ${nothing:csv} $__timeFilter(t)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testExpander()
			for k, v := range tc.selected {
				e.Selected[k] = v
			}
			got, err := e.Expand(tc.in, KindPrometheus)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestExpandClickHouse(t *testing.T) {
	// The range is 2026-11-22 11:00 to 12:00 UTC.
	for _, tc := range []struct {
		name     string
		selected map[string][]string
		in, want string
	}{
		{"time filter and database", nil,
			"SELECT count() FROM $database.jobs FINAL WHERE $__timeFilter(created_at)",
			"SELECT count() FROM batchwatch.jobs FINAL WHERE created_at >= toDateTime(1795345200) AND created_at <= toDateTime(1795348800)"},
		{"from, to and interval", nil,
			"toUnixTimestamp($__fromTime) $__toTime intDiv(x, $__interval_s)",
			"toUnixTimestamp(toDateTime(1795345200)) toDateTime(1795348800) intDiv(x, 20)"},
		{"regex format of All is the raw all value", nil,
			"match(job_queue, '^(${job_queue:regex})$')", "match(job_queue, '^(.*)$')"},
		{"regex format of a selection", map[string][]string{"job_queue": {"a", "b"}},
			"match(job_queue, '^(${job_queue:regex})$')", "match(job_queue, '^((a|b))$')"},
		{"singlequote and csv", map[string][]string{"job_queue": {"a", "o'b"}},
			"IN (${job_queue:singlequote}) ${job_queue:csv}", `IN ('a','o\'b') a,o'b`},
		{"date filter", nil, "$__dateFilter(d)", "d >= toDate('2026-11-22') AND d <= toDate('2026-11-22')"},
		{"macros 18.16 rejects are still written as the plugin writes them", nil,
			"$__timeInterval(t) $__fromTime_ms", "toStartOfInterval(toDateTime(t), INTERVAL 20 second) fromUnixTimestamp64Milli(1795345200000)"},
		{"$__rate_interval means nothing to ClickHouse", nil, "$__rate_interval", "$__rate_interval"},
		{"the console's escaped slash is no variable", nil, "replaceAll(s, '/', '$252F')", "replaceAll(s, '/', '$252F')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testExpander()
			for k, v := range tc.selected {
				e.Selected[k] = v
			}
			got, err := e.Expand(tc.in, KindClickHouse)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	e := testExpander()
	e.Options = map[string][]string{}
	if _, err := e.Expand(`x{tier=~"$tier"}`, KindPrometheus); err == nil {
		t.Error("All without an all value and without options must fail")
	}
	e = testExpander()
	if _, err := e.Expand("$__timeFilter()", KindClickHouse); err == nil {
		t.Error("$__timeFilter without its column must fail")
	}
}

// The ClickHouse filters expand as Grafana expands them: All into the
// quoted marker that has() recognises, a selection into quoted values
// (a quote escaped), and the textbox job id into one quoted value.
func TestExpandClickHouseFilters(t *testing.T) {
	vars := []Variable{
		{Name: "tier", Type: "query", Kind: KindClickHouse, Multi: true, IncludeAll: true, AllValue: chAllValue, Current: []string{"$__all"}},
		{Name: "job_id", Type: "textbox", Query: ""},
	}
	e := &Expander{Variables: vars, Selected: map[string][]string{}}
	for _, tc := range []struct {
		name     string
		selected map[string][]string
		query    string
		want     string
	}{
		{"All", nil, inFilter("tier", "tier"), "(has(['__all__'], '__all__') OR tier IN ('__all__'))"},
		{"a quote", map[string][]string{"tier": {"it's", "b"}}, inFilter("tier", "tier"), `(has(['it\'s','b'], '__all__') OR tier IN ('it\'s','b'))`},
		{"job id", map[string][]string{"job_id": {"a'b:1"}}, isThisJob, `job_id = 'a\'b:1'`},
		{"no job id", nil, isThisJob, "job_id = ''"},
	} {
		e.Selected = tc.selected
		got, err := e.Expand(tc.query, KindClickHouse)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestSQLString(t *testing.T) {
	if got, want := sqlString(`it's a \ test`), `'it\'s a \\ test'`; got != want {
		t.Errorf("sqlString = %s, want %s", got, want)
	}
}
