package exporter

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Idle cost: what an EC2 compute environment cost (Cost Explorer grouped
// by a tag that each compute environment puts on its instances) minus what
// the finished attempts that ran on it are estimated to cost, per period.
// The rest is idle instances and bin packing.

const dayMs = int64(24 * time.Hour / time.Millisecond)

// idleBook attributes the estimated cost of finished attempts to the EC2
// or SPOT compute environment they ran on, per UTC day.
type idleBook struct {
	mu    sync.Mutex
	since time.Time
	// clusterCE maps an ECS cluster to its compute environment, ec2 says
	// which of those launch instances, queueCE is a queue's first compute
	// environment.
	clusterCE map[string]string
	ec2       map[string]bool
	queueCE   map[string]string
	days      map[int64]map[string]float64 // UTC day number → CE → USD
}

func newIdleBook(since time.Time) *idleBook {
	return &idleBook{since: since, clusterCE: map[string]string{}, ec2: map[string]bool{},
		queueCE: map[string]string{}, days: map[int64]map[string]float64{}}
}

// setCEs installs the compute environments of a capacity snapshot.
func (b *idleBook) setCEs(snap *CapacitySnapshot) {
	clusters, ec2, queues := map[string]string{}, map[string]bool{}, map[string]string{}
	for _, ce := range snap.CEs {
		if ce.Cluster != "" {
			clusters[ce.Cluster] = ce.Name
		}
		ec2[ce.Name] = ce.Type == "MANAGED" && (ce.Capacity == "EC2" || ce.Capacity == "SPOT")
	}
	for _, q := range snap.Queues {
		if len(q.ComputeEnvironments) > 0 {
			queues[q.Name] = q.ComputeEnvironments[0]
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clusterCE, b.ec2, b.queueCE = clusters, ec2, queues
}

// add attributes usd, the estimate of an attempt of queue that ran on
// cluster (its task's or container instance's, "" when unknown) from
// startMs to stopMs, to the compute environment and the UTC days it ran.
// Fargate capacity, billed per task, has no idle cost and is left out.
func (b *idleBook) add(queue, cluster string, fargate bool, startMs, stopMs int64, usd float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ce, ok := b.clusterCE[cluster]
	if !ok {
		if fargate {
			return
		}
		ce = b.queueCE[queue]
	}
	if ce == "" || !b.ec2[ce] {
		return
	}
	for t := startMs; ; {
		day := floorDiv(t, dayMs)
		end := min(stopMs, (day+1)*dayMs)
		share := usd
		if stopMs > startMs {
			share = usd * float64(end-t) / float64(stopMs-startMs)
		}
		if b.days[day] == nil {
			b.days[day] = map[string]float64{}
		}
		b.days[day][ce] += share
		if end >= stopMs {
			break
		}
		t = end
	}
	// Keep two months: the month to date and yesterday need no more.
	for d := range b.days {
		if d < floorDiv(stopMs, dayMs)-62 {
			delete(b.days, d)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// attributed sums the attributed cost per compute environment of the UTC
// days in [from, to).
func (b *idleBook) attributed(from, to time.Time) map[string]float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]float64{}
	for d, ces := range b.days {
		if ms := d * dayMs; ms >= from.UnixMilli() && ms < to.UnixMilli() {
			for ce, usd := range ces {
				out[ce] += usd
			}
		}
	}
	return out
}

// idleCollector adds the idle cost to the cost collector's metrics.
type idleCollector struct {
	book     *idleBook
	tag      string
	capacity func() *CapacitySnapshot

	actual, attributed, idle, since *prometheus.Desc
}

func newIdleCollector(book *idleBook, tag string, capacity func() *CapacitySnapshot) *idleCollector {
	labels := []string{"period", "compute_environment"}
	return &idleCollector{book: book, tag: tag, capacity: capacity,
		actual: prometheus.NewDesc("batchwatch_cost_compute_environment_actual_usd",
			"Actual cost from Cost Explorer of an EC2 or Spot compute environment: the cost under the value of the --exporter.cost-compute-environment-tag tag that its instances carry. Cached like batchwatch_cost_actual_usd.",
			labels, nil),
		attributed: prometheus.NewDesc("batchwatch_cost_attributed_usd",
			"Estimated cost of the attempts that finished on an EC2 or Spot compute environment (as batchwatch_job_estimated_cost_usd_total), split over the UTC days they ran; only attempts finished since batchwatch_cost_attributed_since_timestamp_seconds.",
			labels, nil),
		idle: prometheus.NewDesc("batchwatch_cost_idle_usd",
			"Actual minus attributed cost of an EC2 or Spot compute environment: idle instances and bin packing (or a wrong price table when negative).",
			labels, nil),
		since: prometheus.NewDesc("batchwatch_cost_attributed_since_timestamp_seconds",
			"Since when the exporter attributes finished attempts to compute environments (its start): periods that began earlier lack earlier attempts.", nil, nil),
	}
}

// ceByTagValue maps the values of the compute environment tag to the
// compute environments whose instances carry them.
func (c *idleCollector) ceByTagValue() map[string]string {
	out := map[string]string{}
	snap := c.capacity()
	if snap == nil {
		return out
	}
	for _, ce := range snap.CEs {
		if v := ce.Tags[c.tag]; v != "" {
			out[v] = ce.Name
		}
	}
	return out
}

// collect sends, for both periods of the cached answer, the actual,
// attributed and idle cost of every compute environment with either.
func (c *idleCollector) collect(rows []CostRow, at time.Time, ch chan<- prometheus.Metric) {
	at = at.UTC()
	today := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	bounds := map[string][2]time.Time{
		PeriodYesterday:   {today.AddDate(0, 0, -1), today},
		PeriodMonthToDate: {time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC), today.AddDate(0, 0, 1)},
	}
	names := c.ceByTagValue()
	for _, period := range []string{PeriodMonthToDate, PeriodYesterday} {
		actual := map[string]float64{}
		for _, r := range rows {
			if ce := names[r.Tags[0]]; r.Period == period && ce != "" {
				actual[ce] += r.USD
			}
		}
		b := bounds[period]
		attributed := c.book.attributed(b[0], b[1])
		ces := make([]string, 0, len(actual)+len(attributed))
		for ce := range actual {
			ces = append(ces, ce)
		}
		for ce := range attributed {
			if _, ok := actual[ce]; !ok {
				ces = append(ces, ce)
			}
		}
		sort.Strings(ces)
		for _, ce := range ces {
			ch <- prometheus.MustNewConstMetric(c.actual, prometheus.GaugeValue, actual[ce], period, ce)
			ch <- prometheus.MustNewConstMetric(c.attributed, prometheus.GaugeValue, attributed[ce], period, ce)
			ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, actual[ce]-attributed[ce], period, ce)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.since, prometheus.GaugeValue, float64(c.book.since.UnixMilli())/1000)
}

// newCostCollector builds the cost collector, with the idle cost when the
// configuration names the compute environment tag.
func (x *Exporter) newCostCollector(tagLabels []string) *costCollector {
	c := newCostCollector(x.cost, tagLabels)
	if tag := x.cfg.CostComputeEnvironmentTag; tag != "" {
		x.cost.ceTag = tag
		c.idle = newIdleCollector(x.state.idle, tag, x.Capacity)
	}
	return c
}
