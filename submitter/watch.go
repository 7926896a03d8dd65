package submitter

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/sqsconsumer"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Queue and QueueURL: an SQS queue receiving the Batch job events of
	// this run's jobs (EventBridge → SQS, optionally through SNS). The
	// watcher deletes every message it reads, so the queue must be its own.
	Queue    sqsconsumer.API
	QueueURL string
	// Consumer are base settings of the SQS consumer (backoff, hooks);
	// the queue and wait come from the fields above, and one receiver
	// applies the events in order of receipt.
	Consumer sqsconsumer.Config
	// Escalate resubmits items whose job ran out of memory one tier up.
	Escalate bool
	// Timeout ends the watch (0: until every item has finished or ctx
	// ends).
	Timeout time.Duration
	// WaitSeconds is the long-poll wait of ReceiveMessage (default 10).
	WaitSeconds int32
}

// WatchProgress counts what the watcher saw.
type WatchProgress struct {
	Active bool `json:"active"`
	// Tracked items: those whose latest job the watcher follows.
	Tracked   int `json:"tracked"`
	Succeeded int `json:"succeeded"`
	// Failed for good (not escalated), by failure class.
	Failed    int            `json:"failed"`
	FailedBy  map[string]int `json:"failed_by,omitempty"`
	Escalated int            `json:"escalated"`
	Events    int64          `json:"events"`
	Ignored   int64          `json:"ignored_events"`
}

// Running is how many tracked items have not finished.
func (w WatchProgress) Running() int { return w.Tracked - w.Succeeded - w.Failed }

type itemWatch struct {
	done, ok bool
}

// Watch follows the run's jobs through their events until every item has
// finished (SUCCEEDED, or FAILED for good), the timeout passes or ctx ends.
// With Escalate, an item whose latest job fails for lack of memory
// (batch.FailureOOM) is resubmitted as a single job in the next tier and
// its queue, as the next attempt, through the journal like any submission;
// in the largest tier it fails for good. Duplicate, late and stale events
// (of an attempt already escalated) change nothing. With a deferred
// fan-in, the fan-in job is submitted when every item has succeeded.
func (r *Runner) Watch(ctx context.Context, o WatchOptions) error {
	if o.Queue == nil || o.QueueURL == "" {
		return fmt.Errorf("watch: an SQS queue receiving the run's Batch events is required")
	}
	if o.WaitSeconds <= 0 {
		o.WaitSeconds = 10
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	w := r.startWatch(o.Escalate)
	defer func() {
		r.mu.Lock()
		r.watch.Active = false
		r.mu.Unlock()
	}()
	r.log.WithField("items", len(w.state)).WithField("queue_url", o.QueueURL).Info("watching job events")
	if r.running(w.state) > 0 {
		if err := w.consume(ctx, o); err != nil {
			return err
		}
	}
	return r.endWatch(ctx, w.state)
}

// watcher is one Watch: the items it follows and what ended it.
type watcher struct {
	r        *Runner
	escalate bool
	stop     context.CancelFunc

	mu    sync.Mutex
	byJob map[string]string // job id → item key
	state map[string]*itemWatch
	err   error
}

// startWatch tracks the items whose latest job was submitted.
func (r *Runner) startWatch(escalate bool) *watcher {
	w := &watcher{r: r, escalate: escalate, byJob: map[string]string{}, state: map[string]*itemWatch{}}
	r.setPhase("watching")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Kind != KindItem || rec.State != StateSubmitted {
			continue
		}
		w.byJob[rec.JobID] = rec.ItemKey
		w.state[rec.ItemKey] = &itemWatch{}
	}
	r.watch = WatchProgress{Active: true, Tracked: len(w.state), FailedBy: map[string]int{}}
	return w
}

