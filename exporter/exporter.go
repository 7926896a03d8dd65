package exporter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/backoff"
	"github.com/batchwatch/batchwatch/sqsconsumer"
)

// Deps are what the exporter is built from.
type Deps struct {
	// Batch must share one rate limiter for all calls (awsclient.Options).
	Batch BatchAPI
	// SQS is needed when Config.SQSQueueURL is set.
	SQS sqsconsumer.API
	// SQSConsumer are base settings of the SQS consumer (backoff, hooks);
	// queue URL, receivers and wait time come from the Config.
	SQSConsumer sqsconsumer.Config
	// CostExplorer is needed when Config.CostRefreshInterval > 0.
	CostExplorer CostExplorerAPI
	Registry     prometheus.Registerer
	Logger       *logrus.Entry
	Now          func() time.Time
	// OnReady is called once, after the first complete resync.
	OnReady func()

	// QueueAttributes is needed when SQS attribute queues are configured.
	QueueAttributes QueueAttributesAPI
}

// Exporter is the list-then-watch Prometheus exporter of AWS Batch: a
// resync lists every active job (ListJobs, all pages, within the API
// budget) into the State, the SQS consumer applies the job events in
// between, and collectors read the pre-aggregated state at scrape time.
type Exporter struct {
	cfg   *Config
	log   *logrus.Entry
	now   func() time.Time
	batch BatchAPI
	sqs   *sqsconsumer.Consumer
	state *State
	jm    *jobMetrics
	types *instanceTable
	rs    *resyncer
	cost  *costCache
	sqsQ  *sqsQueues

	capMu   sync.Mutex
	capSnap *CapacitySnapshot
	unknown map[string]bool

	ready   atomic.Bool
	onReady func()
	resyncs atomic.Int64

	upMu sync.Mutex
	upBy map[string]bool

	// route, set by NewGroup on the exporter that reads SQS, gives the
	// state of an event's account (group.go).
	route func(account string) *State
	fed   bool

	awsUp          prometheus.Gauge
	awsCallUp      *prometheus.GaugeVec
	lastResync     prometheus.Gauge
	resyncDuration prometheus.Gauge
	resyncTotal    *prometheus.CounterVec
	vanished       *prometheus.CounterVec
	costRefreshErr prometheus.Counter
}

// New builds an exporter and registers its metrics on deps.Registry.
func New(cfg *Config, deps Deps) (*Exporter, error) {
	if err := deps.check(cfg); err != nil {
		return nil, err
	}
	types, err := newInstanceTable(cfg.File)
	if err != nil {
		return nil, err
	}
	tagLabels := make([]string, len(cfg.CostTags))
	for i, k := range cfg.CostTags {
		tagLabels[i] = TagLabel(k)
	}
	reg := deps.Registry
	if cfg.Account != "" {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"account": cfg.Account}, reg)
	}
	jm := newJobMetrics(reg, tagLabels)
	st := newState(StateConfig{
		Now: deps.Now, FinishedWindow: cfg.FinishedWindow, Queues: cfg.Queues, Account: cfg.Account,
		TierTag: cfg.TierTag, TierParameter: cfg.TierParameter, Tiers: cfg.File.Tier.Values,
		CostTags: cfg.CostTags, Prices: cfg.File.Prices, DedupCapacity: cfg.DedupCapacity,
	}, jm)
	x := &Exporter{
		cfg: cfg, log: deps.Logger, now: deps.Now, batch: deps.Batch,
		state: st, jm: jm, types: types, onReady: deps.OnReady,
		unknown: map[string]bool{}, upBy: map[string]bool{},
	}
	if cfg.SQSQueueURL != "" {
		x.sqs = x.newConsumer(deps.SQS, deps.SQSConsumer, sqsconsumer.NewMetrics(reg, "exporter"))
	}
	x.rs = &resyncer{api: deps.Batch, state: st, cfg: cfg, log: deps.Logger, now: deps.Now}
	x.registerMetrics(promauto.With(reg))
	collectors := map[string]Collector{
		"queue":    newQueueCollector(st, x.Ready),
		"capacity": newCapacityCollector(x.Capacity),
	}
	if cfg.CostRefreshInterval > 0 {
		x.cost = newCostCache(deps.CostExplorer, cfg.CostTags, cfg.File.Cost.Metric, cfg.CostDailyCalls, deps.Now)
		x.costRefreshErr = promauto.With(reg).NewCounter(prometheus.CounterOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "cost_refresh_errors_total",
			Help: "Cost Explorer refreshes that failed or were skipped because the daily call budget was spent."})
		collectors["cost"] = x.newCostCollector(tagLabels)
	}
	if err := x.watchSQSQueues(deps, collectors); err != nil {
		return nil, err
	}
	if err := reg.Register(newCollectorSet(collectors, deps.Logger)); err != nil {
		return nil, err
	}
	st.AddQueues(cfg.Queues)
	return x, nil
}

