package submitter

import (
	"context"
	"fmt"
	"sort"
)

// MaxDependencies is Batch's limit of dependencies per job.
const MaxDependencies = 20

// checkFanIn refuses, before anything is submitted, a fan-in that would
// need more than 20 dependencies without a barrier job definition to
// gather them.
func (r *Runner) checkFanIn(items int, units []*unit) error {
	fi := r.opts.Plan.FanIn
	if fi == nil || fi.BarrierJobDefinition != "" || r.opts.DeferFanIn {
		// Deferred, the fan-in waits for every item to finish and then
		// depends on nothing.
		return nil
	}
	deps := map[string]bool{}
	r.mu.Lock()
	for _, rec := range r.recs {
		if rec.Kind == KindItem && rec.State == StateSubmitted {
			deps[depOf(rec)] = true
		}
	}
	r.mu.Unlock()
	n := len(deps) + len(units)
	if n > MaxDependencies {
		return fmt.Errorf("the fan-in job would depend on %d jobs (%d items); Batch allows %d per job: set fan_in.barrier_job_definition (a no-op job) so batchwatch can gather them in a tree, or use array mode",
			n, items, MaxDependencies)
	}
	return nil
}

// depOf is what the fan-in depends on for an item: its array (which
// finishes when every child has) or its single job.
func depOf(rec *Record) string {
	if rec.ArrayJobID != "" {
		return rec.ArrayJobID
	}
	return rec.JobID
}

// auxSpec is one fan-in or barrier job to have submitted.
type auxSpec struct {
	kind Kind
	key  string
	deps []string
}

// submitFanIn submits the fan-in job once every item of the run is
// submitted, depending on every item's job except those in finished
// (items Watch saw succeed). More than 20 dependencies are gathered by
// barrier jobs, 20 per job, level by level. Barrier keys hash their
// dependencies, so a re-run with the same jobs reuses them.
func (r *Runner) submitFanIn(ctx context.Context, finished map[string]bool) error {
	fi := r.opts.Plan.FanIn
	if fi == nil {
		return nil
	}
	if rec, ok := r.record(KindFanIn, fi.Name); ok && rec.State == StateSubmitted {
		r.setFanIn("submitted " + rec.JobID)
		return nil
	}
	var deps []string
	seen := map[string]bool{}
	notReady := 0
	r.mu.Lock()
	for _, rec := range r.recs {
		if rec.Kind != KindItem {
			continue
		}
		if rec.State != StateSubmitted && rec.State != StateEscalated {
			notReady++
			continue
		}
		if finished[rec.ItemKey] {
			continue
		}
		if d := depOf(rec); !seen[d] {
			seen[d] = true
			deps = append(deps, d)
		}
	}
	r.mu.Unlock()
	if notReady > 0 {
		r.setFanIn(fmt.Sprintf("not submitted: %d items are not submitted yet (re-run with the same run id)", notReady))
		r.log.WithField("items", notReady).Warn("fan-in job not submitted: items left")
		return nil
	}
	sort.Strings(deps)
	r.setPhase("fan-in")
	for level := 1; len(deps) > MaxDependencies; level++ {
		if fi.BarrierJobDefinition == "" {
			return fmt.Errorf("fan-in: %d dependencies and no fan_in.barrier_job_definition", len(deps))
		}
		var specs []auxSpec
		for start := 0; start < len(deps); start += MaxDependencies {
			chunk := deps[start:min(start+MaxDependencies, len(deps))]
			specs = append(specs, auxSpec{kind: KindBarrier, key: fmt.Sprintf("barrier-%d-%s", level, hexHash(16, chunk...)), deps: chunk})
		}
		ids, err := r.auxJobs(ctx, specs)
		if err != nil {
			return err
		}
		deps = ids
	}
	ids, err := r.auxJobs(ctx, []auxSpec{{kind: KindFanIn, key: fi.Name, deps: deps}})
	if err != nil {
		return err
	}
	r.setFanIn("submitted " + ids[0])
	r.log.WithField("job_id", ids[0]).WithField("dependencies", len(deps)).Info("fan-in job submitted")
	return nil
}

func (r *Runner) setFanIn(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fanIn = s
}

// auxJobs has fan-in or barrier jobs submitted exactly once, through the
// journal like items, and returns their job ids in order.
func (r *Runner) auxJobs(ctx context.Context, specs []auxSpec) ([]string, error) {
	fi := r.opts.Plan.FanIn
	p := r.opts.Plan
	var uncertain []Record
	for _, s := range specs {
		if rec, ok := r.record(s.kind, s.key); ok && (rec.State == StatePending || rec.State == StateFailed) {
			uncertain = append(uncertain, rec)
		}
	}
	if len(uncertain) > 0 {
		if _, err := r.recover(ctx, uncertain); err != nil {
			return nil, err
		}
	}
	var units []*unit
	for _, s := range specs {
		if rec, ok := r.record(s.kind, s.key); ok && rec.State == StateSubmitted {
			continue
		}
		label, def := fi.Name, fi.JobDefinition
		if s.kind == KindBarrier {
			label, def = "barrier", fi.BarrierJobDefinition
		}
		name := AuxJobName(p.JobNamePrefix, r.opts.RunID, s.kind, label, s.key)
		units = append(units, &unit{kind: s.kind, name: name, queue: fi.Queue, tier: -1, key: s.key, deps: s.deps,
			recs: []Record{{
				RunID: r.opts.RunID, ItemKey: s.key, Kind: s.kind, RunStartedAt: r.runStarted, Product: p.Product,
				Tier: string(s.kind), Queue: fi.Queue, JobDefinition: def, JobName: name, ArrayIndex: -1, State: StatePending,
			}}})
	}
	if err := r.execute(ctx, units); err != nil {
		return nil, err
	}
	ids := make([]string, len(specs))
	for i, s := range specs {
		rec, ok := r.record(s.kind, s.key)
		if !ok || rec.State != StateSubmitted {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s %s: %w", s.kind, s.key, ctx.Err())
			}
			return nil, fmt.Errorf("%s job %s was not submitted: %s", s.kind, s.key, rec.Error)
		}
		ids[i] = rec.JobID
	}
	return ids, nil
}
