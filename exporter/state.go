package exporter

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/batchwatch/batchwatch/batch"
)

// State is the exporter's picture of every job it watches: a map of jobs
// and, kept up to date on every change, the counts and oldest ages per queue
// and status and the unschedulable RUNNABLE jobs, so a scrape reads a few
// hundred numbers and does no per-job work.
//
// Observations come from events (SQS), from listings (ListJobs pages of a
// resync) and from DescribeJobs. Events are ordered by batch.Event.Version:
// a duplicate or older event changes nothing. A listing page is a snapshot
// taken when its request was sent: it wins over what the entry says unless
// the entry was observed later (its version's time is after the page), or
// an event moved it further along its lifecycle after the page was
// requested, or the entry is terminal (only events bring a job back from
// SUCCEEDED or FAILED). So events arriving during a resync are neither lost
// nor overwritten by the older snapshot, and a resync needs no pause.
//
// Array children are counted apart from other jobs; nodes of multi-node
// jobs are ignored (the main job counts once).
type State struct {
	mu      sync.Mutex
	now     func() time.Time
	account string
	window  time.Duration
	allow   map[string]bool
	tierTag string
	tierPar string
	tiers   map[string]bool
	costTag []string
	prices  map[string]Price
	m       *jobMetrics

	jobs     map[string]*jobEntry
	queues   []*queueAgg
	queueIdx map[string]uint16
	finished *recentSet
	blocked  *recentSet
	evict    lazyHeap
	gen      uint32

	defReq     map[string]shape // job definition ARN → request
	clusterCap map[string]string
	queueCap   map[uint16]string

	// zeroed holds the (queue, definition, tier, kind) whose outcome
	// series exist (see zeroSeries).
	zeroed map[seriesKey]struct{}

	// Usage events (exporter/usage.go): the definition and tier of jobs
	// that started, interned strings, and the usage events counted.
	usageKeys map[string]usageKey
	interned  map[string]string
	usageSeen *recentSet

	// Job definitions' own tags (exporter/deftags.go), by definition ARN,
	// for the cost tags of jobs with propagateTags; wantTags are the ARNs
	// still to describe.
	defTags  map[string]map[string]string
	wantTags map[string]bool

	// idle attributes estimated costs to compute environments (idle.go).
	idle *idleBook
}

// seriesKey names one set of outcome series.
type seriesKey struct {
	queue, def, tier string
	kind             uint8
}

// queueAgg holds one queue's pre-aggregated numbers.
type queueAgg struct {
	name string
	// counts[0] counts single, array parent and multi-node jobs;
	// counts[1] array children.
	counts [2][numStatus]int64
	// oldest orders every job but array parents by enteredMs.
	oldest  [numStatus]lazyHeap
	unsched [numRes]int64
	fit     *fitTable
}

// StateConfig configures a State.
type StateConfig struct {
	Now            func() time.Time
	FinishedWindow time.Duration
	// Queues restricts the watched queues; empty watches any queue.
	Queues []string
	// Account, when set, ignores events of any other account.
	Account       string
	TierTag       string
	TierParameter string
	Tiers         []string
	CostTags      []string
	Prices        map[string]Price
	DedupCapacity int
}

func newState(cfg StateConfig, m *jobMetrics) *State {
	s := &State{
		now: cfg.Now, account: cfg.Account, window: cfg.FinishedWindow, tierTag: cfg.TierTag, tierPar: cfg.TierParameter,
		costTag: cfg.CostTags, prices: cfg.Prices, m: m,
		jobs: map[string]*jobEntry{}, queueIdx: map[string]uint16{},
		finished: newRecentSet(cfg.DedupCapacity), blocked: newRecentSet(16384),
		defReq: map[string]shape{}, clusterCap: map[string]string{}, queueCap: map[uint16]string{},
		zeroed:    map[seriesKey]struct{}{},
		usageKeys: map[string]usageKey{}, interned: map[string]string{}, usageSeen: newRecentSet(16384),
		defTags: map[string]map[string]string{}, wantTags: map[string]bool{},
		idle: newIdleBook(cfg.Now()),
	}
	if len(cfg.Queues) > 0 {
		s.allow = map[string]bool{}
		for _, q := range cfg.Queues {
			s.allow[q] = true
			s.queueLocked(q)
		}
	}
	if len(cfg.Tiers) > 0 {
		s.tiers = map[string]bool{}
		for _, t := range cfg.Tiers {
			s.tiers[t] = true
		}
	}
	return s
}

