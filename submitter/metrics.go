package submitter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/batchwatch/batchwatch/sqsconsumer"
)

// Metrics are the submitter's own counters (docs/metrics.md); AWS call
// counters come from awsclient.NewMetrics(reg, "batchwatch_submitter").
type Metrics struct {
	itemsTotal  *prometheus.CounterVec
	escalations *prometheus.CounterVec
	sqs         *sqsconsumer.Metrics
}

// NewMetrics registers batchwatch_submitter_* on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		itemsTotal: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "submitter", Name: "items_total",
			Help: "Items handled: submitted by this process, skipped (already submitted by an earlier run of the same run id), failed (SubmitJob failed or was rejected).",
		}, []string{"result"}),
		escalations: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "submitter", Name: "escalations_total",
			Help: "Items resubmitted one tier up after their job ran out of memory.",
		}, []string{"from_tier", "to_tier"}),
		sqs: sqsconsumer.NewMetrics(reg, "submitter"),
	}
	for _, r := range []string{"submitted", "skipped", "failed"} {
		m.itemsTotal.WithLabelValues(r)
	}
	return m
}

// consumer returns the metrics of the watch's SQS consumer (nil: none).
func (m *Metrics) consumer() *sqsconsumer.Metrics {
	if m == nil {
		return nil
	}
	return m.sqs
}

func (m *Metrics) item(result string) { m.items(result, 1) }

func (m *Metrics) items(result string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.itemsTotal.WithLabelValues(result).Add(float64(n))
}

func (m *Metrics) escalated(from, to string) {
	if m == nil {
		return
	}
	m.escalations.WithLabelValues(from, to).Inc()
}
