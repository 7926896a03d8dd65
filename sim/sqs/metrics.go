package sqs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the server's batchwatch_sim_sqs_* series.
type metrics struct {
	sent, received, deleted, redriven *prometheus.CounterVec
	calls                             *prometheus.CounterVec
	errors                            *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	// promauto.With(nil) builds unregistered collectors: they count, and
	// nobody sees them, which is what a nil Registry asks for.
	f := promauto.With(reg)
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "sim_sqs", Name: name, Help: help,
		}, labels)
	}
	m := &metrics{
		sent:     counter("messages_sent_total", "Messages sent to a simulated queue (API and Go calls).", "queue"),
		received: counter("messages_received_total", "Messages handed out by ReceiveMessage, redeliveries included.", "queue"),
		deleted:  counter("messages_deleted_total", "Messages deleted through a current receipt handle.", "queue"),
		redriven: counter("messages_redriven_total", "Messages moved from this queue to its dead-letter queue.", "queue"),
		calls:    counter("api_calls_total", "SQS API calls served, per operation.", "operation"),
		errors:   counter("api_errors_total", "SQS API calls answered with an error, per operation and error code.", "operation", "code"),
	}
	if reg != nil {
		reg.MustRegister(newDepthCollector(s))
	}
	return m
}

func (m *metrics) forQueue(name string) queueCounters {
	return queueCounters{
		sent:     m.sent.WithLabelValues(name),
		received: m.received.WithLabelValues(name),
		deleted:  m.deleted.WithLabelValues(name),
		redriven: m.redriven.WithLabelValues(name),
	}
}

// depthCollector reports queue depths and waiting long polls at scrape time.
type depthCollector struct {
	s       *Server
	depth   *prometheus.Desc
	waiting *prometheus.Desc
}

func newDepthCollector(s *Server) *depthCollector {
	return &depthCollector{
		s: s,
		depth: prometheus.NewDesc("batchwatch_sim_sqs_queue_messages",
			"Messages in a simulated queue by state (visible, inflight, delayed), read at scrape time.",
			[]string{"queue", "state"}, nil),
		waiting: prometheus.NewDesc("batchwatch_sim_sqs_waiting_receives",
			"ReceiveMessage calls long-polling a simulated queue, read at scrape time.",
			[]string{"queue"}, nil),
	}
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.waiting
}

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now().UnixNano()
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	for name, q := range c.s.queues {
		q.mu.Lock()
		q.advance(now)
		v, i, d, w := q.nVisible, q.nInflight, q.nDelayed, len(q.waiters)
		q.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(v), name, "visible")
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(i), name, "inflight")
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(d), name, "delayed")
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(w), name)
	}
}
