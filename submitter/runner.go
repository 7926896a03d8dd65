package submitter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/backoff"
)

// Mode is how items become jobs.
type Mode string

// Submission modes.
const (
	// ModeArray submits one array job per tier, queue and 10,000 items;
	// children find their item through the manifest.
	ModeArray Mode = "array"
	// ModeSingle submits one job per item, its parameters inline.
	ModeSingle Mode = "single"
)

// BatchAPI is the part of the AWS Batch client the submitter uses.
type BatchAPI interface {
	SubmitJob(ctx context.Context, in *awsbatch.SubmitJobInput, opts ...func(*awsbatch.Options)) (*awsbatch.SubmitJobOutput, error)
	ListJobs(ctx context.Context, in *awsbatch.ListJobsInput, opts ...func(*awsbatch.Options)) (*awsbatch.ListJobsOutput, error)
}

// Options configure a Runner.
type Options struct {
	Plan  *Plan
	RunID string
	Mode  Mode
	// ArraySize bounds array jobs (default and maximum 10,000).
	ArraySize int
	// Concurrency bounds SubmitJob and ListJobs calls in flight.
	Concurrency int
	Batch       BatchAPI
	Journal     Journal
	// Manifests is required in array mode.
	Manifests ManifestStore
	// Limiter is the limiter the Batch client waits on; the runner lowers
	// it on 429s. Nil leaves pacing to the client alone.
	Limiter *AdaptiveLimiter
	Metrics *Metrics
	Log     *logrus.Entry
	Now     func() time.Time
	// DeferFanIn leaves the fan-in job to Watch, which submits it once
	// every item has finished (escalation would otherwise fail it).
	DeferFanIn bool
	// IntentBatch is how many jobs get their pending rows in one journal
	// write ahead of SubmitJob (default 200): the most a crash can leave
	// for the next run to look up.
	IntentBatch int
	// FlushEvery bounds how long results wait before they are journaled.
	FlushEvery time.Duration
	// SettleTime is how long Batch may still be creating a job after its
	// SubmitJob answer was lost (the request reached Batch, the caller
	// died or timed out). Uncertain submissions are looked up by name only
	// once it has passed since they were journaled (default 15s).
	SettleTime time.Duration
}

// Runner submits the items of one run and keeps its journal.
type Runner struct {
	opts Options
	log  *logrus.Entry

	calls callStats
	count struct {
		items, submitted, recovered, skipped, failed, rejected, escalated, pending atomic.Int64
	}
	phase   atomic.Value // string
	started time.Time

	verMu   sync.Mutex
	lastVer uint64

	mu         sync.Mutex
	recs       map[string]*Record // latest row per (kind, key)
	items      map[string]Assignment
	runStarted time.Time
	submitFrom time.Time
	submitTo   time.Time
	fanIn      string
	watch      WatchProgress
	errs       []string
}

