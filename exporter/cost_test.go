package exporter

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeCE answers GetCostAndUsage from daily costs per "product$x/tier$y"
// group, one group per page.
type fakeCE struct {
	daily map[string]map[string]float64 // day → group keys joined by "/" → USD
	calls int
	in    []*costexplorer.GetCostAndUsageInput
}

func (f *fakeCE) GetCostAndUsage(_ context.Context, in *costexplorer.GetCostAndUsageInput, _ ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error) {
	f.calls++
	f.in = append(f.in, in)
	start, _ := time.Parse("2006-01-02", aws.ToString(in.TimePeriod.Start))
	end, _ := time.Parse("2006-01-02", aws.ToString(in.TimePeriod.End))
	type cell struct {
		day, group string
		usd        float64
	}
	var cells []cell
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		for _, g := range []string{"product$a/tier$small", "product$a/tier$large", "product$/tier$"} {
			if v, ok := f.daily[day][g]; ok {
				cells = append(cells, cell{day, g, v})
			}
		}
	}
	off := 0
	if in.NextPageToken != nil {
		off, _ = strconv.Atoi(*in.NextPageToken)
	}
	out := &costexplorer.GetCostAndUsageOutput{}
	if off < len(cells) {
		c := cells[off]
		next, _ := time.Parse("2006-01-02", c.day)
		out.ResultsByTime = []cetypes.ResultByTime{{
			TimePeriod: &cetypes.DateInterval{Start: aws.String(c.day), End: aws.String(next.AddDate(0, 0, 1).Format("2006-01-02"))},
			Groups: []cetypes.Group{{Keys: strings.Split(c.group, "/"),
				Metrics: map[string]cetypes.MetricValue{"UnblendedCost": {Amount: aws.String(strconv.FormatFloat(c.usd, 'f', -1, 64)), Unit: aws.String("USD")}}}},
		}}
	}
	if off+1 < len(cells) {
		out.NextPageToken = aws.String(strconv.Itoa(off + 1))
	}
	return out, nil
}

func TestCostActualGolden(t *testing.T) {
	clock := newFakeClock() // 2026-11-20 10:00 UTC
	ce := &fakeCE{daily: map[string]map[string]float64{
		"2026-10-31": {"product$a/tier$small": 100},
		"2026-11-01": {"product$a/tier$small": 1.5, "product$/tier$": 0.25},
		"2026-11-19": {"product$a/tier$small": 2, "product$a/tier$large": 10},
		"2026-11-20": {"product$a/tier$large": 0.5},
	}}
	x, reg := testExporter(t, &Config{CostTags: []string{"product", "tier"}, CostRefreshInterval: 6 * time.Hour}, oneQueue(), clock, Deps{CostExplorer: ce})
	if n, _ := testutil.GatherAndCount(reg, "batchwatch_cost_actual_usd"); n != 0 {
		t.Fatal("cost served before Cost Explorer answered")
	}
	if err := x.RefreshCost(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := ce.in[0]
	if got := aws.ToString(in.TimePeriod.Start) + ".." + aws.ToString(in.TimePeriod.End); got != "2026-11-01..2026-11-21" {
		t.Errorf("time period %s", got)
	}
	if len(in.GroupBy) != 2 || aws.ToString(in.GroupBy[0].Key) != "product" || in.GroupBy[0].Type != cetypes.GroupDefinitionTypeTag {
		t.Errorf("group by %+v", in.GroupBy)
	}
	want := `
# HELP batchwatch_cost_actual_usd Actual cost from Cost Explorer grouped by the cost-allocation tags, for yesterday and the month to date (today included). Cached: refreshed every --exporter.cost-refresh-interval, see batchwatch_cost_last_refresh_timestamp_seconds; Cost Explorer itself lags up to a day.
# TYPE batchwatch_cost_actual_usd gauge
batchwatch_cost_actual_usd{period="month_to_date",tag_product="",tag_tier=""} 0.25
batchwatch_cost_actual_usd{period="month_to_date",tag_product="a",tag_tier="large"} 10.5
batchwatch_cost_actual_usd{period="month_to_date",tag_product="a",tag_tier="small"} 3.5
batchwatch_cost_actual_usd{period="yesterday",tag_product="",tag_tier=""} 0
batchwatch_cost_actual_usd{period="yesterday",tag_product="a",tag_tier="large"} 10
batchwatch_cost_actual_usd{period="yesterday",tag_product="a",tag_tier="small"} 2
# HELP batchwatch_cost_last_refresh_timestamp_seconds When Cost Explorer last answered.
# TYPE batchwatch_cost_last_refresh_timestamp_seconds gauge
batchwatch_cost_last_refresh_timestamp_seconds 1.7951688e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_cost_actual_usd", "batchwatch_cost_last_refresh_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	lint(t, reg)
}

func TestCostFirstOfMonthIncludesYesterday(t *testing.T) {
	clock := newFakeClock()
	clock.Advance(11 * 24 * time.Hour) // 2026-12-01
	ce := &fakeCE{daily: map[string]map[string]float64{"2026-11-30": {"product$a/tier$small": 7}}}
	x, _ := testExporter(t, &Config{CostTags: []string{"product", "tier"}, CostRefreshInterval: 6 * time.Hour}, oneQueue(), clock, Deps{CostExplorer: ce})
	if err := x.RefreshCost(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(ce.in[0].TimePeriod.Start); got != "2026-11-30" {
		t.Errorf("start %s", got)
	}
	rows, _ := x.cost.snapshot()
	want := []CostRow{{Period: PeriodMonthToDate, Tags: []string{"a", "small"}, USD: 0}, {Period: PeriodYesterday, Tags: []string{"a", "small"}, USD: 7}}
	if len(rows) != 2 || rows[0].USD != want[0].USD || rows[1].USD != want[1].USD || rows[1].Period != want[1].Period {
		t.Fatalf("rows %+v", rows)
	}
}

func TestCostExplorerBudget(t *testing.T) {
	clock := newFakeClock()
	ce := &fakeCE{daily: map[string]map[string]float64{
		"2026-11-19": {"product$a/tier$small": 2, "product$a/tier$large": 10}, // two pages a refresh
	}}
	x, reg := testExporter(t, &Config{CostTags: []string{"product", "tier"}, CostRefreshInterval: time.Hour, CostDailyCalls: 24}, oneQueue(), clock, Deps{CostExplorer: ce})
	var spent int
	for hour := range 72 {
		err := x.RefreshCost(context.Background())
		if err != nil && !errors.Is(err, errCostBudget) {
			t.Fatal(err)
		}
		if n := x.cost.callsLastDay(); n > 24 {
			t.Fatalf("hour %d: %d calls in the last 24 hours", hour, n)
		}
		if errors.Is(err, errCostBudget) {
			spent++
		}
		clock.Advance(time.Hour)
	}
	if ce.calls > 3*24 || spent == 0 {
		t.Fatalf("%d calls in 72 hours, %d refreshes refused", ce.calls, spent)
	}
	// A refused refresh keeps serving the cached answer.
	if n, _ := testutil.GatherAndCount(reg, "batchwatch_cost_actual_usd"); n == 0 {
		t.Fatal("cached cost not served")
	}
}
