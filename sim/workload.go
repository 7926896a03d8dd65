package sim

import (
	"strconv"
	"strings"
	"time"
)

// itemState tracks one workload item's submissions.
type itemState struct {
	spec      *WorkloadItem
	qs        []*queue
	def       *jobDef
	submitted []*job // latest submissions (at most 20), for dependencies
	rr        int
}

// scheduleWorkload schedules every submission of the scenario's workload.
func (s *Sim) scheduleWorkload() {
	for i := range s.sc.Workload {
		w := &s.sc.Workload[i]
		qs := s.groups[w.Queue]
		if len(qs) == 0 {
			qs = []*queue{s.queues[w.Queue]}
		}
		s.items = append(s.items, &itemState{spec: w, qs: qs, def: s.defByRef(w.Definition)})
		for n := range w.Count {
			at := s.clock.startMS + int64((w.At+time.Duration(n)*w.Every)/time.Millisecond)
			s.schedule(event{at: at, kind: evArrival, item: i, n: n})
		}
	}
}

// arrive submits one workload submission.
func (s *Sim) arrive(item, n int) {
	st := s.items[item]
	w := st.spec
	q := st.qs[st.rr%len(st.qs)]
	st.rr++
	records := s.rng.dist(w.Records)
	account := ""
	if strings.Contains(joinValues(w.Parameters), "{account}") {
		pool := w.Accounts
		if pool <= 0 {
			pool = 10000
		}
		account = strconv.Itoa(1000000 + s.rng.intn(pool))
	}
	rep := strings.NewReplacer("{n}", strconv.Itoa(n), "{item}", w.Name,
		"{records}", strconv.Itoa(int(records)), "{account}", account)
	params := copyMap(st.def.detail.Parameters)
	if params == nil {
		params = map[string]string{}
	}
	for k, v := range w.Parameters {
		params[k] = rep.Replace(v)
	}
	var deps []jobDependency
	for _, d := range w.DependsOn {
		for _, other := range s.items[:item] {
			if other.spec.Name != d.Item || len(other.submitted) == 0 {
				continue
			}
			targets := other.submitted[len(other.submitted)-1:]
			if d.All {
				targets = other.submitted
			}
			for _, t := range targets {
				if len(deps) < 20 {
					deps = append(deps, jobDependency{JobID: t.id, Type: d.Type})
				}
			}
		}
	}
	if w.Sequential && w.ArraySize > 0 {
		deps = append(deps, jobDependency{Type: "SEQUENTIAL"})
	}
	def := st.def
	r := submitReq{
		name: rep.Replace(w.JobName), q: q, def: def, arraySize: w.ArraySize, deps: deps,
		params: params, tags: w.Tags, vcpus: def.vcpus, memMiB: def.memMiB, gpus: def.gpus,
		retry: def.retry, propagateTags: w.PropagateTags, timeout: def.timeout,
		schedPrio: def.detail.SchedulingPriority, shareID: w.ShareIdentifier,
	}
	if w.VCPUs > 0 {
		r.vcpus = w.VCPUs
	}
	if w.MemoryMiB > 0 {
		r.memMiB = w.MemoryMiB
	}
	if w.Timeout > 0 {
		r.timeout = int32(w.Timeout / time.Second)
	}
	if w.RetryStrategy != nil {
		r.retry = retryFromSpec(w.RetryStrategy)
	}
	if w.SchedulingPriority != nil {
		p := int32(*w.SchedulingPriority)
		r.schedPrio = &p
	}
	if w.Behavior != nil && w.Behavior.Failures != nil {
		f := *w.Behavior.Failures
		if len(f.ExitCodes) == 0 {
			f.ExitCodes = def.behavior.Failures.ExitCodes
		}
		r.failures = &f
	}
	if w.Records.Median > 0 {
		first := true
		r.size = func() float64 {
			if first && w.ArraySize == 0 {
				first = false
				return records
			}
			return s.rng.dist(w.Records)
		}
	}
	j, err := s.submit(r)
	if err != nil {
		s.log.WithError(err).WithField("item", w.Name).Warn("workload submission rejected")
		return
	}
	st.submitted = append(st.submitted, j)
	if len(st.submitted) > 20 {
		st.submitted = st.submitted[1:]
	}
	leaves := j.children
	if len(leaves) == 0 {
		leaves = []*job{j}
	}
	for _, l := range leaves {
		if s.rng.chance(w.CancelProbability) {
			s.schedule(event{at: s.cur + s.rng.durMS(w.UserActionDelay), kind: evUserCancel, job: l})
		}
		if s.rng.chance(w.TerminateProbability) {
			s.schedule(event{at: s.cur + s.rng.durMS(w.UserActionDelay), kind: evUserTerminate, job: l})
		}
	}
}

func joinValues(m map[string]string) string {
	var b strings.Builder
	for _, v := range m {
		b.WriteString(v)
	}
	return b.String()
}
