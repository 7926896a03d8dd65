// Package sim plays AWS Batch for demos, tests and load tests: the Batch
// REST-JSON API, a scheduler that places jobs on simulated EC2 and Fargate
// capacity and walks them through AWS's job states with realistic failures,
// the EventBridge events each transition produces (delivered to the
// simulator's own SQS queues, its EventBridge bus, or external endpoints),
// Cost Explorer computed from the simulated instance-hours, and a ground
// truth of every job for reconciliation.
//
// Everything is built from AWS's documented wire shapes (the botocore
// service models and the Batch user guide's sample events), never from
// batchwatch's own event model, so a misunderstanding in the product cannot
// hide on both sides of a test.
package sim

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
)

// Config configures a simulator.
type Config struct {
	// Scenario is the simulated account and workload (LoadScenario).
	Scenario *Scenario
	// Speed is simulated seconds per real second; 0 runs as fast as
	// possible on virtual time.
	Speed float64
	// Seed makes a run reproducible.
	Seed uint64
	// Registry receives the batchwatch_sim_* metrics (and those of the
	// simulated SQS and EventBridge); nil uses a private registry.
	Registry prometheus.Registerer
	// Gatherer serves /metrics; nil uses Registry when it is a Gatherer.
	Gatherer prometheus.Gatherer
	Logger   *logrus.Entry
	// Now gives the simulated start time; nil uses time.Now.
	Now func() time.Time
	// ExitWhenDone ends Run once no job can make progress any more and
	// every event is delivered.
	ExitWhenDone bool
	// NoWorkload serves the environment only; jobs come through the API.
	NoWorkload bool
	// Out receives every emitted envelope as one JSON line.
	Out io.Writer
	// NoDelivery delivers events to Out only: not to the scenario's
	// targets, nor to the simulator's own event bus.
	NoDelivery bool
	// AWS configures the SDK clients of external delivery targets; nil
	// uses the SDK's defaults.
	AWS *awsclient.Config
	// Hostile mixes bad messages into a queue during the run (sim/hostile.go).
	Hostile HostileConfig
	// APIRate is the shared budget of Batch API calls per second (default
	// 50, as AWS); negative disables throttling.
	APIRate float64

	// shareMessaging, set by NewFleet, makes this simulator deliver to
	// and serve another's SQS and EventBridge (a region's central bus).
	shareMessaging *Sim
}

// Sim is one simulated AWS account.
type Sim struct {
	cfg     Config
	sc      *Scenario
	log     *logrus.Entry
	arn     arns
	metrics *metrics
	limiter *rate.Limiter
	msg     messaging
	sqs     queueService
	bus     busService
	wrap    func(topicARN string, message []byte, now time.Time) []byte
	out     *outbox
	cost    *costBook
	faults  *faultInjector // nil: no request faults
	// hostileSent is set once every configured hostile message is sent.
	hostileSent atomic.Bool

	mu           sync.Mutex
	rng          *rng
	clock        clock
	events       eventHeap
	evSeq        uint64
	jobSeq       uint64
	progress     int // scheduled events that move jobs
	cur          int64
	needDispatch bool
	jobs         map[string]*job
	allJobs      []*job
	queues       map[string]*queue
	queueOrder   []*queue
	ces          map[string]*computeEnv
	ceOrder      []*computeEnv
	defs         map[string][]*jobDef
	resTags      map[string]map[string]string
	groups       map[string][]*queue
	items        []*itemState
	wake         chan struct{}
	memo         map[memoKey]memoVal
	cursors      []cursor
	budgets      []int
}

