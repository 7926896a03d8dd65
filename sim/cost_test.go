package sim

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// costRun runs tagged jobs of two teams, on EC2 and Fargate, and lets the
// instances scale in.
func costRun(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := newHarness(t, mutate)
	for i, team := range []string{"alpha", "beta", "alpha"} {
		in := jobIn("cost-"+strconv.Itoa(i), "t-high", "t-job")
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(20)}
		in.Tags = map[string]string{"team": team}
		h.submit(in)
	}
	f := jobIn("fargate", "t-fargate", "t-fargate-job")
	f.Tags = map[string]string{"team": "beta"}
	h.submit(f)
	h.settle()
	h.advance(time.Hour)
	return h
}

func amount(t *testing.T, m map[string]cetypes.MetricValue, metric string) float64 {
	t.Helper()
	v, ok := m[metric]
	if !ok {
		t.Fatalf("metric %s missing from %v", metric, m)
	}
	f, err := strconv.ParseFloat(*v.Amount, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// costs pages through GetCostAndUsage and sums each group's metric.
func costs(t *testing.T, h *harness, in *costexplorer.GetCostAndUsageInput, metric string) (map[string]float64, int) {
	t.Helper()
	out := map[string]float64{}
	pages := 0
	for {
		resp, err := h.ce.GetCostAndUsage(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range resp.ResultsByTime {
			if len(in.GroupBy) == 0 {
				out[""] += amount(t, r.Total, metric)
			}
			for _, g := range r.Groups {
				key := g.Keys[0]
				for _, k := range g.Keys[1:] {
					key += "|" + k
				}
				out[key] += amount(t, g.Metrics, metric)
			}
		}
		if resp.NextPageToken == nil {
			return out, pages
		}
		in.NextPageToken = resp.NextPageToken
	}
}

func TestCostExplorer(t *testing.T) {
	h := costRun(t, nil)
	day := testStart.Format("2006-01-02")
	next := testStart.AddDate(0, 0, 1).Format("2006-01-02")
	period := &cetypes.DateInterval{Start: aws.String(day), End: aws.String(next)}
	metrics := []string{"UnblendedCost", "AmortizedCost", "UsageQuantity"}

	total, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: metrics}, "UnblendedCost")
	if total[""] <= 0 {
		t.Fatalf("total cost %v", total)
	}
	amortized, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: metrics}, "AmortizedCost")
	if math.Abs(amortized[""]-total[""]) > 1e-6 {
		t.Fatalf("amortized %v, unblended %v (no reservations: equal)", amortized[""], total[""])
	}

	byTeam, pages := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityHourly,
		Metrics: metrics, GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String("team")}},
	}, "UnblendedCost")
	if pages < 2 {
		t.Fatalf("hourly groups fit in %d page of 3", pages)
	}
	if byTeam["team$alpha"] <= byTeam["team$beta"] || byTeam["team$beta"] <= 0 || byTeam["team$"] <= 0 {
		t.Fatalf("by team: %v (alpha ran twice as many jobs; idle time is untagged)", byTeam)
	}
	sum := 0.0
	for _, v := range byTeam {
		sum += v
	}
	if math.Abs(sum-total[""]) > 1e-6 {
		t.Fatalf("groups add up to %v, total is %v", sum, total[""])
	}

	byService, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily,
		Metrics: metrics, GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("SERVICE")}},
	}, "UnblendedCost")
	if len(byService) != 2 || byService["Amazon Elastic Compute Cloud - Compute"] <= 0 || byService["Amazon Elastic Container Service"] <= 0 {
		t.Fatalf("by service: %v", byService)
	}

	onlyAlpha, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: metrics,
		Filter: &cetypes.Expression{And: []cetypes.Expression{
			{Tags: &cetypes.TagValues{Key: aws.String("team"), Values: []string{"alpha"}}},
			{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionService, Values: []string{"Amazon Elastic Compute Cloud - Compute"}}},
		}},
	}, "UnblendedCost")
	if math.Abs(onlyAlpha[""]-byTeam["team$alpha"]) > 1e-6 {
		t.Fatalf("filtered to team alpha: %v, grouped: %v", onlyAlpha[""], byTeam["team$alpha"])
	}
	usage, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: metrics,
		Filter: &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionService, Values: []string{"Amazon Elastic Compute Cloud - Compute"}}},
	}, "UsageQuantity")
	if usage[""] <= 0 {
		t.Fatalf("instance-hours %v", usage)
	}

	_, err := h.ce.GetCostAndUsage(context.Background(), &costexplorer.GetCostAndUsageInput{TimePeriod: period,
		Granularity: cetypes.GranularityDaily, Metrics: []string{"Dollars"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Fatalf("invalid metric: %v", err)
	}
	if n := testutil.ToFloat64(h.s.metrics.ceCalls); n < 8 {
		t.Fatalf("%v Cost Explorer calls counted", n)
	}
}

func TestCostExplorerLag(t *testing.T) {
	h := costRun(t, func(c *Config) { c.Scenario.CostExplorer.Lag = 24 * time.Hour })
	period := &cetypes.DateInterval{Start: aws.String(testStart.Format("2006-01-02")), End: aws.String(testStart.AddDate(0, 0, 1).Format("2006-01-02"))}
	in := &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"}}
	got, _ := costs(t, h, in, "UnblendedCost")
	if got[""] != 0 {
		t.Fatalf("costs younger than the lag are visible: %v", got)
	}
	h.advance(24 * time.Hour)
	in.NextPageToken = nil
	got, _ = costs(t, h, in, "UnblendedCost")
	if got[""] <= 0 {
		t.Fatalf("costs older than the lag are missing: %v", got)
	}
}

// Grouped by a tag each compute environment sets in computeResources.tags,
// an EC2 compute environment's cost is its instances' whole cost (jobs'
// shares and idle time: the EC2 service's total here, asked by dimension),
// and Fargate tasks do not carry their compute environment's tags.
func TestCostExplorerByComputeEnvironmentTag(t *testing.T) {
	h := costRun(t, func(c *Config) {
		for i := range c.Scenario.ComputeEnvironments {
			ce := &c.Scenario.ComputeEnvironments[i]
			ce.Tags = map[string]string{"ce": ce.Name}
		}
	})
	period := &cetypes.DateInterval{Start: aws.String(testStart.Format("2006-01-02")), End: aws.String(testStart.AddDate(0, 0, 1).Format("2006-01-02"))}
	byCE, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily,
		Metrics: []string{"UnblendedCost"}, GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String("ce")}},
	}, "UnblendedCost")
	byService, _ := costs(t, h, &costexplorer.GetCostAndUsageInput{TimePeriod: period, Granularity: cetypes.GranularityDaily,
		Metrics: []string{"UnblendedCost"}, GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("SERVICE")}},
	}, "UnblendedCost")
	ec2, fargate := byService[serviceEC2], byService[serviceECS]
	if ec2 <= 0 || fargate <= 0 {
		t.Fatalf("by service: %v", byService)
	}
	if math.Abs(byCE["ce$t-ondemand"]-ec2) > 1e-6 || math.Abs(byCE["ce$"]-fargate) > 1e-6 || len(byCE) != 2 {
		t.Fatalf("by compute environment tag %v, want ce$t-ondemand = EC2 %v and the Fargate task %v untagged", byCE, ec2, fargate)
	}
}