func (s *State) nowMs() int64 { return s.now().UnixMilli() }

// queueLocked returns the index of queue name, adding it.
func (s *State) queueLocked(name string) uint16 {
	if i, ok := s.queueIdx[name]; ok {
		return i
	}
	i := uint16(len(s.queues))
	name = strings.Clone(name)
	s.queues = append(s.queues, &queueAgg{name: name})
	s.queueIdx[name] = i
	return i
}

func (s *State) watched(queue string) bool {
	return queue != "" && (s.allow == nil || s.allow[queue])
}

// AddQueues makes sure the queues have series (all zero) before any job.
func (s *State) AddQueues(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if s.watched(n) {
			s.queueLocked(n)
		}
	}
}

// place puts e into status st at enteredMs, keeping the aggregates.
func (s *State) place(e *jobEntry, st uint8, enteredMs int64) {
	if e.status != stNone {
		s.unplace(e)
	}
	e.status, e.enteredMs = st, enteredMs
	e.seq++
	q := s.queues[e.queue]
	q.counts[childIdx(e)][st]++
	if e.kind != kindArrayParent {
		q.oldest[st].push(heapItem{at: enteredMs, e: e, seq: e.seq})
	}
	if st == stRunnable && e.hasReq {
		e.unsched = q.fit.check(e.req)
		q.unsched[e.unsched]++
	}
	if terminal(st) {
		at := e.stoppedMs
		if at == 0 {
			at = enteredMs
		}
		s.evict.push(heapItem{at: at, e: e, seq: e.seq})
	}
}

// unplace takes e out of the aggregates.
func (s *State) unplace(e *jobEntry) {
	if e.status == stNone {
		return
	}
	q := s.queues[e.queue]
	q.counts[childIdx(e)][e.status]--
	if e.kind != kindArrayParent {
		q.oldest[e.status].removed()
	}
	if e.status == stRunnable && e.hasReq {
		q.unsched[e.unsched]--
	}
	e.unsched = resNone
	if terminal(e.status) {
		s.evict.removed()
	}
	e.status = stNone
	e.seq++
}

func childIdx(e *jobEntry) int {
	if e.kind == kindArrayChild {
		return 1
	}
	return 0
}

// setReq changes the request of e, keeping the unschedulable counts.
func (s *State) setReq(e *jobEntry, req shape) {
	if e.hasReq && e.req == req {
		return
	}
	q := s.queues[e.queue]
	if e.status == stRunnable && e.hasReq {
		q.unsched[e.unsched]--
	}
	e.req, e.hasReq = req, true
	if e.status == stRunnable {
		e.unsched = q.fit.check(req)
		q.unsched[e.unsched]++
	}
}

// remove deletes e; a finished job is remembered with its version so that
// its redelivered events are not counted again.
func (s *State) remove(e *jobEntry) {
	if terminal(e.status) && e.finishCounted {
		s.finished.put(hashID(e.id), e.version)
	}
	s.unplace(e)
	delete(s.jobs, e.id)
	delete(s.usageKeys, e.id)
}

// ApplyEvent applies one parsed event that arrived at arrivalMs (the
// exporter's clock) and returns what became of it.
func (s *State) ApplyEvent(ev *batch.Event, arrivalMs int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.applyEventLocked(ev, arrivalMs)
	s.m.events.WithLabelValues(r).Inc()
	return r
}

func (s *State) applyEventLocked(ev *batch.Event, arrivalMs int64) string {
	j := &ev.Job
	if !s.watched(j.Queue) || j.IsNode() || (s.account != "" && EventAccount(ev) != s.account) {
		return resultIgnored
	}
	if ev.Usage != nil {
		return s.applyUsageLocked(ev)
	}
	if ev.DetailType == batch.DetailTypeJobQueueBlocked {
		h := hashID(ev.ID)
		if _, ok := s.blocked.get(h); ok {
			return resultDuplicate
		}
		s.blocked.put(h, 1)
		s.queueLocked(j.Queue)
		s.m.blocked.WithLabelValues(j.Queue, blockedReason(j.StatusReason)).Inc()
		return resultApplied
	}
	st := statusIndex(j.Status)
	if st == stNone {
		return resultIgnored
	}
	return s.observe(j, ev.Version(), ev.Time, arrivalMs, false)
}