// New builds a simulator from cfg: it creates the scenario's compute
// environments, queues, job definitions and delivery queues, and schedules
// the workload. Call Run to drive it and serve Handler.
func New(cfg Config) (*Sim, error) {
	if cfg.Scenario == nil {
		return nil, errors.New("sim: no scenario")
	}
	if cfg.Speed < 0 {
		return nil, errors.New("sim: speed must not be negative")
	}
	if cfg.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		cfg.Logger = logrus.NewEntry(l)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Gatherer == nil {
		if g, ok := cfg.Registry.(prometheus.Gatherer); ok {
			cfg.Gatherer = g
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.APIRate == 0 {
		cfg.APIRate = 50
	}
	if cfg.Hostile.Count > 0 && cfg.Hostile.Queue == "" {
		return nil, errors.New("sim: hostile messages need a queue")
	}
	sc := cfg.Scenario
	if err := sc.Faults.validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s := &Sim{
		cfg:     cfg,
		sc:      sc,
		log:     cfg.Logger.WithField("component", "sim"),
		arn:     arns{partition: partitionOf(sc.Region), region: sc.Region, account: sc.Account},
		rng:     newRNG(cfg.Seed),
		jobs:    map[string]*job{},
		queues:  map[string]*queue{},
		ces:     map[string]*computeEnv{},
		defs:    map[string][]*jobDef{},
		resTags: map[string]map[string]string{},
		groups:  map[string][]*queue{},
		wake:    make(chan struct{}, 1),
		memo:    map[memoKey]memoVal{},
	}
	if cfg.APIRate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.APIRate), int(math.Max(1, cfg.APIRate)))
	}
	s.clock = clock{startMS: cfg.Now().UnixMilli(), speed: cfg.Speed}
	s.cur = s.clock.startMS
	s.metrics = newMetrics(cfg.Registry, s)
	if len(sc.Faults.Requests) > 0 {
		s.faults = newFaultInjector(sc.Faults, cfg.Seed, cfg.Registry)
	}
	s.cost = newCostBook(sc)
	s.attachMessaging()
	if err := s.buildEnvironment(); err != nil {
		return nil, err
	}
	sinks, err := s.buildSinks()
	if err != nil {
		return nil, err
	}
	s.out = newOutbox(s, sinks)
	if err := s.checkHostile(); err != nil {
		return nil, err
	}
	if !cfg.NoWorkload {
		s.scheduleWorkload()
	}
	return s, nil
}

// Scenario returns the scenario being simulated.
func (s *Sim) Scenario() *Scenario { return s.sc }

// Now returns the simulated time in epoch milliseconds.
func (s *Sim) Now() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Sim) nowLocked() int64 {
	return max(s.cur, s.clock.now(time.Now()))
}

// syncClock brings the scheduler's current time up to the simulated clock
// before an API call changes state.
func (s *Sim) syncClock() { s.cur = s.nowLocked() }

// Close stops the simulated services.
func (s *Sim) Close() {
	s.out.close()
	if s.sqs != nil && s.cfg.shareMessaging == nil {
		s.sqs.Close()
	}
}

// queueService is what the simulator needs of its SQS server.
type queueService interface {
	http.Handler
	CreateQueue(name string, attrs map[string]string) (queueURL string, err error)
	SendBatch(queueName string, bodies []string) error
	Close()
}

// busService is what the simulator needs of its EventBridge server.
type busService interface {
	http.Handler
	AddRule(bus, name, pattern string, targetQueueNames ...string) error
	Publish(bus string, envelope []byte) (matched int, err error)
}

// clock maps real time to simulated time.
type clock struct {
	startMS   int64
	speed     float64
	wallStart time.Time
	running   bool
}

func (c *clock) now(wall time.Time) int64 {
	if c.speed == 0 || !c.running {
		return c.startMS
	}
	return c.startMS + int64(float64(wall.Sub(c.wallStart).Milliseconds())*c.speed)
}

// wallUntil is how long to wait in real time until simulated time t.
func (c *clock) wallUntil(t int64, wall time.Time) time.Duration {
	d := time.Duration(float64(t-c.now(wall))/c.speed) * time.Millisecond
	return max(d, time.Millisecond)
}

// Events.

type evKind uint8

const (
	evArrival evKind = iota
	evEvaluate
	evReady
	evStarting
	evRunning
	evEnd
	evUserCancel
	evUserTerminate
	evTimeLimit
	evRerun
	evReclaim
	evIdle
	evDispatch
)

