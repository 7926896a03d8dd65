package exporter

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// errNoCost is returned until Cost Explorer answered once.
var errNoCost = errors.New("no Cost Explorer answer yet")

// costCollector exports the cached Cost Explorer answer.
type costCollector struct {
	cache             *costCache
	actual, refreshed *prometheus.Desc
	// idle is nil without a compute environment tag.
	idle *idleCollector
}

func newCostCollector(cache *costCache, tagLabels []string) *costCollector {
	return &costCollector{
		cache: cache,
		actual: prometheus.NewDesc("batchwatch_cost_actual_usd",
			"Actual cost from Cost Explorer grouped by the cost-allocation tags, for yesterday and the month to date (today included). Cached: refreshed every --exporter.cost-refresh-interval, see batchwatch_cost_last_refresh_timestamp_seconds; Cost Explorer itself lags up to a day.",
			append([]string{"period"}, tagLabels...), nil),
		refreshed: prometheus.NewDesc("batchwatch_cost_last_refresh_timestamp_seconds",
			"When Cost Explorer last answered.", nil, nil),
	}
}

// Update implements Collector.
func (c *costCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	rows, at := c.cache.snapshot()
	if at.IsZero() {
		return errNoCost
	}
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(c.actual, prometheus.GaugeValue, r.USD, append([]string{r.Period}, r.Tags...)...)
	}
	ch <- prometheus.MustNewConstMetric(c.refreshed, prometheus.GaugeValue, float64(at.UnixMilli())/1000)
	if c.idle != nil {
		ceRows, _ := c.cache.ceSnapshot()
		c.idle.collect(ceRows, at, ch)
	}
	return nil
}
