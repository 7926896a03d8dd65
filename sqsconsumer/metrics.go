package sqsconsumer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are a component's SQS consumer metrics (docs/metrics.md), every
// series labelled with the component. Build them once per registry and
// component and share them between that component's consumers.
type Metrics struct {
	received, deleted, released, extended prometheus.Counter
	inFlight                              prometheus.Gauge
	errors                                *prometheus.CounterVec
}

// NewMetrics registers the consumer metrics of component on reg (nil: on
// none).
func NewMetrics(reg prometheus.Registerer, component string) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"component": component}, reg))
	const ns, sub = "batchwatch", "sqs"
	return &Metrics{
		received: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_received_total",
			Help: "Messages received from SQS."}),
		deleted: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_deleted_total",
			Help: "Messages deleted from SQS after the component committed them."}),
		released: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_released_total",
			Help: "Messages given back uncommitted (SQS redelivers them after their visibility timeout)."}),
		extended: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "visibility_extensions_total",
			Help: "Visibility timeouts extended for messages still pending."}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "messages_in_flight",
			Help: "Messages received and not yet settled by the component."}),
		errors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Failed SQS calls (and failed entries of batch calls), per operation."}, []string{"operation"}),
	}
}
