package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/batchwatch/batchwatch/sqsconsumer"
)

// Metrics are ingest's own metrics (docs/metrics.md).
type Metrics struct {
	Received        *prometheus.CounterVec
	Inserted        prometheus.Counter
	Duplicates      prometheus.Counter
	Quarantined     *prometheus.CounterVec
	BatchSize       prometheus.Histogram
	InsertDuration  prometheus.Histogram
	Lag             prometheus.Histogram
	StoreErrors     *prometheus.CounterVec
	AWSErrors       *prometheus.CounterVec
	Buffered        prometheus.Gauge
	LastInsert      prometheus.Gauge
	Acked           *prometheus.CounterVec
	ReconcileJobs   prometheus.Counter
	ReconcileLastOK prometheus.Gauge
	// SQS are the shared consumer's metrics, component="ingest".
	SQS *sqsconsumer.Metrics
}

// NewMetrics registers ingest metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	const ns, sub = "batchwatch", "ingest"
	return &Metrics{
		Received: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_received_total",
			Help: "Messages received, per source (sqs, replay, reconcile)."}, []string{"source"}),
		Inserted: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_inserted_total",
			Help: "Events written to ClickHouse (duplicates within a batch excluded)."}),
		Duplicates: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "duplicates_total",
			Help: "Events whose id this process had already written (redeliveries, replays); skipped."}),
		Quarantined: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "quarantined_total",
			Help: "Messages that could not be parsed, written to the quarantine table."}, []string{"source"}),
		BatchSize: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_size",
			Help: "Events per ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		InsertDuration: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "insert_duration_seconds",
			Help: "Duration of one batch's commit into ClickHouse (its last events block, then jobs and attempts; the events stream while the batch fills), retries excluded.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		Lag: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "lag_seconds",
			Help:    "Time from the event's time to its insert into ClickHouse.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 86400}}),
		StoreErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "clickhouse_errors_total",
			Help: "Failed ClickHouse operations (each retry counts)."}, []string{"operation"}),
		AWSErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "sqs_errors_total",
			Help: "Failed SQS operations of the ingest loop."}, []string{"operation"}),
		Buffered: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "buffered_events",
			Help: "Events received and not yet written (waiting for a batch or an insert)."}),
		LastInsert: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_insert_timestamp_seconds",
			Help: "Time of the last successful ClickHouse insert."}),
		Acked: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_acknowledged_total",
			Help: "Messages acknowledged after their insert (SQS: deleted), per source."}, []string{"source"}),
		ReconcileJobs: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "reconcile_jobs_total",
			Help: "Job details read from the Batch API by reconcile."}),
		ReconcileLastOK: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "reconcile_last_success_timestamp_seconds",
			Help: "Time of the last reconcile pass that completed."}),
		SQS: sqsconsumer.NewMetrics(reg, "ingest"),
	}
}