// progresses reports whether an event of this kind can move a job.
func (k evKind) progresses() bool { return k < evReclaim }

type event struct {
	at   int64
	seq  uint64
	kind evKind
	gen  uint32
	job  *job
	inst *instance
	item int
	n    int
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = event{}
	*h = old[:n-1]
	return e
}

func (s *Sim) schedule(e event) {
	s.evSeq++
	e.seq = s.evSeq
	if e.kind.progresses() {
		s.progress++
	}
	heap.Push(&s.events, e)
}

func (s *Sim) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Events runs a scenario on virtual time (speed 0), without delivery,
// until no job can progress, and returns every event it emitted as JSON
// lines: the reference output tests of event consumers read.
func Events(ctx context.Context, sc *Scenario, seed uint64, start time.Time) ([]byte, error) {
	var out bytes.Buffer
	s, err := New(Config{Scenario: sc, Seed: seed, Out: &out, ExitWhenDone: true, NoDelivery: true,
		Now: func() time.Time { return start }})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Run(ctx); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run did not finish: %w", err)
	}
	return out.Bytes(), nil
}

// Run drives the simulated clock: it processes scheduled transitions as
// simulated time reaches them (at once with speed 0) and delivers the
// events, until ctx ends or, with ExitWhenDone, until no job can progress
// and every event is delivered.
func (s *Sim) Run(ctx context.Context) error {
	s.mu.Lock()
	s.clock.wallStart = time.Now()
	s.clock.running = true
	s.mu.Unlock()
	stopDelivery := s.startDelivery(ctx)
	defer stopDelivery()
	hostileSent := s.startHostile(ctx)

	const batch = 4096
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		var limit int64 = math.MaxInt64
		if s.clock.speed > 0 {
			limit = s.clock.now(time.Now())
		}
		n := s.advance(limit, batch, s.cfg.ExitWhenDone)
		done := s.progress == 0
		next := int64(-1)
		if len(s.events) > 0 {
			next = s.events[0].at
		}
		now := s.nowLocked()
		s.mu.Unlock()
		s.metrics.clock.Set(float64(now) / 1000)

		if err := s.out.waitBelow(ctx, outboxHighWater); err != nil {
			return nil
		}
		if s.cfg.ExitWhenDone && done {
			if err := s.out.drain(ctx); err != nil {
				return nil
			}
			if s.Done() {
				select {
				case <-hostileSent:
				case <-ctx.Done():
				}
				s.log.WithField("jobs", len(s.allJobs)).Info("simulation done")
				return nil
			}
			continue
		}
		if n > 0 || (next >= 0 && s.clock.speed == 0) {
			continue
		}
		wait := time.Hour
		if next >= 0 {
			wait = min(s.clock.wallUntil(next, time.Now()), time.Second)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// startDelivery starts delivering emitted events; the returned function
// stops it after delivering what is left (unless ctx ended).
func (s *Sim) startDelivery(ctx context.Context) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.out.run(ctx)
	}()
	return func() {
		s.out.close()
		<-done
	}
}

// advance processes the events due by limit, at most maxEvents of them
// (whole timestamps at a time), and places RUNNABLE jobs after each
// timestamp. With stopWhenIdle it stops once no job can progress.
func (s *Sim) advance(limit int64, maxEvents int, stopWhenIdle bool) int {
	n := 0
	for len(s.events) > 0 && s.events[0].at <= limit && n < maxEvents {
		if s.progress == 0 && stopWhenIdle {
			// Only instance housekeeping is left: the run is over.
			break
		}
		t := s.events[0].at
		if t > s.cur {
			s.cur = t
		}
		for len(s.events) > 0 && s.events[0].at == t {
			e := heap.Pop(&s.events).(event)
			if e.kind.progresses() {
				s.progress--
			}
			s.handle(e)
			n++
		}
		if s.needDispatch {
			s.dispatch()
		}
	}
	if n == 0 && s.needDispatch {
		s.dispatch()
	}
	return n
}