// New checks the options and builds a runner.
func New(o Options) (*Runner, error) {
	if o.Plan == nil || o.Batch == nil || o.Journal == nil {
		return nil, errors.New("submitter: plan, Batch client and journal are required")
	}
	if err := ValidRunID(o.RunID); err != nil {
		return nil, err
	}
	switch o.Mode {
	case ModeArray:
		if o.Manifests == nil {
			return nil, errors.New("submitter: array mode needs a manifest destination")
		}
	case ModeSingle:
	default:
		return nil, fmt.Errorf("submitter: mode %q: use array or single", o.Mode)
	}
	if o.ArraySize <= 0 || o.ArraySize > MaxArraySize {
		o.ArraySize = MaxArraySize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.IntentBatch <= 0 {
		o.IntentBatch = 200
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.SettleTime <= 0 {
		o.SettleTime = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		o.Log = logrus.NewEntry(l)
	}
	r := &Runner{opts: o, log: o.Log.WithField("run_id", o.RunID), recs: map[string]*Record{}}
	r.phase.Store("created")
	return r, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (r *Runner) setPhase(p string) {
	r.phase.Store(p)
	r.log.WithField("phase", p).Debug("run phase")
}

// version returns a strictly increasing row version (microseconds).
func (r *Runner) version(now time.Time) uint64 {
	r.verMu.Lock()
	defer r.verMu.Unlock()
	v := uint64(now.UnixMicro())
	if v <= r.lastVer {
		v = r.lastVer + 1
	}
	r.lastVer = v
	return v
}

// write journals rows and, once stored, makes them the runner's view.
func (r *Runner) write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	now := r.opts.Now().UTC()
	for i := range recs {
		recs[i].UpdatedAt = now
		recs[i].Version = r.version(now)
	}
	if err := r.opts.Journal.Write(ctx, recs); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range recs {
		rec := recs[i]
		k := recKey(rec.Kind, rec.ItemKey)
		if cur, ok := r.recs[k]; ok && cur.Attempt > rec.Attempt {
			continue
		}
		r.recs[k] = &rec
	}
	return nil
}

// load reads the run's journal.
func (r *Runner) load(ctx context.Context) error {
	prior, err := r.opts.Journal.Load(ctx, r.opts.RunID)
	if err != nil {
		return fmt.Errorf("load journal of run %s: %w", r.opts.RunID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = latest(prior)
	r.runStarted = time.Time{}
	for _, rec := range prior {
		if !rec.RunStartedAt.IsZero() && (r.runStarted.IsZero() || rec.RunStartedAt.Before(r.runStarted)) {
			r.runStarted = rec.RunStartedAt
		}
		if rec.Version > r.lastVer {
			r.lastVer = rec.Version
		}
	}
	if r.runStarted.IsZero() {
		r.runStarted = r.opts.Now().UTC().Truncate(time.Second)
	}
	return nil
}

// record returns a copy of the latest row of a key.
func (r *Runner) record(kind Kind, key string) (Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.recs[recKey(kind, key)]
	if !ok {
		return Record{}, false
	}
	return *rec, true
}

// todo is an item to submit at an attempt.
type todo struct {
	a       Assignment
	attempt int
}

// Submit submits every assignment not yet submitted in this run: it loads
// the journal, skips what is submitted, looks up what a previous run left
// uncertain, submits the rest, and finally the fan-in job.
func (r *Runner) Submit(ctx context.Context, as []Assignment) (Summary, error) {
	r.mu.Lock()
	r.started = r.opts.Now()
	r.mu.Unlock()
	r.count.items.Store(int64(len(as)))
	r.setPhase("loading")
	if err := r.load(ctx); err != nil {
		r.setPhase("failed")
		return r.Summary(), err
	}

	var fresh []todo
	var uncertain []Record
	byKey := make(map[string]Assignment, len(as))
	for _, a := range as {
		byKey[a.Item.Key] = a
		rec, ok := r.record(KindItem, a.Item.Key)
		if !ok {
			fresh = append(fresh, todo{a: a})
			continue
		}
		switch rec.State {
		case StateSubmitted, StateEscalated:
			r.count.skipped.Add(1)
			r.opts.Metrics.item("skipped")
		case StatePending, StateFailed:
			uncertain = append(uncertain, rec)
		default: // rejected: nothing was created
			fresh = append(fresh, r.retryTodo(a, rec))
		}
	}
	r.mu.Lock()
	r.items = byKey
	r.mu.Unlock()
	if len(uncertain) > 0 {
		r.setPhase("recovering")
		if err := r.settle(ctx, uncertain); err != nil {
			r.setPhase("interrupted")
			return r.Summary(), err
		}
		missing, err := r.recover(ctx, uncertain)
		if err != nil {
			r.setPhase("failed")
			return r.Summary(), err
		}
		for _, rec := range missing {
			fresh = append(fresh, r.retryTodo(byKey[rec.ItemKey], rec))
		}
	}

	units := r.itemUnits(fresh)
	if err := r.checkFanIn(len(as), units); err != nil {
		r.setPhase("failed")
		return r.Summary(), err
	}
	r.setPhase("submitting")
	r.mu.Lock()
	r.submitFrom = r.opts.Now()
	r.mu.Unlock()
	err := r.execute(ctx, units)
	r.mu.Lock()
	r.submitTo = r.opts.Now()
	r.mu.Unlock()
	if err != nil {
		r.setPhase("failed")
		return r.Summary(), err
	}
	if ctx.Err() != nil {
		r.setPhase("interrupted")
		return r.Summary(), fmt.Errorf("submission interrupted: %w", ctx.Err())
	}
	if !r.opts.DeferFanIn {
		if err := r.submitFanIn(ctx, nil); err != nil {
			r.setPhase("failed")
			return r.Summary(), err
		}
	}
	r.setPhase("submitted")
	return r.Summary(), nil
}

// settle waits until SettleTime has passed since the newest uncertain row
// was journaled: a request of the previous run may still be creating its
// job, and a lookup before it lands would submit the item twice.
func (r *Runner) settle(ctx context.Context, uncertain []Record) error {
	var newest time.Time
	for _, rec := range uncertain {
		if rec.UpdatedAt.After(newest) {
			newest = rec.UpdatedAt
		}
	}
	wait := newest.Add(r.opts.SettleTime).Sub(r.opts.Now())
	if wait <= 0 {
		return nil
	}
	r.log.WithField("wait", wait.Round(time.Millisecond)).Info("waiting for Batch to settle before looking up uncertain submissions")
	return backoff.Sleep(ctx, wait)
}

// retryTodo resubmits an item at the attempt its journal row is at; an
// escalated attempt keeps the tier it was escalated to.
func (r *Runner) retryTodo(a Assignment, rec Record) todo {
	t := todo{a: a, attempt: rec.Attempt}
	if rec.Attempt > 0 {
		if ti := r.opts.Plan.TierIndex(rec.Tier); ti >= 0 {
			t.a.Tier = ti
			t.a.Queue = rec.Queue
		}
	}
	return t
}

// itemUnits turns items into SubmitJob calls: one per item in single mode,
// arrays per tier, queue and attempt in array mode (a group of one is a
// single job: arrays have at least two children).
func (r *Runner) itemUnits(items []todo) []*unit {
	var out []*unit
	if r.opts.Mode == ModeSingle {
		for _, t := range items {
			out = append(out, r.singleUnit(t.a, t.attempt))
		}
		return out
	}
	byAttempt := map[int][]Assignment{}
	var attempts []int
	for _, t := range items {
		if _, ok := byAttempt[t.attempt]; !ok {
			attempts = append(attempts, t.attempt)
		}
		byAttempt[t.attempt] = append(byAttempt[t.attempt], t.a)
	}
	sort.Ints(attempts)
	for _, at := range attempts {
		for _, g := range GroupItems(byAttempt[at], at) {
			for _, chunk := range Chunks(g.Items, r.opts.ArraySize) {
				if len(chunk) == 1 {
					out = append(out, r.singleUnit(chunk[0], at))
					continue
				}
				out = append(out, r.arrayUnit(chunk, g.Key))
			}
		}
	}
	return out
}

func (r *Runner) baseRecord(a Assignment, attempt int) Record {
	p := r.opts.Plan
	return Record{
		RunID: r.opts.RunID, ItemKey: a.Item.Key, Kind: KindItem, Attempt: attempt,
		RunStartedAt: r.runStarted, Product: p.Product, Tier: p.Tiers[a.Tier].Name,
		Priority: a.Priority, Queue: a.Queue, JobDefinition: p.Definition(a.Tier),
		ArrayIndex: -1, Size: a.Item.Size, State: StatePending,
	}
}

func (r *Runner) singleUnit(a Assignment, attempt int) *unit {
	p := r.opts.Plan
	name := ItemJobName(p.JobNamePrefix, r.opts.RunID, p.Tiers[a.Tier].Name, a.Item.Key, attempt)
	rec := r.baseRecord(a, attempt)
	rec.JobName = name
	return &unit{kind: KindItem, name: name, queue: a.Queue, tier: a.Tier, attempt: attempt,
		items: []Assignment{a}, recs: []Record{rec}}
}

func (r *Runner) arrayUnit(items []Assignment, k GroupKey) *unit {
	p := r.opts.Plan
	name := ArrayJobName(p.JobNamePrefix, r.opts.RunID, p.Tiers[k.Tier].Name, k.Attempt, items[0].Item.Key, len(items))
	u := &unit{kind: KindItem, name: name, queue: k.Queue, tier: k.Tier, attempt: k.Attempt, items: items, array: true}
	for i, a := range items {
		rec := r.baseRecord(a, k.Attempt)
		rec.JobName, rec.ArrayIndex, rec.ArraySize = name, i, len(items)
		u.recs = append(u.recs, rec)
	}
	return u
}

// manifestName is where an array's manifest goes: <run id>/<job name>.jsonl.
func (r *Runner) manifestName(u *unit) string { return r.opts.RunID + "/" + u.name + ".jsonl" }

func (r *Runner) writeManifest(ctx context.Context, u *unit) error {
	entries := make([]ManifestEntry, len(u.items))
	for i, a := range u.items {
		entries[i] = ManifestEntry{Index: i, Key: a.Item.Key, Size: a.Item.Size,
			Tier: r.opts.Plan.Tiers[u.tier].Name, Priority: a.Priority, Params: a.Item.Params}
	}
	url, err := r.opts.Manifests.Put(ctx, r.manifestName(u), EncodeManifest(entries))
	if err != nil {
		return err
	}
	u.manifest = url
	for i := range u.recs {
		u.recs[i].Manifest = url
	}
	return nil
}

// result is the outcome of one unit's SubmitJob.
type result struct {
	u     *unit
	jobID string
	err   error
	at    time.Time
}

// execute submits units: pending rows are journaled in batches ahead of the
// calls, calls run with bounded concurrency, and results are journaled in
// batches as they come. It returns an error only when the journal fails
// (then it stops: it cannot promise exactly-once any more); per-unit
// failures are journaled and counted.
func (r *Runner) execute(ctx context.Context, units []*unit) error {
	if len(units) == 0 {
		return nil
	}
	pending := 0
	for _, u := range units {
		if u.kind == KindItem && !u.escalation {
			pending += len(u.recs)
		}
	}
	r.count.pending.Add(int64(pending))

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *unit)
	results := make(chan result, r.opts.Concurrency*2)
	var prodErr error

	go func() {
		defer close(work)
		if err := r.feed(wctx, units, work); err != nil {
			prodErr = err
			cancel()
		}
	}()

	var wg sync.WaitGroup
	for range min(r.opts.Concurrency, len(units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				id, err := r.submitUnit(wctx, u)
				results <- result{u: u, jobID: id, err: err, at: r.opts.Now()}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	writeErr := r.journalResults(ctx, results, cancel)
	if prodErr != nil {
		return prodErr
	}
	return writeErr
}

// feed journals the units' pending rows (and array manifests) in batches
// and hands each batch's units to the submitters once it is journaled. It
// returns the journal's error; a cancelled ctx just stops it.
func (r *Runner) feed(ctx context.Context, units []*unit, work chan<- *unit) error {
	for start := 0; start < len(units); {
		end, rows := start, 0
		for end < len(units) && (end == start || (end-start < r.opts.IntentBatch && rows+len(units[end].recs) <= 5*r.opts.IntentBatch)) {
			rows += len(units[end].recs)
			end++
		}
		batch := units[start:end]
		var intents []Record
		for _, u := range batch {
			if u.array {
				if err := r.writeManifest(ctx, u); err != nil {
					return err
				}
			}
			intents = append(intents, u.recs...)
		}
		if err := r.write(ctx, intents); err != nil {
			return err
		}
		for _, u := range batch {
			select {
			case work <- u:
			case <-ctx.Done():
				return nil
			}
		}
		start = end
	}
	return nil
}

// journalResults journals the results as they come, in batches of up to
// 1,000 rows or every FlushEvery, until results is closed. A journal error
// cancels the submissions (through cancel) and is returned.
func (r *Runner) journalResults(ctx context.Context, results <-chan result, cancel context.CancelFunc) error {
	// Results are facts: journal them even when ctx was cancelled, so a
	// re-run has less to look up.
	flushCtx := context.WithoutCancel(ctx)
	var buf []Record
	var writeErr error
	flush := func() {
		if len(buf) == 0 || writeErr != nil {
			return
		}
		fctx, fcancel := context.WithTimeout(flushCtx, 30*time.Second)
		defer fcancel()
		if err := r.write(fctx, buf); err != nil {
			writeErr = err
			cancel()
		}
		buf = buf[:0]
	}
	tick := time.NewTicker(r.opts.FlushEvery)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case res, ok := <-results:
			if !ok {
				done = true
				break
			}
			buf = append(buf, r.resultRows(ctx, res)...)
			if len(buf) >= 1000 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
	flush()
	return writeErr
}

// resultRows turns a unit's outcome into journal rows and counts it.
func (r *Runner) resultRows(ctx context.Context, res result) []Record {
	u := res.u
	n := int64(len(u.recs))
	if res.err != nil && ctx.Err() != nil {
		// Interrupted: the pending rows stay; the next run looks them up.
		r.log.WithField("job_name", u.name).Debug("submission interrupted")
		return nil
	}
	counted := u.kind == KindItem && !u.escalation
	if counted {
		r.count.pending.Add(-n)
	}
	rows := make([]Record, len(u.recs))
	copy(rows, u.recs)
	switch {
	case res.err == nil:
		for i := range rows {
			rows[i].State, rows[i].SubmittedAt, rows[i].Error = StateSubmitted, res.at, ""
			if u.array {
				rows[i].ArrayJobID = res.jobID
				rows[i].JobID = res.jobID + ":" + strconv.Itoa(rows[i].ArrayIndex)
			} else {
				rows[i].JobID = res.jobID
			}
		}
		if counted {
			r.count.submitted.Add(n)
			r.opts.Metrics.items("submitted", n)
		}
	case isRejection(res.err):
		for i := range rows {
			rows[i].State, rows[i].Error = StateRejected, errText(res.err)
		}
		r.noteError(u, res.err)
		if counted {
			r.count.rejected.Add(n)
			r.opts.Metrics.items("failed", n)
		}
	default:
		for i := range rows {
			rows[i].State, rows[i].Error = StateFailed, errText(res.err)
		}
		r.noteError(u, res.err)
		if counted {
			r.count.failed.Add(n)
			r.opts.Metrics.items("failed", n)
		}
	}
	return rows
}

func errText(err error) string {
	s := err.Error()
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}

// noteError logs a failed submission and keeps the first few for the
// summary.
func (r *Runner) noteError(u *unit, err error) {
	r.log.WithError(err).WithField("job_name", u.name).WithField("items", len(u.recs)).Warn("submission failed")
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, u.name+": "+errText(err))
	}
}

// submitUnit calls SubmitJob. SubmitJob is not idempotent, so the SDK
// retries it only when Batch surely created nothing: throttling (429) and
// connections that were never made. Throttling that outlasts the SDK's
// retries is not a failure either: the budget is busy, so the call is made
// again after a pause, as long as ctx lives. Any other error (a lost
// answer, a 5xx) may come after Batch created the job: the job is looked up
// by its name, and submitted again only if it does not exist.
func (r *Runner) submitUnit(ctx context.Context, u *unit) (string, error) {
	in := r.opts.Plan.input(r.opts.RunID, u)
	uncertain := 0
	for n := 0; ; n++ {
		r.calls.submitCalls.Add(1)
		out, err := r.opts.Batch.SubmitJob(ctx, in, r.observe(), submitRetries)
		if err == nil {
			if out.JobId == nil || *out.JobId == "" {
				return "", errors.New("SubmitJob answered without a job id")
			}
			return *out.JobId, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("submit %s: %w", u.name, err)
		}
		switch {
		case isThrottle(err):
			r.log.WithField("job_name", u.name).Debug("still throttled after SDK retries; waiting")
		case isRejection(err):
			return "", fmt.Errorf("submit %s: %w", u.name, err)
		default:
			uncertain++
			if uncertain > maxUncertain {
				return "", fmt.Errorf("submit %s: %w", u.name, err)
			}
			r.log.WithError(err).WithField("job_name", u.name).Warn("SubmitJob answer lost; looking the job up")
			// Batch may still be creating the job.
			if werr := backoff.Sleep(ctx, r.opts.SettleTime); werr != nil {
				return "", fmt.Errorf("submit %s: %w", u.name, err)
			}
			found, lerr := r.listByName(ctx, u.queue, strings.ToLower(u.name))
			if lerr != nil {
				return "", fmt.Errorf("submit %s: %w (and the lookup failed: %v)", u.name, err, lerr)
			}
			if id, ok := found[strings.ToLower(u.name)]; ok {
				return id, nil
			}
			continue
		}
		if err := waitThrottled(ctx, n); err != nil {
			return "", fmt.Errorf("submit %s: %w", u.name, err)
		}
	}
}

// maxUncertain bounds the lost answers of one submission before it is
// journaled failed (and left to a re-run).
const maxUncertain = 3

// waitThrottled pauses after the n-th call whose SDK retries all met 429.
func waitThrottled(ctx context.Context, n int) error {
	d := throttleBackoff(n)
	return backoff.Sleep(ctx, d+time.Duration(rand.Int64N(int64(d/2)+1)))
}

// recover looks up the jobs of uncertain rows (pending: a run stopped
// between the journal and SubmitJob's answer; failed: an error that may
// have come after Batch created the job) by their deterministic names.
// Found jobs are journaled as submitted; the rows of jobs that do not exist
// are returned for submission.
func (r *Runner) recover(ctx context.Context, uncertain []Record) ([]Record, error) {
	lookups := r.recoveryLookups(uncertain)
	r.log.WithField("rows", len(uncertain)).WithField("lookups", len(lookups)).Info("looking up uncertain submissions")
	found, err := r.runLookups(ctx, lookups)
	if err != nil {
		return nil, fmt.Errorf("look up uncertain submissions: %w", err)
	}

	var rows, missing []Record
	now := r.opts.Now()
	for _, rec := range uncertain {
		id, ok := found[rec.Queue+"\x00"+strings.ToLower(rec.JobName)]
		if !ok {
			missing = append(missing, rec)
			continue
		}
		rec.State, rec.Error = StateSubmitted, ""
		if rec.SubmittedAt.IsZero() {
			rec.SubmittedAt = now
		}
		if rec.ArrayIndex >= 0 {
			rec.ArrayJobID = id
			rec.JobID = id + ":" + strconv.Itoa(rec.ArrayIndex)
		} else {
			rec.JobID = id
		}
		rows = append(rows, rec)
	}
	if err := r.write(ctx, rows); err != nil {
		return nil, err
	}
	r.count.recovered.Add(int64(len(rows)))
	r.opts.Metrics.items("skipped", int64(len(rows)))
	r.log.WithField("found", len(rows)).WithField("missing", len(missing)).Info("uncertain submissions resolved")
	return missing, nil
}

// lookup is one ListJobs search of recover: a queue and a JOB_NAME filter,
// exact (one name) or a prefix.
type lookup struct {
	queue, filter string
	exact         bool
}

// recoveryLookups plans the searches for the uncertain rows, queue by
// queue: one listing of the run's jobs or one lookup per name, whichever
// costs fewer calls.
func (r *Runner) recoveryLookups(uncertain []Record) []lookup {
	byQueue := map[string]map[string]bool{}
	for _, rec := range uncertain {
		if byQueue[rec.Queue] == nil {
			byQueue[rec.Queue] = map[string]bool{}
		}
		byQueue[rec.Queue][strings.ToLower(rec.JobName)] = true
	}
	var lookups []lookup
	r.mu.Lock()
	known := map[string]map[string]bool{}
	for _, rec := range r.recs {
		if rec.JobName == "" {
			continue
		}
		if known[rec.Queue] == nil {
			known[rec.Queue] = map[string]bool{}
		}
		known[rec.Queue][strings.ToLower(rec.JobName)] = true
	}
	r.mu.Unlock()
	prefix := RunNamePrefix(r.opts.Plan.JobNamePrefix, r.opts.RunID)
	for q, names := range byQueue {
		// One listing of the run's jobs in the queue costs a page per 100
		// jobs; one lookup per name costs a call each. Take the cheaper.
		if pages := len(known[q])/100 + 1; pages < len(names) {
			lookups = append(lookups, lookup{queue: q, filter: prefix + "*"})
			continue
		}
		for n := range names {
			lookups = append(lookups, lookup{queue: q, filter: n, exact: true})
		}
	}
	return lookups
}

// runLookups runs the lookups with bounded concurrency and returns queue +
// "\x00" + lower-cased name → job id, or the first lookup's error.
func (r *Runner) runLookups(ctx context.Context, lookups []lookup) (map[string]string, error) {
	found := map[string]string{}
	var fmu sync.Mutex
	work := make(chan lookup)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(r.opts.Concurrency, len(lookups)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range work {
				jobs, err := r.listByName(ctx, l.queue, l.filter)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					continue
				}
				fmu.Lock()
				for name, id := range jobs {
					if l.exact && name != l.filter {
						continue
					}
					found[l.queue+"\x00"+name] = id
				}
				fmu.Unlock()
			}
		}()
	}
	for _, l := range lookups {
		work <- l
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return found, nil
}

// listByName lists a queue's jobs whose name matches filter (a name, or a
// prefix ending in '*'), all statuses, every page. It returns lower-cased
// name → job id, the oldest job when a name repeats; array children are
// left out (they share their parent's name).
func (r *Runner) listByName(ctx context.Context, queue, filter string) (map[string]string, error) {
	out := map[string]string{}
	created := map[string]int64{}
	in := &awsbatch.ListJobsInput{
		JobQueue: aws.String(queue),
		Filters:  []batchtypes.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{filter}}},
	}
	for n := 0; ; {
		r.calls.listCalls.Add(1)
		page, err := r.opts.Batch.ListJobs(ctx, in, r.observe())
		if err != nil {
			if isThrottle(err) && ctx.Err() == nil {
				if werr := waitThrottled(ctx, n); werr != nil {
					return nil, werr
				}
				n++
				continue
			}
			return nil, fmt.Errorf("list jobs of %s named %s: %w", queue, filter, err)
		}
		for _, s := range page.JobSummaryList {
			if s.ArrayProperties != nil && s.ArrayProperties.Index != nil {
				continue
			}
			name := strings.ToLower(aws.ToString(s.JobName))
			at := aws.ToInt64(s.CreatedAt)
			if prev, ok := created[name]; ok && prev <= at {
				continue
			}
			created[name] = at
			out[name] = aws.ToString(s.JobId)
		}
		if page.NextToken == nil || *page.NextToken == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}