// observe applies a full job detail (from an event or DescribeJobs) of
// the given version and counts what it shows for the first time.
func (s *State) observe(j *batch.Job, version uint64, evTime time.Time, arrivalMs int64, fromDetail bool) string {
	st := statusIndex(j.Status)
	e := s.jobs[j.ID]
	result := resultApplied
	if e == nil {
		h := hashID(j.ID)
		if prev, ok := s.finished.get(h); ok {
			if version == prev {
				return resultDuplicate
			}
			if version < prev {
				return resultOutOfOrder
			}
		}
		// Clone: the parser's strings may point into the whole event body.
		e = &jobEntry{id: strings.Clone(j.ID), status: stNone, queue: s.queueLocked(j.Queue), kind: kindOf(j)}
		if prev, ok := s.finished.get(h); ok {
			// A finished job run again after it left the window: its
			// earlier attempts and its finish are counted already.
			e.attemptsCounted = uint16(versionAttempts(prev))
			e.finishCounted, e.waitCounted = true, true
		}
		s.jobs[e.id] = e
	} else if version == e.version {
		result = resultDuplicate
	} else if version < e.version {
		result = resultOutOfOrder
	}
	s.count(e, j)
	// A job's request never changes: take it from any observation.
	if !e.hasReq {
		if req, ok := requestOf(j); ok {
			s.setReq(e, req)
		}
	}
	if result != resultApplied {
		return result
	}

	e.version = version
	e.touchedMs = arrivalMs
	if j.CreatedAtMs > 0 {
		e.createdMs = j.CreatedAtMs
	}
	if req, ok := requestOf(j); ok {
		s.setReq(e, req)
	} else if !e.hasReq {
		if req, ok := s.inheritedReq(e, ""); ok {
			s.setReq(e, req)
		}
	}
	if terminal(st) {
		e.stoppedMs = j.StoppedAtMs
		if e.stoppedMs == 0 {
			e.stoppedMs = evTime.UnixMilli()
		}
	}
	if st != e.status {
		// Events say when the job entered the status (envelope time);
		// for a DescribeJobs snapshot, the job's own times say it best.
		entered := evTime.UnixMilli()
		switch {
		case terminal(st):
			entered = e.stoppedMs
		case fromDetail && st == stRunning && j.StartedAtMs > 0:
			entered = j.StartedAtMs
		case fromDetail || evTime.IsZero():
			entered = j.CreatedAtMs
		}
		s.place(e, st, entered)
	}
	if terminal(st) && e.stoppedMs < s.nowMs()-s.window.Milliseconds() {
		s.remove(e)
	}
	return resultApplied
}

func kindOf(j *batch.Job) uint8 {
	switch {
	case j.IsArrayParent():
		return kindArrayParent
	case j.IsArrayChild():
		return kindArrayChild
	case j.NumNodes > 0:
		return kindMultinode
	}
	return kindSingle
}

func requestOf(j *batch.Job) (shape, bool) {
	if j.VCPUs == nil && j.MemoryMiB == nil && j.GPUs == nil {
		return shape{}, false
	}
	var r shape
	if j.VCPUs != nil {
		r.vcpus = *j.VCPUs
	}
	if j.MemoryMiB != nil {
		r.memMiB = *j.MemoryMiB
	}
	if j.GPUs != nil {
		r.gpus = *j.GPUs
	}
	return r, true
}

// inheritedReq is the request of a job known only from a listing: its
// array parent's, else its job definition's.
func (s *State) inheritedReq(e *jobEntry, defARN string) (shape, bool) {
	if e.kind == kindArrayChild {
		if i := lastColon(e.id); i > 0 {
			if p := s.jobs[e.id[:i]]; p != nil && p.hasReq {
				return p.req, true
			}
		}
	}
	if defARN != "" {
		r, ok := s.defReq[defARN]
		return r, ok
	}
	return shape{}, false
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}

func (s *State) tierOf(j *batch.Job) string {
	var v string
	var ok bool
	if s.tierTag != "" {
		v, ok = j.Tag(s.tierTag)
	}
	if !ok && s.tierPar != "" {
		v, ok = j.Parameter(s.tierPar)
	}
	if ok && v != "" && s.tiers != nil && !s.tiers[v] {
		return "other"
	}
	return v
}

