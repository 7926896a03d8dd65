package exporter

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestIdleBookAttribution(t *testing.T) {
	b := newIdleBook(time.Unix(0, 0))
	b.setCEs(&CapacitySnapshot{
		CEs: []CEInfo{
			{Name: "ec2", Type: "MANAGED", Capacity: "EC2", Cluster: "AWSBatch-ec2-1"},
			{Name: "spot", Type: "MANAGED", Capacity: "SPOT", Cluster: "AWSBatch-spot-1"},
			{Name: "fg", Type: "MANAGED", Capacity: "FARGATE", Cluster: "AWSBatch-fg-1"},
			{Name: "own", Type: "UNMANAGED", Cluster: "own-1"},
		},
		Queues: []QueueInfo{{Name: "q", ComputeEnvironments: []string{"ec2", "spot"}}, {Name: "f", ComputeEnvironments: []string{"fg"}}},
	})
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ms := func(h float64) int64 { return day.Add(time.Duration(h * float64(time.Hour))).UnixMilli() }
	b.add("q", "AWSBatch-spot-1", false, ms(23), ms(25), 4) // half on each day
	b.add("q", "", false, ms(1), ms(2), 1)                  // the queue's first CE
	b.add("q", "AWSBatch-fg-1", true, ms(1), ms(2), 8)      // Fargate: no idle cost
	b.add("f", "", true, ms(1), ms(2), 8)                   // Fargate job, cluster unknown
	b.add("q", "own-1", false, ms(1), ms(2), 16)            // unmanaged: instances not Batch's
	b.add("q", "AWSBatch-ec2-1", false, ms(3), ms(3), 0.5)  // zero length: its day
	got := b.attributed(day, day.AddDate(0, 0, 1))
	if len(got) != 2 || got["spot"] != 2 || got["ec2"] != 1.5 {
		t.Fatalf("day one %v", got)
	}
	got = b.attributed(day.AddDate(0, 0, 1), day.AddDate(0, 0, 2))
	if len(got) != 1 || got["spot"] != 2 {
		t.Fatalf("day two %v", got)
	}
	// Two months later the first days are gone.
	b.add("q", "", false, ms(24*70), ms(24*70+1), 1)
	if got = b.attributed(day, day.AddDate(0, 0, 2)); len(got) != 0 {
		t.Fatalf("old days kept: %v", got)
	}
}

// ceByTag answers GetCostAndUsage grouped by one tag from daily costs per
// "key$value" group, all in one page; other requests get no groups.
type ceByTag struct {
	key   string
	daily map[string]map[string]float64 // day → "key$value" → USD
}

func (f *ceByTag) GetCostAndUsage(_ context.Context, in *costexplorer.GetCostAndUsageInput, _ ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error) {
	out := &costexplorer.GetCostAndUsageOutput{}
	start, _ := time.Parse(costDay, aws.ToString(in.TimePeriod.Start))
	end, _ := time.Parse(costDay, aws.ToString(in.TimePeriod.End))
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		res := cetypes.ResultByTime{TimePeriod: &cetypes.DateInterval{Start: aws.String(d.Format(costDay)), End: aws.String(d.AddDate(0, 0, 1).Format(costDay))}}
		if len(in.GroupBy) == 1 && aws.ToString(in.GroupBy[0].Key) == f.key {
			for g, usd := range f.daily[d.Format(costDay)] {
				res.Groups = append(res.Groups, cetypes.Group{Keys: []string{g},
					Metrics: map[string]cetypes.MetricValue{"UnblendedCost": {Amount: aws.String(strconv.FormatFloat(usd, 'f', -1, 64)), Unit: aws.String("USD")}}})
			}
		}
		out.ResultsByTime = append(out.ResultsByTime, res)
	}
	return out, nil
}

// TestIdleCostGolden: the compute environments map their tag's values (a
// value no compute environment carries, and untagged cost, are left out),
// the attributed cost is by UTC day, idle is the difference.
func TestIdleCostGolden(t *testing.T) {
	clock := newFakeClock() // 2026-11-20 10:00 UTC
	fb := oneQueue()
	fb.ces[0].Tags = map[string]string{"ce": "spot"}
	fb.ces[1].Tags = map[string]string{"ce": "od"}
	ce := &ceByTag{key: "ce", daily: map[string]map[string]float64{
		"2026-11-19": {"ce$spot": 5, "ce$gone": 2, "ce$": 1},
		"2026-11-20": {"ce$od": 3},
	}}
	fc := &FileConfig{}
	fc.Cost.ComputeEnvironmentTag = "ce"
	x, reg := testExporter(t, &Config{File: fc, CostRefreshInterval: 6 * time.Hour}, fb, clock, Deps{CostExplorer: ce})
	if err := x.RefreshCapacity(context.Background()); err != nil {
		t.Fatal(err)
	}
	yesterday := time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC).UnixMilli()
	x.state.idle.add("q1", "spot-cluster", false, yesterday, yesterday+3600e3, 1.5)
	x.state.idle.add("q1", "", false, clock.Now().UnixMilli()-3600e3, clock.Now().UnixMilli(), 0.5) // the queue's first: ce-spot
	x.state.idle.add("q1", "od-cluster", false, clock.Now().UnixMilli()-3600e3, clock.Now().UnixMilli(), 0.25)
	if err := x.RefreshCost(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP batchwatch_cost_idle_usd Actual minus attributed cost of an EC2 or Spot compute environment: idle instances and bin packing (or a wrong price table when negative).
# TYPE batchwatch_cost_idle_usd gauge
batchwatch_cost_idle_usd{compute_environment="ce-od",period="month_to_date"} 2.75
batchwatch_cost_idle_usd{compute_environment="ce-od",period="yesterday"} 0
batchwatch_cost_idle_usd{compute_environment="ce-spot",period="month_to_date"} 3
batchwatch_cost_idle_usd{compute_environment="ce-spot",period="yesterday"} 3.5
# HELP batchwatch_cost_attributed_since_timestamp_seconds Since when the exporter attributes finished attempts to compute environments (its start): periods that began earlier lack earlier attempts.
# TYPE batchwatch_cost_attributed_since_timestamp_seconds gauge
batchwatch_cost_attributed_since_timestamp_seconds 1.7951688e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_cost_idle_usd", "batchwatch_cost_attributed_since_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	lint(t, reg)
}