// consume receives events until every item finished, an escalation failed
// or ctx ends.
func (w *watcher) consume(ctx context.Context, o WatchOptions) error {
	ctx, w.stop = context.WithCancel(ctx)
	defer w.stop()
	cfg := o.Consumer
	cfg.QueueURL, cfg.Receivers, cfg.WaitTime = o.QueueURL, 1, time.Duration(o.WaitSeconds)*time.Second
	c := sqsconsumer.New(o.Queue, cfg, w.handle, sqsconsumer.Deps{Metrics: w.r.opts.Metrics.consumer(), Logger: w.r.log, Now: w.r.opts.Now})
	if err := c.Run(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// handle applies a received batch of events and escalates the items that
// ran out of memory. The messages are acknowledged once the escalations are
// journaled; when one fails they are given back (they come back after
// their visibility timeout and the journal decides again) and the watch
// ends with the error.
func (w *watcher) handle(ctx context.Context, msgs []*sqsconsumer.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.r
	if w.err == nil {
		var escalate []string
		for _, m := range msgs {
			ev, err := batch.Parse(m.Body)
			if err != nil {
				r.log.WithError(err).Debug("not a job event; dropped")
				r.watchCount(func(p *WatchProgress) { p.Ignored++ })
				continue
			}
			if key, ok := r.onEvent(ev, w.byJob, w.state, w.escalate); ok {
				escalate = append(escalate, key)
			}
		}
		if len(escalate) > 0 {
			ids, err := r.escalate(ctx, escalate)
			w.err = err
			for key, id := range ids {
				w.byJob[id] = key
				w.state[key] = &itemWatch{}
			}
		}
	}
	for _, m := range msgs {
		m.Done(w.err == nil)
	}
	if w.err != nil || r.running(w.state) == 0 {
		w.stop()
	}
}

// endWatch reports unfinished items, or submits the deferred fan-in once
// every item has finished.
func (r *Runner) endWatch(ctx context.Context, state map[string]*itemWatch) error {
	left := r.running(state)
	if left > 0 {
		r.log.WithField("running", left).Warn("watch ended before every item finished")
		if r.opts.DeferFanIn && r.opts.Plan.FanIn != nil {
			r.setFanIn(fmt.Sprintf("not submitted: the watch ended with %d items unfinished (re-run with --escalate to go on watching)", left))
		}
		r.setPhase("watched")
		return nil
	}
	if r.opts.DeferFanIn && r.opts.Plan.FanIn != nil {
		finished := map[string]bool{}
		failed := 0
		for key, st := range state {
			if st.ok {
				finished[key] = true
			} else {
				failed++
			}
		}
		if failed > 0 {
			r.setFanIn(fmt.Sprintf("not submitted: %d items failed", failed))
		} else if err := r.submitFanIn(ctx, finished); err != nil {
			return err
		}
	}
	r.setPhase("done")
	return nil
}

func (r *Runner) running(state map[string]*itemWatch) int {
	n := 0
	for _, st := range state {
		if !st.done {
			n++
		}
	}
	return n
}

func (r *Runner) watchCount(f func(*WatchProgress)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.watch)
}

// onEvent applies one event; it returns the item key when the item is to
// be escalated.
func (r *Runner) onEvent(ev *batch.Event, byJob map[string]string, state map[string]*itemWatch, escalate bool) (string, bool) {
	j := &ev.Job
	key, ok := byJob[j.ID]
	if !ok || ev.DetailType != batch.DetailTypeJobStateChange {
		r.watchCount(func(w *WatchProgress) { w.Ignored++ })
		return "", false
	}
	r.watchCount(func(w *WatchProgress) { w.Events++ })
	rec, ok := r.record(KindItem, key)
	st := state[key]
	if !ok || rec.JobID != j.ID || st == nil || st.done {
		return "", false // stale attempt, duplicate or late event
	}
	switch j.Status {
	case batch.StatusSucceeded:
		st.done, st.ok = true, true
		r.watchCount(func(w *WatchProgress) { w.Succeeded++ })
	case batch.StatusFailed:
		tier := r.opts.Plan.TierIndex(rec.Tier)
		if escalate && j.FailureClass == batch.FailureOOM && tier >= 0 && tier+1 < len(r.opts.Plan.Tiers) {
			st.done = true
			return key, true
		}
		st.done = true
		class := string(j.FailureClass)
		if class == "" {
			class = string(batch.FailureOther)
		}
		r.watchCount(func(w *WatchProgress) {
			w.Failed++
			w.FailedBy[class]++
		})
		r.log.WithField("item", key).WithField("job_id", j.ID).WithField("failure_class", class).Info("item failed")
	}
	return "", false
}

// escalate resubmits items one tier up and marks their previous attempt
// escalated; it returns the new job id of every item submitted.
func (r *Runner) escalate(ctx context.Context, keys []string) (map[string]string, error) {
	p := r.opts.Plan
	var units []*unit
	prev := map[string]Record{}
	for _, key := range keys {
		rec, _ := r.record(KindItem, key)
		a, ok := r.assignment(key)
		if !ok {
			r.log.WithField("item", key).Warn("cannot escalate: item not in this run's items")
			r.watchCount(func(w *WatchProgress) {
				w.Failed++
				w.FailedBy[string(batch.FailureOOM)]++
			})
			continue
		}
		next := p.TierIndex(rec.Tier) + 1
		q, _ := p.Queue(p.Tiers[next].Name, rec.Priority)
		a.Tier, a.Queue, a.Priority = next, q, rec.Priority
		u := r.singleUnit(a, rec.Attempt+1)
		u.escalation = true
		units = append(units, u)
		prev[key] = rec
	}
	if err := r.execute(ctx, units); err != nil {
		return nil, err
	}
	ids := map[string]string{}
	var marks []Record
	for _, u := range units {
		key := u.items[0].Item.Key
		rec, ok := r.record(KindItem, key)
		if !ok || rec.Attempt != u.attempt || rec.State != StateSubmitted {
			// Left pending or failed: a re-run with the same run id
			// looks it up and submits it.
			r.watchCount(func(w *WatchProgress) {
				w.Failed++
				w.FailedBy["not_resubmitted"]++
			})
			continue
		}
		ids[key] = rec.JobID
		old := prev[key]
		old.State = StateEscalated
		marks = append(marks, old)
		r.count.escalated.Add(1)
		r.opts.Metrics.escalated(old.Tier, rec.Tier)
		r.log.WithField("item", key).WithField("from_tier", old.Tier).WithField("to_tier", rec.Tier).WithField("job_id", rec.JobID).Info("escalated after running out of memory")
	}
	r.watchCount(func(w *WatchProgress) { w.Escalated += len(marks) })
	// The previous attempt's row is older: write it without letting it
	// replace the new attempt in the runner's view (write keeps the
	// highest attempt).
	if err := r.write(ctx, marks); err != nil {
		return nil, err
	}
	return ids, nil
}

// assignment returns the item as given to Submit.
func (r *Runner) assignment(key string) (Assignment, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.items[key]
	return a, ok
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