// tagsOf joins the job's values of the cost tags with NUL; a job with
// propagateTags also carries its definition's tags (as Batch propagates them
// to the ECS task, where the bill sees them), its own winning.
func (s *State) tagsOf(j *batch.Job) string {
	if len(s.costTag) == 0 {
		return ""
	}
	var b []byte
	for i, k := range s.costTag {
		if i > 0 {
			b = append(b, 0)
		}
		v, ok := j.Tag(k)
		if !ok && j.PropagateTags {
			v = s.defTags[j.DefinitionARN][k]
		}
		b = append(b, v...)
	}
	return string(b)
}

func splitTags(s string, n int) []string {
	out := make([]string, 0, n)
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	out = append(out, s[start:])
	for len(out) < n {
		out = append(out, "")
	}
	return out[:n]
}

// count feeds the job histograms and counters with what j shows that e has
// not counted yet: finished attempts, the queue wait, the job's end.
func (s *State) count(e *jobEntry, j *batch.Job) {
	q := s.queues[e.queue].name
	def := j.Definition
	tier := s.tierOf(j)
	kind := kindOf(j)
	s.zeroSeries(q, def, tier, kind)
	s.rememberUsageKey(e, j, tier)
	s.wantDefinitionTags(j)
	if kind != kindArrayParent {
		for i := int(e.attemptsCounted); i < len(j.Attempts); i++ {
			a := &j.Attempts[i]
			if a.StoppedAtMs <= 0 {
				break
			}
			s.m.attempts.WithLabelValues(q, def, tier).Inc()
			if i > 0 {
				s.m.retries.WithLabelValues(q, def, tier).Inc()
			}
			if a.FailureClass == batch.FailureSpotReclaimed {
				s.m.spotReclaims.WithLabelValues(q).Inc()
			}
			if a.StartedAtMs > 0 && a.StoppedAtMs >= a.StartedAtMs {
				d := float64(a.StoppedAtMs-a.StartedAtMs) / 1000
				s.m.attemptDuration.WithLabelValues(q, def, tier).Observe(d)
				s.countCost(e, j, a, tier, d)
			}
			e.attemptsCounted = uint16(i + 1)
		}
		if !e.waitCounted {
			if w := j.QueueWaitMs(); w >= 0 {
				s.m.queueWait.WithLabelValues(q, def, tier).Observe(float64(w) / 1000)
				e.waitCounted = true
			}
		}
	}
	if !j.Status.Terminal() || e.finishCounted {
		return
	}
	e.finishCounted = true
	s.m.finished.WithLabelValues(q, def, tier, string(j.Status), kindNames[kind]).Inc()
	if kind == kindArrayParent {
		return
	}
	if t := j.TotalTimeMs(); t >= 0 {
		s.m.totalDuration.WithLabelValues(q, def, tier).Observe(float64(t) / 1000)
	}
	if j.Status == batch.StatusFailed {
		class := string(j.FailureClass)
		if class == "" {
			class = string(batch.FailureOther)
		}
		s.m.failures.WithLabelValues(q, def, tier, class).Inc()
		s.m.failuresByExit.WithLabelValues(q, exitCodeClass(j.ExitCode)).Inc()
	}
}

// zeroSeries creates the finished (SUCCEEDED, FAILED) and failure-class
// series of a (queue, definition, tier, kind) at 0 the first time a job of
// it is seen, so that its first failures are an increase Prometheus can
// see (a counter born at 40 shows no increase) and a failure-spike alert
// does not miss a new job definition, tier or a restarted exporter.
func (s *State) zeroSeries(q, def, tier string, kind uint8) {
	k := seriesKey{q, def, tier, kind}
	if _, ok := s.zeroed[k]; ok {
		return
	}
	s.zeroed[k] = struct{}{}
	for _, st := range []batch.Status{batch.StatusSucceeded, batch.StatusFailed} {
		s.m.finished.WithLabelValues(q, def, tier, string(st), kindNames[kind])
	}
	if kind == kindArrayParent {
		return
	}
	for _, c := range batch.FailureClasses {
		s.m.failures.WithLabelValues(q, def, tier, string(c))
	}
}