// check prepares cfg if it was not, checks that the clients cfg needs are
// there and sets the defaults of the others.
func (deps *Deps) check(cfg *Config) error {
	if cfg.File == nil {
		if err := cfg.Prepare(nil); err != nil {
			return err
		}
	}
	if deps.Batch == nil {
		return errors.New("exporter: no Batch client")
	}
	if cfg.SQSQueueURL != "" && deps.SQS == nil {
		return errors.New("exporter: --exporter.sqs-queue-url needs an SQS client")
	}
	if cfg.CostRefreshInterval > 0 && deps.CostExplorer == nil {
		return errors.New("exporter: cost refresh needs a Cost Explorer client")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		deps.Logger = logrus.NewEntry(l)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	return nil
}

// registerMetrics registers the exporter's self-metrics.
func (x *Exporter) registerMetrics(f promauto.Factory) {
	x.awsUp = f.NewGauge(prometheus.GaugeOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "aws_up",
		Help: "1 when the latest AWS calls of every kind (resync, capacity, SQS, Cost Explorer) succeeded; 0 means the exporter serves stale data (see the timestamps)."})
	x.awsCallUp = newAWSCallUp(f)
	x.lastResync = f.NewGauge(prometheus.GaugeOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "last_resync_timestamp_seconds",
		Help: "When the last complete resync (ListJobs of every active job) ended."})
	x.resyncDuration = f.NewGauge(prometheus.GaugeOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "resync_duration_seconds",
		Help: "How long the last complete resync took (mostly waiting for the Batch API budget)."})
	x.resyncTotal = f.NewCounterVec(prometheus.CounterOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "resyncs_total",
		Help: "Resyncs by result (success, error)."}, []string{"result"})
	x.vanished = f.NewCounterVec(prometheus.CounterOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "resync_vanished_jobs_total",
		Help: "Jobs a resync no longer found in an active status although no event said so (lost or late events): described with DescribeJobs, or forgotten beyond --exporter.describe-limit or when AWS no longer knows them."},
		[]string{"outcome"})
	for _, r := range []string{"success", "error"} {
		x.resyncTotal.WithLabelValues(r)
	}
	for _, o := range []string{"described", "forgotten"} {
		x.vanished.WithLabelValues(o)
	}
	st := x.state
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "tracked_jobs",
		Help: "Jobs held in memory: active ones and those finished within the finished window."},
		func() float64 { n, _ := st.Tracked(); return float64(n) })
}

// State returns the exporter's job state.
func (x *Exporter) State() *State { return x.state }

// Ready reports whether a resync completed.
func (x *Exporter) Ready() bool { return x.ready.Load() }

// Capacity returns the latest description of queues and compute
// environments, nil before the first.
func (x *Exporter) Capacity() *CapacitySnapshot {
	x.capMu.Lock()
	defer x.capMu.Unlock()
	return x.capSnap
}

// awsResult records whether the latest AWS call of a kind succeeded.
func (x *Exporter) awsResult(kind string, err error) {
	x.upMu.Lock()
	defer x.upMu.Unlock()
	x.upBy[kind] = err == nil || errors.Is(err, context.Canceled)
	x.awsCallUp.WithLabelValues(kind).Set(b2f(x.upBy[kind]))
	up := 1.0
	for _, ok := range x.upBy {
		if !ok {
			up = 0
		}
	}
	x.awsUp.Set(up)
}

// RefreshCapacity describes queues and compute environments and hands the
// state what they can launch.
func (x *Exporter) RefreshCapacity(ctx context.Context) error {
	snap, err := describeCapacity(ctx, x.batch, x.cfg.Queues, x.now)
	x.awsResult("capacity", err)
	if err != nil {
		return err
	}
	fits, clusters, queueCap, unknown := capacityModel(snap, x.types)
	x.state.SetCapacity(fits, clusters, queueCap)
	x.state.idle.setCEs(snap)
	names := make([]string, 0, len(snap.Queues))
	for _, q := range snap.Queues {
		names = append(names, q.Name)
	}
	x.state.AddQueues(names)
	x.capMu.Lock()
	x.capSnap = snap
	var fresh []string
	for _, u := range unknown {
		if !x.unknown[u] {
			x.unknown[u] = true
			fresh = append(fresh, u)
		}
	}
	x.capMu.Unlock()
	if len(fresh) > 0 {
		x.log.WithField("instance_types", fresh).Warn("unknown instance types: the unschedulable check is off for their queues; add them to instance_types in --exporter.config")
	}
	return nil
}

// queueNames are the queues a resync lists.
func (x *Exporter) queueNames() []string {
	if snap := x.Capacity(); snap != nil {
		out := make([]string, 0, len(snap.Queues))
		for _, q := range snap.Queues {
			if x.state.watched(q.Name) {
				out = append(out, q.Name)
			}
		}
		return out
	}
	return x.cfg.Queues
}

