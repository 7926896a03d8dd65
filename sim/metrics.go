package sim

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the simulator's own batchwatch_sim_* metrics.
type metrics struct {
	jobs           *prometheus.GaugeVec
	submitted      *prometheus.CounterVec
	emitted        *prometheus.CounterVec
	delivered      *prometheus.CounterVec
	deliveryErrors *prometheus.CounterVec
	apiCalls       *prometheus.CounterVec
	apiThrottled   *prometheus.CounterVec
	apiErrors      *prometheus.CounterVec
	ceCalls        prometheus.Counter
	instances      *prometheus.GaugeVec
	clock          prometheus.Gauge

	byQueue map[*queue]*[numStatus]prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, s *Sim) *metrics {
	f := promauto.With(reg)
	const ns, sub = "batchwatch", "sim"
	m := &metrics{
		jobs: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "jobs",
			Help: "Simulated jobs (array parents and children included) by queue and status.",
		}, []string{"queue", "status"}),
		submitted: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "jobs_submitted_total",
			Help: "Jobs submitted (array children included), through the API or the scenario's workload.",
		}, []string{"queue"}),
		emitted: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_emitted_total",
			Help: "EventBridge events emitted, by detail-type.",
		}, []string{"detail_type"}),
		delivered: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_delivered_total",
			Help: "Events delivered, by delivery target.",
		}, []string{"target"}),
		deliveryErrors: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "event_delivery_errors_total",
			Help: "Event batches that could not be delivered, by delivery target.",
		}, []string{"target"}),
		apiCalls: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "api_calls_total",
			Help: "Batch API calls received, by operation (throttled ones included).",
		}, []string{"operation"}),
		apiThrottled: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "api_throttled_total",
			Help: "Batch API calls answered with HTTP 429 TooManyRequestsException, by operation.",
		}, []string{"operation"}),
		apiErrors: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "api_errors_total",
			Help: "Batch API calls answered with a client or server error other than throttling, by operation.",
		}, []string{"operation"}),
		ceCalls: f.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "costexplorer_calls_total",
			Help: "Cost Explorer GetCostAndUsage calls (each costs USD 0.01 in AWS).",
		}),
		instances: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "instances",
			Help: "Simulated EC2 instances running or booting, by compute environment.",
		}, []string{"compute_environment"}),
		clock: f.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "clock_timestamp_seconds",
			Help: "The simulated clock.",
		}),
		byQueue: map[*queue]*[numStatus]prometheus.Gauge{},
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "outbox_events",
		Help: "Emitted events not yet delivered.",
	}, func() float64 {
		if s.out == nil {
			return 0
		}
		return float64(s.out.pending())
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "done",
		Help: "1 once no job can progress any more (the workload is submitted, every job terminal or waiting forever) and every --hostile message is sent, else 0.",
	}, func() float64 {
		if s.Done() && s.hostileSent.Load() {
			return 1
		}
		return 0
	})
	return m
}

func (m *metrics) addQueue(q *queue) {
	var g [numStatus]prometheus.Gauge
	for st := range numStatus {
		g[st] = m.jobs.WithLabelValues(q.name, st.String())
	}
	m.byQueue[q] = &g
}

func (m *metrics) jobEnter(q *queue, st status) { m.byQueue[q][st].Inc() }

func (m *metrics) jobMove(q *queue, from, to status) {
	g := m.byQueue[q]
	g[from].Dec()
	g[to].Inc()
}