// countCost adds one finished attempt's resource-seconds and estimated
// cost.
func (s *State) countCost(e *jobEntry, j *batch.Job, a *batch.Attempt, tier string, seconds float64) {
	req, ok := requestOf(j)
	if !ok {
		req = e.req
	}
	capacity := s.capacityOf(e, j, a)
	labels := append([]string{s.queues[e.queue].name, tier, capacity}, splitTags(s.tagsOf(j), len(s.costTag))...)
	gib := float64(req.memMiB) / 1024
	s.m.vcpuSeconds.WithLabelValues(labels...).Add(req.vcpus * seconds)
	s.m.memorySeconds.WithLabelValues(labels...).Add(gib * seconds)
	s.m.gpuSeconds.WithLabelValues(labels...).Add(float64(req.gpus) * seconds)
	p := s.prices[capacity]
	usd := (req.vcpus*p.VCPUHour + gib*p.GiBHour + float64(req.gpus)*p.GPUHour) * seconds / 3600
	s.m.costUSD.WithLabelValues(labels...).Add(usd)
	s.idle.add(s.queues[e.queue].name, attemptCluster(a), j.Platform == batch.PlatformFargate, a.StartedAtMs, a.StoppedAtMs, usd)
}

// attemptCluster is the ECS cluster of an attempt's container instance or
// task, "" when neither says.
func attemptCluster(a *batch.Attempt) string {
	for _, arn := range []string{a.ContainerInstanceARN, a.TaskARN} {
		if c := ecsCluster(arn); c != "" {
			return c
		}
	}
	return ""
}

// capacityOf finds where an attempt ran: the compute environment of the
// ECS cluster in its task or container instance ARN, else Fargate for
// Fargate jobs, else the queue's first compute environment, else
// on-demand.
func (s *State) capacityOf(e *jobEntry, j *batch.Job, a *batch.Attempt) string {
	for _, arn := range []string{a.ContainerInstanceARN, a.TaskARN} {
		if c := s.clusterCap[ecsCluster(arn)]; c != "" {
			return c
		}
	}
	if j.Platform == batch.PlatformFargate {
		return CapacityFargate
	}
	if c := s.queueCap[e.queue]; c != "" {
		return c
	}
	return CapacityOnDemand
}

// listedJob is one ListJobs summary.
type listedJob struct {
	id            string
	status        uint8
	kind          uint8
	createdMs     int64
	startedMs     int64
	stoppedMs     int64
	definitionARN string
}

// BeginResync starts a resync generation.
func (s *State) BeginResync() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	return s.gen
}

// ApplyListing applies one ListJobs page of queue, requested at pageMs. It
// returns the jobs whose request is still unknown, with their job
// definition ARN.
func (s *State) ApplyListing(queue string, gen uint32, pageMs int64, jobs []listedJob) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.watched(queue) {
		return nil
	}
	qi := s.queueLocked(queue)
	cutoff := s.nowMs() - s.window.Milliseconds()
	var noReq map[string]string
	for i := range jobs {
		e := s.applyListedLocked(qi, gen, pageMs, cutoff, &jobs[i])
		if e != nil && !e.hasReq && jobs[i].definitionARN != "" {
			if noReq == nil {
				noReq = map[string]string{}
			}
			noReq[e.id] = jobs[i].definitionARN
		}
	}
	return noReq
}

func (s *State) applyListedLocked(qi uint16, gen uint32, pageMs, cutoff int64, lj *listedJob) *jobEntry {
	e := s.jobs[lj.id]
	if e == nil {
		if terminal(lj.status) && (lj.stoppedMs < cutoff || s.hasFinished(lj.id)) {
			return nil
		}
		e = &jobEntry{id: strings.Clone(lj.id), status: stNone, queue: qi, kind: lj.kind, createdMs: lj.createdMs}
		s.jobs[e.id] = e
		if req, ok := s.inheritedReq(e, lj.definitionARN); ok {
			s.setReq(e, req)
		}
	} else {
		e.seenGen = gen
		switch {
		case terminal(e.status) && !terminal(lj.status):
			// Only events bring a job back from SUCCEEDED or FAILED: a
			// listing may lag behind the event that ended the job.
			return e
		case versionMs(e.version) > pageMs:
			return e
		case e.touchedMs >= pageMs && rank(e.status) > rank(lj.status):
			return e
		}
		if !e.hasReq {
			if req, ok := s.inheritedReq(e, lj.definitionARN); ok {
				s.setReq(e, req)
			}
		}
	}
	e.seenGen = gen
	e.touchedMs = max(e.touchedMs, pageMs)
	e.version = batch.Version(versionAttempts(e.version), statusName(lj.status), pageMs)
	if e.createdMs == 0 {
		e.createdMs = lj.createdMs
	}
	if terminal(lj.status) {
		e.stoppedMs = lj.stoppedMs
	}
	if lj.status != e.status {
		entered := lj.createdMs
		switch {
		case terminal(lj.status) && lj.stoppedMs > 0:
			entered = lj.stoppedMs
		case lj.status == stRunning && lj.startedMs > 0:
			entered = lj.startedMs
		}
		s.place(e, lj.status, entered)
	}
	return e
}