// Resync lists every active job again; the first one after a start also
// lists the finished ones (--exporter.list-finished-on-start).
func (x *Exporter) Resync(ctx context.Context) error {
	start := x.now()
	first := x.resyncs.Load() == 0
	stats, err := x.rs.run(ctx, x.queueNames(), first && x.cfg.ListFinishedOnStart)
	x.awsResult("resync", err)
	log := x.log.WithField("pages", stats.Pages).WithField("jobs", stats.Listed).WithField("array_jobs", stats.Parents)
	if err != nil {
		x.resyncTotal.WithLabelValues("error").Inc()
		log.WithError(err).Warn("resync failed")
		return err
	}
	x.resyncs.Add(1)
	x.resyncTotal.WithLabelValues("success").Inc()
	x.vanished.WithLabelValues("described").Add(float64(stats.Described))
	x.vanished.WithLabelValues("forgotten").Add(float64(stats.Forgotten))
	end := x.now()
	x.lastResync.Set(float64(end.UnixMilli()) / 1000)
	x.resyncDuration.Set(end.Sub(start).Seconds())
	log.WithField("vanished", stats.Vanished).WithField("described", stats.Described).
		WithField("duration", end.Sub(start).Round(time.Millisecond)).Info("resync done")
	if !x.ready.Swap(true) && x.onReady != nil {
		x.onReady()
	}
	return nil
}

// RefreshCost asks Cost Explorer again (within the daily call budget).
func (x *Exporter) RefreshCost(ctx context.Context) error {
	if x.cost == nil {
		return nil
	}
	err := x.cost.refresh(ctx)
	if errors.Is(err, errCostBudget) {
		x.costRefreshErr.Inc()
		x.log.WithField("budget", x.cfg.CostDailyCalls).Warn("cost explorer call budget spent; keeping the cached costs")
		return err
	}
	x.awsResult("cost", err)
	if err != nil {
		x.costRefreshErr.Inc()
		x.log.WithError(err).Warn("cost refresh failed")
	}
	return err
}

// Run runs the exporter until ctx ends: capacity refreshes, resyncs, the
// SQS receivers, Cost Explorer refreshes and the expiry of finished jobs.
// AWS errors never end it: they are logged, counted and retried, and the
// last good data keeps being served.
func (x *Exporter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	spawn := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	if x.sqs != nil {
		spawn(func() { _ = x.sqs.Run(ctx) })
	} else if !x.fed {
		x.log.Warn("no --exporter.sqs-queue-url: queue gauges change only at resyncs and job histograms and counters stay empty")
	}
	capReady := make(chan struct{})
	spawn(func() { x.capacityLoop(ctx, capReady) })
	spawn(func() {
		select {
		case <-capReady:
		case <-ctx.Done():
			return
		}
		x.resyncLoop(ctx)
	})
	if x.cost != nil {
		spawn(func() { x.costLoop(ctx) })
	}
	if x.sqsQ != nil {
		spawn(func() { x.sqsQ.loop(ctx) })
	}
	spawn(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				x.state.Expire()
			}
		}
	})
	wg.Wait()
	return nil
}

// retryDelay is how long to wait after a failed AWS step.
func retryDelay(interval time.Duration, failures int) time.Duration {
	d := 5 * time.Second << min(failures, 4)
	return min(d, interval, time.Minute)
}

func (x *Exporter) capacityLoop(ctx context.Context, ready chan<- struct{}) {
	failures := 0
	signalled := false
	for ctx.Err() == nil {
		wait := x.cfg.CapacityInterval
		if err := x.RefreshCapacity(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			x.log.WithError(err).Warn("capacity refresh failed")
			wait = retryDelay(wait, failures)
			failures++
		} else {
			failures = 0
			if !signalled {
				close(ready)
				signalled = true
			}
		}
		if !signalled && len(x.cfg.Queues) > 0 && failures > 0 {
			// With an allow-list the resync can start without it.
			close(ready)
			signalled = true
		}
		_ = backoff.Sleep(ctx, wait)
	}
}

func (x *Exporter) resyncLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		start := time.Now()
		wait := x.cfg.ResyncInterval
		if err := x.Resync(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = retryDelay(wait, failures)
			failures++
		} else {
			failures = 0
			wait -= time.Since(start)
		}
		_ = backoff.Sleep(ctx, wait)
	}
}

func (x *Exporter) costLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		wait := x.cfg.CostRefreshInterval
		err := x.RefreshCost(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errCostBudget):
		case err != nil:
			// Retries spend the budget too; keep them rare.
			wait = min(wait, 15*time.Minute<<min(failures, 3))
			failures++
		default:
			failures = 0
		}
		_ = backoff.Sleep(ctx, wait)
	}
}
