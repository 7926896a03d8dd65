package exporter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
)

// Periods of batchwatch_cost_actual_usd.
const (
	PeriodYesterday   = "yesterday"
	PeriodMonthToDate = "month_to_date"
)

// errCostBudget says the daily Cost Explorer budget is spent.
var errCostBudget = errors.New("cost explorer call budget spent")

// CostRow is one value of batchwatch_cost_actual_usd.
type CostRow struct {
	Period string
	// Tags are the values of the configured cost tags, in their order.
	Tags []string
	USD  float64
}

// costCache asks Cost Explorer for the actual cost grouped by the cost
// tags, at most budget requests in any 24 hours, and keeps the answer: one
// request (and its pages) covers yesterday and the month so far. With a
// compute environment tag it asks a second time, grouped by that tag, for
// the idle cost (idle.go).
type costCache struct {
	api    CostExplorerAPI
	tags   []string
	ceTag  string
	metric string
	budget int
	now    func() time.Time

	mu        sync.Mutex
	rows      []CostRow
	ceRows    []CostRow
	refreshed time.Time
	calls     []time.Time
}

func newCostCache(api CostExplorerAPI, tags []string, metric string, budget int, now func() time.Time) *costCache {
	return &costCache{api: api, tags: tags, metric: metric, budget: budget, now: now}
}

// spend takes one call from the budget of the last 24 hours.
func (c *costCache) spend() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	kept := c.calls[:0]
	for _, t := range c.calls {
		if now.Sub(t) < 24*time.Hour {
			kept = append(kept, t)
		}
	}
	c.calls = kept
	if len(c.calls) >= c.budget {
		return false
	}
	c.calls = append(c.calls, now)
	return true
}

// callsLastDay is how many requests the last 24 hours saw.
func (c *costCache) callsLastDay() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.calls {
		if c.now().Sub(t) < 24*time.Hour {
			n++
		}
	}
	return n
}

// costDay is the date format of Cost Explorer's time periods.
const costDay = "2006-01-02"

// refresh asks Cost Explorer again; on any error the previous answer stays.
func (c *costCache) refresh(ctx context.Context) error {
	now := c.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	rows, err := c.query(ctx, c.tags, today)
	if err != nil {
		return err
	}
	var ceRows []CostRow
	if c.ceTag != "" {
		if ceRows, err = c.query(ctx, []string{c.ceTag}, today); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.rows, c.ceRows, c.refreshed = rows, ceRows, c.now()
	c.mu.Unlock()
	return nil
}

// query asks for the daily cost from the start of the month (or yesterday,
// on the first) to today included, grouped by the tag keys, pages
// included, and sums it by period.
func (c *costCache) query(ctx context.Context, keys []string, today time.Time) ([]CostRow, error) {
	yesterday := today.AddDate(0, 0, -1)
	monthStart := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	start := monthStart
	if yesterday.Before(start) {
		start = yesterday
	}
	in := &costexplorer.GetCostAndUsageInput{
		Granularity: cetypes.GranularityDaily,
		Metrics:     []string{c.metric},
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(start.Format(costDay)), End: aws.String(today.AddDate(0, 0, 1).Format(costDay))},
	}
	for _, k := range keys {
		in.GroupBy = append(in.GroupBy, cetypes.GroupDefinition{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String(k)})
	}
	sums := costSums{}
	for {
		if !c.spend() {
			return nil, errCostBudget
		}
		out, err := c.api.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get cost and usage: %w", err)
		}
		for _, res := range out.ResultsByTime {
			c.addResult(sums, len(keys), res, yesterday, monthStart)
		}
		if aws.ToString(out.NextPageToken) == "" {
			break
		}
		in.NextPageToken = out.NextPageToken
	}
	return sums.rows(), nil
}

// costSums adds up costs by period and tag values.
type costSums map[string]*CostRow

func (sums costSums) add(period string, tags []string, usd float64) {
	key := period + "\x00" + strings.Join(tags, "\x00")
	r := sums[key]
	if r == nil {
		r = &CostRow{Period: period, Tags: tags}
		sums[key] = r
	}
	r.USD += usd
}

// addResult adds one day of Cost Explorer's answer to yesterday's and the
// month's sums, per tag group when the request groups by nkeys tags.
func (c *costCache) addResult(sums costSums, nkeys int, res cetypes.ResultByTime, yesterday, monthStart time.Time) {
	if res.TimePeriod == nil {
		return
	}
	d, err := time.Parse(costDay, aws.ToString(res.TimePeriod.Start))
	if err != nil {
		return
	}
	var periods []string
	if d.Equal(yesterday) {
		periods = append(periods, PeriodYesterday)
	}
	if !d.Before(monthStart) {
		periods = append(periods, PeriodMonthToDate)
	}
	if nkeys == 0 {
		usd := amount(res.Total[c.metric])
		for _, p := range periods {
			sums.add(p, nil, usd)
		}
		return
	}
	for _, g := range res.Groups {
		tags := make([]string, nkeys)
		for i := range tags {
			if i < len(g.Keys) {
				// Tag group keys read "<key>$<value>".
				_, v, _ := strings.Cut(g.Keys[i], "$")
				tags[i] = v
			}
		}
		usd := amount(g.Metrics[c.metric])
		for _, p := range periods {
			sums.add(p, tags, usd)
		}
	}
}

// rows returns the sums sorted by period and tags, every tag combination
// with both periods.
func (sums costSums) rows() []CostRow {
	// Every tag combination gets both periods, so no series vanishes on the
	// first of a month.
	combos := map[string][]string{}
	for _, r := range sums {
		combos[strings.Join(r.Tags, "\x00")] = r.Tags
	}
	for _, tags := range combos {
		for _, p := range []string{PeriodYesterday, PeriodMonthToDate} {
			sums.add(p, tags, 0)
		}
	}
	rows := make([]CostRow, 0, len(sums))
	for _, r := range sums {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(a, b int) bool {
		x, y := rows[a], rows[b]
		if x.Period != y.Period {
			return x.Period < y.Period
		}
		return strings.Join(x.Tags, "\x00") < strings.Join(y.Tags, "\x00")
	})
	return rows
}

func amount(v cetypes.MetricValue) float64 {
	f, err := strconv.ParseFloat(aws.ToString(v.Amount), 64)
	if err != nil {
		return 0
	}
	return f
}

// ceSnapshot returns the cached cost per value of the compute environment
// tag and when it was fetched.
func (c *costCache) ceSnapshot() ([]CostRow, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ceRows, c.refreshed
}

// snapshot returns the cached rows and when they were fetched (zero before
// the first success).
func (c *costCache) snapshot() ([]CostRow, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rows, c.refreshed
}