func (s *State) hasFinished(id string) bool {
	_, ok := s.finished.get(hashID(id))
	return ok
}

// ApplyDetail applies a DescribeJobs result observed at observedMs.
func (s *State) ApplyDetail(j *batch.Job, observedMs int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.watched(j.Queue) || j.IsNode() || statusIndex(j.Status) == stNone {
		return resultIgnored
	}
	at := time.UnixMilli(observedMs)
	ev := batch.Event{Time: at, Job: *j}
	return s.observe(j, ev.Version(), at, observedMs, true)
}

// EndResync returns the active jobs that the resync of generation gen did
// not list and that nothing touched since startMs: their final event was
// lost or is still on its way.
func (s *State) EndResync(gen uint32, startMs int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, e := range s.jobs {
		if active(e.status) && e.seenGen != gen && e.touchedMs < startMs {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Forget drops jobs that vanished and could not be described, unless
// something touched them since startMs.
func (s *State) Forget(ids []string, startMs int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		if e := s.jobs[id]; e != nil && active(e.status) && e.touchedMs < startMs {
			s.remove(e)
			n++
		}
	}
	return n
}

// SetDefinitionRequests records job definitions' requests and gives them
// to the jobs known only from listings.
func (s *State) SetDefinitionRequests(reqs map[string]shape, defOf map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for arn, r := range reqs {
		s.defReq[arn] = r
	}
	for id, arn := range defOf {
		if e := s.jobs[id]; e != nil && !e.hasReq {
			if r, ok := s.defReq[arn]; ok {
				s.setReq(e, r)
			}
		}
	}
}

// KnownDefinition reports whether the request of a job definition is known.
func (s *State) KnownDefinition(arn string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.defReq[arn]
	return ok
}

// SetCapacity installs what the compute environments can launch per queue
// and which capacity each ECS cluster is, and recounts the unschedulable
// jobs when a queue's table changed.
func (s *State) SetCapacity(fits map[string]*fitTable, clusters map[string]string, queueCap map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusterCap = clusters
	s.queueCap = map[uint16]string{}
	for q, c := range queueCap {
		if s.watched(q) {
			s.queueCap[s.queueLocked(q)] = c
		}
	}
	changed := map[uint16]bool{}
	for name, ft := range fits {
		if !s.watched(name) {
			continue
		}
		q := s.queues[s.queueLocked(name)]
		if !q.fit.equal(ft) {
			q.fit = ft
			changed[s.queueIdx[name]] = true
		}
	}
	if len(changed) == 0 {
		return
	}
	for _, e := range s.jobs {
		if e.status == stRunnable && e.hasReq && changed[e.queue] {
			q := s.queues[e.queue]
			q.unsched[e.unsched]--
			e.unsched = q.fit.check(e.req)
			q.unsched[e.unsched]++
		}
	}
}

// Expire drops finished jobs that left the finished window.
func (s *State) Expire() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.nowMs() - s.window.Milliseconds()
	n := 0
	for {
		it, ok := s.evict.top()
		if !ok || it.at >= cutoff {
			return n
		}
		s.remove(it.e)
		n++
	}
}

// QueueSnapshot is one queue's numbers at a scrape.
type QueueSnapshot struct {
	Name         string
	Jobs         [numStatus]int64
	Children     [numStatus]int64
	OldestAgeSec [numStatus]float64
	Unsched      [numRes]int64
	// Fit is nil when the queue's instance types are not known.
	Fit *fitTable
}

// Snapshot copies the aggregates of every queue, sorted by name.
func (s *State) Snapshot() []QueueSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowMs()
	out := make([]QueueSnapshot, 0, len(s.queues))
	for _, q := range s.queues {
		qs := QueueSnapshot{Name: q.name, Jobs: q.counts[0], Children: q.counts[1], Unsched: q.unsched, Fit: q.fit}
		for st := range q.oldest {
			if it, ok := q.oldest[st].top(); ok {
				qs.OldestAgeSec[st] = max(0, float64(now-it.at)/1000)
			}
		}
		out = append(out, qs)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Tracked returns the number of jobs in the map and of finished jobs
// remembered after they left it.
func (s *State) Tracked() (jobs, remembered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs), s.finished.len()
}
