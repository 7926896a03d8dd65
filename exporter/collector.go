package exporter

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Collector is one source of metrics, node_exporter style: Update sends
// the current metrics or returns why it cannot.
type Collector interface {
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

var (
	scrapeDurationDesc = prometheus.NewDesc("batchwatch_scrape_collector_duration_seconds",
		"batchwatch exporter: duration of a collector scrape.", []string{"collector"}, nil)
	scrapeSuccessDesc = prometheus.NewDesc("batchwatch_scrape_collector_success",
		"batchwatch exporter: whether a collector succeeded.", []string{"collector"}, nil)
)

// collectorSet runs the collectors concurrently on each scrape and reports
// each one's duration and success. Like node_exporter's NodeCollector it
// describes only its own two metrics, so the collectors' series are
// unchecked and may change with the watched queues and tags.
type collectorSet struct {
	collectors map[string]Collector
	log        *logrus.Entry
}

func newCollectorSet(collectors map[string]Collector, log *logrus.Entry) *collectorSet {
	return &collectorSet{collectors: collectors, log: log}
}

// Describe implements prometheus.Collector.
func (c *collectorSet) Describe(ch chan<- *prometheus.Desc) {
	ch <- scrapeDurationDesc
	ch <- scrapeSuccessDesc
}

// Collect implements prometheus.Collector.
func (c *collectorSet) Collect(ch chan<- prometheus.Metric) {
	names := make([]string, 0, len(c.collectors))
	for n := range c.collectors {
		names = append(names, n)
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	wg.Add(len(names))
	for _, n := range names {
		go func(name string) {
			defer wg.Done()
			c.execute(name, c.collectors[name], ch)
		}(n)
	}
	wg.Wait()
}

func (c *collectorSet) execute(name string, col Collector, ch chan<- prometheus.Metric) {
	start := time.Now()
	err := col.Update(context.Background(), ch)
	duration := time.Since(start).Seconds()
	success := 1.0
	if err != nil {
		c.log.WithError(err).WithField("collector", name).Debug("collector failed")
		success = 0
	}
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, duration, name)
	ch <- prometheus.MustNewConstMetric(scrapeSuccessDesc, prometheus.GaugeValue, success, name)
}