func (s *Sim) handle(e event) {
	switch e.kind {
	case evArrival:
		s.arrive(e.item, e.n)
	case evEvaluate:
		s.evaluate(e.job)
	case evReady:
		s.ready(e.job)
	case evStarting:
		if e.gen == e.job.gen {
			s.starting(e.job)
		}
	case evRunning:
		if e.gen == e.job.gen {
			s.running(e.job)
		}
	case evEnd:
		if e.gen == e.job.gen {
			s.endAttempt(e.job, e.job.outcome)
		}
	case evUserCancel:
		s.cancel(e.job, "Cancelled by user", false)
	case evUserTerminate:
		s.cancel(e.job, "Terminated by user", true)
	case evTimeLimit:
		if e.gen == e.job.gen {
			s.timeLimit(e.job)
		}
	case evRerun:
		if e.gen == e.job.gen {
			s.rerun(e.job)
		}
	case evReclaim:
		if !e.inst.terminated {
			s.reclaim(e.inst)
		}
	case evIdle:
		if e.gen == e.inst.idleGen && !e.inst.terminated && len(e.inst.jobs) == 0 {
			s.terminateInstance(e.inst, false)
		}
	case evDispatch:
		s.needDispatch = true
	}
}

// Done reports whether no job can make progress any more.
func (s *Sim) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress == 0
}

// WaitDelivered blocks until every event emitted so far is delivered.
func (s *Sim) WaitDelivered(ctx context.Context) error { return s.out.drain(ctx) }

// buildEnvironment creates the scenario's compute environments, queues and
// job definitions.
func (s *Sim) buildEnvironment() error {
	for _, spec := range s.sc.ComputeEnvironments {
		if _, err := s.addComputeEnv(spec, nil); err != nil {
			return fmt.Errorf("compute environment %s: %w", spec.Name, err)
		}
	}
	for _, spec := range s.sc.JobQueues {
		names := []string{spec.Name}
		if spec.Count > 1 {
			names = names[:0]
			for i := 1; i <= spec.Count; i++ {
				names = append(names, fmt.Sprintf("%s-%02d", spec.Name, i))
			}
		}
		for _, name := range names {
			ces := make([]*computeEnv, 0, len(spec.ComputeEnvironments))
			for _, c := range spec.ComputeEnvironments {
				ces = append(ces, s.ces[c])
			}
			q := s.addQueue(name, spec.Priority, spec.State, ces, spec.Tags, spec.JobStateTimeLimitActions)
			if spec.SchedulingPolicy != "" {
				q.schedulingPolicyArn = s.arn.schedulingPolicy(spec.SchedulingPolicy)
			}
			q.createdBySpec = true
			q.group = spec.Name
			s.groups[spec.Name] = append(s.groups[spec.Name], q)
		}
	}
	for i := range s.sc.JobDefinitions {
		spec := &s.sc.JobDefinitions[i]
		in := specToRegister(spec, s.sc.Account)
		if _, err := s.registerDef(in); err != nil {
			return fmt.Errorf("job definition %s: %w", spec.Name, err)
		}
	}
	return nil
}

func (s *Sim) addQueue(name string, prio int, state string, ces []*computeEnv, tags map[string]string, limits []TimeLimitActionSpec) *queue {
	q := &queue{
		name: name, arn: s.arn.queue(name), priority: prio, state: state, ces: ces,
		tags: tags, timeLimits: limits,
	}
	s.queues[name] = q
	s.queueOrder = append(s.queueOrder, q)
	sort.SliceStable(s.queueOrder, func(i, j int) bool { return s.queueOrder[i].priority > s.queueOrder[j].priority })
	if len(tags) > 0 {
		s.resTags[q.arn] = copyMap(tags)
	}
	s.metrics.addQueue(q)
	return q
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// handleHealthy answers /-/healthy and /-/ready.
func handleHealthy(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("Healthy.\n"))
}
