package sim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AWS's texts for job and attempt status reasons.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonOOM             = "OutOfMemoryError: Container killed due to memory usage"
	reasonTimeout         = "Job attempt duration exceeded timeout"
	reasonDependency      = "Dependent Job failed"
	reasonHostTerminated  = "Host EC2 (instance %s) terminated."
	reasonPullFormat      = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref %s: not found"

	blockedJobRequirement = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
	blockedMaxResource    = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
	blockedCapacity       = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
)

func blockedMessage(code, instanceType string) string {
	switch code {
	case blockedJobRequirement:
		return code + " - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue."
	case blockedMaxResource:
		return code + " - CE(s) associated with the job queue cannot meet the CPU requirement of the job."
	default:
		return code + " - Service cannot fulfill the capacity requested for instance type [" + instanceType + "]"
	}
}

// lookahead bounds how many unplaceable jobs one placement pass examines
// per priority level and set of compute environments, so 100,000 RUNNABLE
// jobs cost little when capacity is exhausted. Queues of one priority that
// share their compute environments share the bound (they compete for the
// same capacity); a queue on other compute environments has its own, so a
// backlogged queue never keeps it from capacity it does not use (AWS
// schedules each compute environment's capacity on its own).
const lookahead = 64

// submitReq is a validated SubmitJob request (from the API or the workload).
type submitReq struct {
	name          string
	q             *queue
	def           *jobDef
	arraySize     int
	deps          []jobDependency
	params        map[string]string
	tags          map[string]string
	vcpus         float64
	memMiB        int
	gpus          int
	command       []string
	env           []keyValuePair
	retry         *retryStrategy
	propagateTags *bool
	timeout       int32
	schedPrio     *int32
	shareID       string
	// Simulation only.
	size     func() float64
	failures *Failures
}

// submit creates a job (and an array's children) in SUBMITTED and
// schedules its evaluation.
func (s *Sim) submit(r submitReq) (*job, error) {
	now := s.cur
	var depJobs []*job
	sequential := false
	for _, d := range r.deps {
		switch {
		case d.Type == "SEQUENTIAL" && d.JobID == "":
			if r.arraySize == 0 {
				return nil, clientErr("A SEQUENTIAL dependency can only be used with an array job")
			}
			sequential = true
		default:
			dj := s.jobs[nameFromArn(d.JobID)]
			if dj == nil {
				return nil, clientErr(fmt.Sprintf("Dependent job %s does not exist", d.JobID))
			}
			if d.Type == "N_TO_N" && (r.arraySize == 0 || dj.size != r.arraySize) {
				return nil, clientErr("An N_TO_N dependency requires array jobs of the same size")
			}
			depJobs = append(depJobs, dj)
		}
	}
	j := s.newJob(r, nil, 0)
	j.dependsOn = r.deps
	if j.dependsOn == nil {
		j.dependsOn = []jobDependency{}
	}
	j.size = r.arraySize
	j.q.jobs = append(j.q.jobs, j)
	if r.arraySize > 0 {
		j.children = make([]*job, r.arraySize)
		for i := range r.arraySize {
			c := s.newJob(r, j, i)
			c.dependsOn = j.dependsOn
			j.children[i] = c
			if sequential && i > 0 {
				s.addDep(c, j.children[i-1])
			}
			for k, dj := range depJobs {
				if r.deps[k].Type == "N_TO_N" {
					s.addDep(c, dj.children[i])
				} else {
					s.addDep(c, dj)
				}
			}
		}
	} else {
		for _, dj := range depJobs {
			s.addDep(j, dj)
		}
	}
	s.schedule(event{at: now + s.rng.durMS(s.sc.Timing.SubmitDelay), kind: evEvaluate, job: j})
	s.wakeUp()
	return j, nil
}

func (s *Sim) newJob(r submitReq, parent *job, index int) *job {
	s.jobSeq++
	j := &job{
		seq: s.jobSeq, name: r.name, q: r.q, def: r.def, parent: parent, index: index,
		createdAt: s.cur, params: r.params, tags: r.tags, timeout: r.timeout,
		shareID: r.shareID, schedPrio: r.schedPrio, vcpus: r.vcpus, memMiB: r.memMiB, gpus: r.gpus,
		command: r.command, env: r.env, retry: r.retry, behavior: r.def.behavior,
		platform: r.def.detail.PlatformCapabilities,
	}
	if r.q.schedulingPolicyArn != "" && j.schedPrio == nil {
		// A fair-share job always reports its priority (0 unless the
		// definition or the submission sets one).
		j.schedPrio = ptr(int32(0))
	}
	j.propagateTags = r.def.detail.PropagateTags
	if r.propagateTags != nil {
		j.propagateTags = *r.propagateTags
	}
	j.failures = j.behavior.Failures
	if r.failures != nil {
		j.failures = *r.failures
	}
	if parent != nil {
		j.id = parent.id + ":" + strconv.Itoa(index)
	} else {
		j.id = s.rng.uuid()
	}
	j.arn = s.arn.job(j.id)
	if r.size != nil && (parent != nil || r.arraySize == 0) {
		j.size0 = r.size()
	}
	s.jobs[j.id] = j
	s.allJobs = append(s.allJobs, j)
	if parent != nil {
		parent.childCounts[stSubmitted]++
	}
	j.q.statusCounts[stSubmitted]++
	s.metrics.jobEnter(j.q, stSubmitted)
	s.metrics.submitted.WithLabelValues(j.q.name).Inc()
	return j
}

func (s *Sim) addDep(j, dep *job) {
	switch dep.status {
	case stSucceeded:
		return
	case stFailed:
		j.depFailed = true
		return
	}
	j.waitingOn++
	dep.dependents = append(dep.dependents, j)
}

// setStatus moves a job to a new status and keeps the counters.
func (s *Sim) setStatus(j *job, st status) {
	old := j.status
	if old == st {
		return
	}
	j.status = st
	j.q.statusCounts[old]--
	j.q.statusCounts[st]++
	s.metrics.jobMove(j.q, old, st)
	if p := j.parent; p != nil {
		p.childCounts[old]--
		p.childCounts[st]++
	}
}

// evaluate is the scheduler's first look at a submitted job.
func (s *Sim) evaluate(j *job) {
	if j.status != stSubmitted {
		return
	}
	if j.size > 0 {
		s.setStatus(j, stPending)
		s.emitState(j)
		for _, c := range j.children {
			if c.status != stSubmitted {
				continue
			}
			if c.depFailed {
				s.failNoAttempt(c, reasonDependency)
				continue
			}
			s.setStatus(c, stPending)
			s.emitState(c)
			if c.waitingOn == 0 {
				s.schedule(event{at: s.cur + s.rng.durMS(s.sc.Timing.PendingDelay), kind: evReady, job: c})
			}
		}
		return
	}
	switch {
	case j.depFailed:
		s.failNoAttempt(j, reasonDependency)
	case j.waitingOn > 0:
		s.setStatus(j, stPending)
		s.emitState(j)
	default:
		s.makeRunnable(j)
		s.emitState(j)
	}
}

// ready moves a PENDING job whose dependencies are met to RUNNABLE.
func (s *Sim) ready(j *job) {
	if j.status == stPending && j.waitingOn == 0 {
		s.makeRunnable(j)
		s.emitState(j)
	}
}

func (s *Sim) makeRunnable(j *job) {
	s.setStatus(j, stRunnable)
	j.runnableSince = s.cur
	j.blocked = ""
	j.blockCheck = false
	j.qgen++
	j.queued = true
	j.q.runq.push(qent{j: j, gen: j.qgen})
	s.needDispatch = true
}

func (s *Sim) unqueue(j *job) {
	if j.queued {
		j.queued = false
		j.q.runq.live--
	}
}

// finish runs when a job reaches SUCCEEDED or FAILED: dependents and the
// array parent learn about it.
func (s *Sim) finish(j *job) {
	deps := j.dependents
	j.dependents = nil
	for _, d := range deps {
		if d.status.terminal() {
			continue
		}
		if j.status == stSucceeded {
			d.waitingOn--
			if d.waitingOn == 0 && d.status == stPending {
				s.schedule(event{at: s.cur + s.rng.durMS(s.sc.Timing.PendingDelay), kind: evReady, job: d})
			}
			continue
		}
		if d.status == stSubmitted {
			d.depFailed = true
			continue
		}
		s.cancelQueued(d)
		s.failNoAttempt(d, reasonDependency)
	}
	if p := j.parent; p != nil && !p.status.terminal() &&
		int(p.childCounts[stSucceeded]+p.childCounts[stFailed]) == p.size {
		if p.childCounts[stFailed] > 0 {
			s.setStatus(p, stFailed)
		} else {
			s.setStatus(p, stSucceeded)
		}
		p.stoppedAt = s.cur
		s.emitState(p)
		s.finish(p)
	}
}

// failNoAttempt fails a job that never started (cancel, dependency).
func (s *Sim) failNoAttempt(j *job, reason string) {
	j.gen++
	j.statusReason = reason
	j.stoppedAt = s.cur
	s.setStatus(j, stFailed)
	s.emitState(j)
	s.finish(j)
}

// cancelQueued releases whatever a not yet started job holds.
func (s *Sim) cancelQueued(j *job) {
	s.unqueue(j)
	if inst := j.inst; inst != nil {
		s.release(j, inst)
	}
	if ce := j.fargateCE; ce != nil {
		ce.fargateVCPUs -= j.vcpus
		j.fargateCE = nil
		s.needDispatch = true
	}
}

// cancel implements CancelJob (terminate=false) and TerminateJob.
func (s *Sim) cancel(j *job, reason string, terminate bool) {
	if j.size > 0 {
		if terminate {
			j.isTerminated = true
		} else {
			j.isCancelled = true
		}
		for _, c := range j.children {
			s.cancel(c, reason, terminate)
		}
		return
	}
	switch j.status {
	case stSubmitted, stPending, stRunnable:
		s.cancelQueued(j)
		if terminate {
			j.isTerminated = true
		} else {
			j.isCancelled = true
		}
		s.failNoAttempt(j, reason)
	case stStarting, stRunning:
		if !terminate {
			return
		}
		j.isTerminated = true
		j.termReason = reason
		s.endAttempt(j, outcome{kind: outTerminated})
	}
}

// dispatch places RUNNABLE jobs: queues by priority, jobs by age, onto
// existing instances first and new ones within each compute
// environment's limits.
func (s *Sim) dispatch() {
	s.needDispatch = false
	clear(s.memo)
	for i := 0; i < len(s.queueOrder); {
		k := i
		for k < len(s.queueOrder) && s.queueOrder[k].priority == s.queueOrder[i].priority {
			k++
		}
		s.dispatchLevel(s.queueOrder[i:k])
		i = k
	}
}

type cursor struct {
	q     *queue
	i     int
	group int // index into Sim.budgets: failures left for its compute environments
	head  bool
	done  bool
}

func (s *Sim) dispatchLevel(qs []*queue) {
	curs := s.cursors[:0]
	for _, q := range qs {
		if q.state != "ENABLED" || q.runq.live == 0 {
			continue
		}
		q.runq.compact()
		curs = append(curs, cursor{q: q, i: q.runq.head, head: true, group: s.budgetGroup(curs, q)})
	}
	s.cursors = curs
	for {
		best := -1
		var bj *job
		for k := range curs {
			c := &curs[k]
			if c.done {
				continue
			}
			ents := c.q.runq.jobs
			for c.i < len(ents) && !ents[c.i].alive() {
				c.i++
			}
			if c.i >= len(ents) {
				c.done = true
				continue
			}
			if j := ents[c.i].j; bj == nil || j.seq < bj.seq {
				best, bj = k, j
			}
		}
		if best < 0 {
			return
		}
		c := &curs[best]
		c.i++
		res, itype := s.tryPlace(bj)
		if res == placed {
			continue
		}
		if s.budgets[c.group]--; s.budgets[c.group] <= 0 {
			for k := range curs {
				if curs[k].group == c.group {
					curs[k].done = true
				}
			}
		}
		if c.head {
			switch res {
			case resJobRequirement:
				s.block(bj, blockedJobRequirement, "")
				c.done = true
			case resMaxResource:
				s.block(bj, blockedMaxResource, "")
				c.done = true
			case resShortage:
				if s.cur-bj.runnableSince >= int64(s.sc.Timing.BlockedAfter/time.Millisecond) {
					s.block(bj, blockedCapacity, itype)
					c.done = true
				} else if !bj.blockCheck {
					bj.blockCheck = true
					s.schedule(event{at: bj.runnableSince + int64(s.sc.Timing.BlockedAfter/time.Millisecond), kind: evDispatch})
				}
			}
		}
		c.head = false
	}
}

// budgetGroup returns the lookahead budget of q's compute environments:
// shared with an earlier cursor of the level whose queue has the same ones,
// else a new one.
func (s *Sim) budgetGroup(curs []cursor, q *queue) int {
	if len(curs) == 0 {
		s.budgets = s.budgets[:0]
	}
	for _, c := range curs {
		if slices.Equal(c.q.ces, q.ces) {
			return c.group
		}
	}
	s.budgets = append(s.budgets, lookahead)
	return len(s.budgets) - 1
}

// block marks the job at the head of its queue as blocking it and emits
// AWS's Batch Job Queue Blocked event once per reason.
func (s *Sim) block(j *job, code, instanceType string) {
	if j.blocked == code {
		return
	}
	j.blocked = code
	j.statusReason = blockedMessage(code, instanceType)
	s.emitBlocked(j)
	for _, a := range j.q.timeLimits {
		if a.Reason == code && a.State == "RUNNABLE" && strings.EqualFold(a.Action, "CANCEL") {
			s.schedule(event{at: s.cur + int64(a.MaxTime/time.Millisecond), kind: evTimeLimit, job: j, gen: j.gen})
		}
	}
}

func (s *Sim) timeLimit(j *job) {
	if j.status != stRunnable || j.blocked == "" || j.inst != nil {
		return
	}
	s.cancelQueued(j)
	j.isCancelled = true
	s.failNoAttempt(j, "Canceled by JobStateTimeLimit action due to reason: "+j.blocked)
	s.needDispatch = true
}

type placeResult uint8

const (
	placed placeResult = iota
	resWait
	resShortage
	resMaxResource
	resJobRequirement
)

type memoKey struct {
	q     *queue
	vcpus float64
	mem   int
	gpus  int
	plat  string
}

// tryPlace finds capacity for a job in its queue's compute environments, in
// order; failures are remembered for the rest of the pass.
func (s *Sim) tryPlace(j *job) (placeResult, string) {
	plat := "EC2"
	if slices.Contains(j.platform, "FARGATE") {
		plat = "FARGATE"
	}
	key := memoKey{q: j.q, vcpus: j.vcpus, mem: j.memMiB, gpus: j.gpus, plat: plat}
	if r, ok := s.memo[key]; ok {
		return r.res, r.itype
	}
	allReq, allMaxOrReq, allShort := true, true, true
	shortType := ""
	for _, ce := range j.q.ces {
		if !ce.enabled || !ce.managed {
			allReq, allMaxOrReq, allShort = false, false, false
			continue
		}
		if ce.fargate != (plat == "FARGATE") {
			continue
		}
		if ce.fargate {
			if j.vcpus > 16 || j.memMiB > 122880 || j.gpus > 0 {
				continue
			}
			allReq = false
			if j.vcpus > float64(ce.spec.MaxVCPUs) {
				continue
			}
			allMaxOrReq = false
			if ce.fargateVCPUs+j.vcpus <= float64(ce.spec.MaxVCPUs) {
				s.placeFargate(j, ce)
				return placed, ""
			}
			allShort = false
			continue
		}
		smallest := -1
		for _, t := range ce.types {
			if fits(t, j) && (smallest < 0 || t.VCPUs < smallest) {
				smallest = t.VCPUs
			}
		}
		if smallest < 0 {
			continue
		}
		allReq = false
		if smallest > ce.spec.MaxVCPUs {
			continue
		}
		allMaxOrReq = false
		for _, inst := range ce.instances {
			if inst.freeVCPU >= j.vcpus && inst.freeMem >= j.memMiB && inst.freeGPU >= j.gpus {
				s.placeOn(j, inst)
				return placed, ""
			}
		}
		t, short := s.chooseType(ce, j)
		if t != nil {
			s.placeOn(j, s.launch(ce, *t))
			return placed, ""
		}
		if short != "" {
			shortType = short
		} else {
			allShort = false
		}
	}
	res := resWait
	switch {
	case allReq:
		res = resJobRequirement
	case allMaxOrReq:
		res = resMaxResource
	case allShort:
		res = resShortage
	}
	s.memo[key] = memoVal{res: res, itype: shortType}
	return res, shortType
}

type memoVal struct {
	res   placeResult
	itype string
}

// usableMemory is what the ECS agent registers: the instance's memory less
// what the OS and the agent keep.
func usableMemory(t InstanceTypeSpec) int {
	return t.MemoryMiB - max(256, t.MemoryMiB*6/100)
}

func fits(t InstanceTypeSpec, j *job) bool {
	return float64(t.VCPUs) >= j.vcpus && usableMemory(t) >= j.memMiB && t.GPUs >= j.gpus
}

func (ce *computeEnv) price(t InstanceTypeSpec) float64 {
	if ce.spot && t.Spot > 0 {
		return t.Spot
	}
	return t.OnDemand
}

// chooseType picks the instance type to launch for a job: the one with the
// lowest price per job slot it would fill, counting as many jobs like this
// one as wait in the queue or will soon (up to 32), within the compute environment's
// maxvCpus and EC2's capacity. It returns the type it wanted when EC2 had
// no capacity for it.
func (s *Sim) chooseType(ce *computeEnv, j *job) (*InstanceTypeSpec, string) {
	room := ce.spec.MaxVCPUs - ce.vcpusInUse
	capRoom := math.MaxInt
	if ce.spec.CapacityVCPUs > 0 {
		capRoom = ce.spec.CapacityVCPUs - ce.vcpusInUse
	}
	demand := min(max(j.q.runq.live+j.q.statusCounts[stPending], 1), 32)
	slots := func(t *InstanceTypeSpec) int {
		n := int(float64(t.VCPUs) / j.vcpus)
		n = min(n, usableMemory(*t)/max(j.memMiB, 1))
		if j.gpus > 0 {
			n = min(n, t.GPUs/j.gpus)
		}
		return n
	}
	var best *InstanceTypeSpec
	bestCost, bestSlots := math.Inf(1), 0
	wanted := ""
	for i := range ce.types {
		t := &ce.types[i]
		if !fits(*t, j) || t.VCPUs > room {
			continue
		}
		if t.VCPUs > capRoom {
			if wanted == "" {
				wanted = t.Name
			}
			continue
		}
		n := slots(t)
		cost := ce.price(*t) / float64(min(n, demand))
		if cost < bestCost || (cost == bestCost && n < bestSlots) {
			best, bestCost, bestSlots = t, cost, n
		}
	}
	if best != nil {
		return best, ""
	}
	return nil, wanted
}

func (s *Sim) launch(ce *computeEnv, t InstanceTypeSpec) *instance {
	now := s.cur
	inst := &instance{
		id: s.rng.instanceID(), ce: ce, typ: t, spot: ce.spot, usableMem: usableMemory(t),
		freeVCPU: float64(t.VCPUs), freeGPU: t.GPUs, launchedAt: now, accruedTo: now,
		readyAt: now + s.rng.durMS(ce.spec.BootTime),
	}
	inst.freeMem = inst.usableMem
	inst.containerInstanceArn = s.arn.containerInstance(ce.cluster, s.rng.hex32())
	ce.instances = append(ce.instances, inst)
	ce.vcpusInUse += t.VCPUs
	s.metrics.instances.WithLabelValues(ce.name).Inc()
	if inst.spot {
		if h := s.rng.exp(ce.spec.SpotInterruptionRate); h < 24*30 {
			s.schedule(event{at: inst.readyAt + int64(h*3600e3), kind: evReclaim, inst: inst})
		}
	}
	return inst
}

func (s *Sim) placeOn(j *job, inst *instance) {
	inst.freeVCPU -= j.vcpus
	inst.freeMem -= j.memMiB
	inst.freeGPU -= j.gpus
	inst.jobs = append(inst.jobs, j)
	inst.idleGen++
	j.inst = inst
	s.unqueue(j)
	at := max(s.cur, inst.readyAt) + s.rng.durMS(Range{Min: time.Second, Max: 3 * time.Second})
	s.schedule(event{at: at, kind: evStarting, job: j, gen: j.gen})
}

func (s *Sim) placeFargate(j *job, ce *computeEnv) {
	ce.fargateVCPUs += j.vcpus
	j.fargateCE = ce
	s.unqueue(j)
	at := s.cur + s.rng.durMS(Range{Min: 5 * time.Second, Max: 30 * time.Second})
	s.schedule(event{at: at, kind: evStarting, job: j, gen: j.gen})
}

// release frees what a job held on an instance.
func (s *Sim) release(j *job, inst *instance) {
	inst.freeVCPU += j.vcpus
	inst.freeMem += j.memMiB
	inst.freeGPU += j.gpus
	if i := slices.Index(inst.jobs, j); i >= 0 {
		last := len(inst.jobs) - 1
		inst.jobs[i] = inst.jobs[last]
		inst.jobs[last] = nil
		inst.jobs = inst.jobs[:last]
	}
	j.inst = nil
	s.needDispatch = true
	if len(inst.jobs) == 0 && !inst.terminated {
		inst.idleGen++
		s.schedule(event{at: s.cur + int64(inst.ce.spec.IdleTimeout/time.Millisecond), kind: evIdle, inst: inst, gen: inst.idleGen})
	}
}

// terminateInstance ends an instance; unless forced (a spot reclaim), an
// instance the compute environment's minvCpus needs stays.
func (s *Sim) terminateInstance(inst *instance, force bool) {
	ce := inst.ce
	if !force && ce.vcpusInUse-inst.typ.VCPUs < ce.spec.MinVCPUs && ce.enabled {
		return
	}
	s.accrue(inst)
	inst.terminated = true
	ce.vcpusInUse -= inst.typ.VCPUs
	if i := slices.Index(ce.instances, inst); i >= 0 {
		ce.instances = slices.Delete(ce.instances, i, i+1)
	}
	s.metrics.instances.WithLabelValues(ce.name).Dec()
	s.needDispatch = true
}

// reclaim is a spot interruption: running attempts fail with AWS's host
// terminated reason, placed jobs go back to the queue.
func (s *Sim) reclaim(inst *instance) {
	for _, j := range slices.Clone(inst.jobs) {
		switch j.status {
		case stStarting, stRunning:
			s.endAttempt(j, outcome{kind: outSpot})
		default:
			s.release(j, inst)
			j.gen++
			j.qgen++
			j.queued = true
			j.q.runq.push(qent{j: j, gen: j.qgen})
		}
	}
	s.terminateInstance(inst, true)
}

// starting: the job is placed on a ready host and its task starts.
func (s *Sim) starting(j *job) {
	if j.status != stRunnable {
		return
	}
	if j.inst != nil {
		s.accrue(j.inst)
	}
	taskID := s.rng.hex32()
	a := &attempt{startingAt: s.cur, taskID: taskID}
	if inst := j.inst; inst != nil {
		a.taskArn = s.arn.task(inst.ce.cluster, taskID)
		a.containerInstanceArn = inst.containerInstanceArn
		a.instanceType = inst.typ.Name
		a.instanceID = inst.id
		a.spot = inst.spot
		a.ce = inst.ce.name
	} else if ce := j.fargateCE; ce != nil {
		a.taskArn = s.arn.task(ce.cluster, taskID)
		a.instanceType = "FARGATE"
		a.spot = ce.spot
		a.ce = ce.name
		a.eniAttachment = s.rng.uuid()
		a.privateIP = fmt.Sprintf("10.0.%d.%d", s.rng.intn(256), 1+s.rng.intn(254))
	}
	j.cur = a
	j.statusReason = ""
	j.blocked = ""
	s.setStatus(j, stStarting)
	s.emitState(j)
	delay := s.rng.durMS(j.behavior.StartDelay)
	if s.rng.chance(j.failures.ImagePull) {
		j.outcome = outcome{kind: outImagePull}
		s.schedule(event{at: s.cur + delay, kind: evEnd, job: j, gen: j.gen})
		return
	}
	s.schedule(event{at: s.cur + delay, kind: evRunning, job: j, gen: j.gen})
}

// running: the container runs; its fate is drawn now.
func (s *Sim) running(j *job) {
	a := j.cur
	a.startedAt = s.cur
	a.logStream = j.def.logStreamPrefix() + "/default/" + a.taskID
	j.startedAt = s.cur
	if p := j.parent; p != nil && p.startedAt == 0 {
		p.startedAt = s.cur
	}
	s.setStatus(j, stRunning)
	s.emitState(j)

	b := j.behavior
	sizeF, memF := 1.0, 1.0
	if sz := j.sizeValue(); sz > 0 && b.Size.Reference > 0 {
		if b.Size.Exponent != 0 {
			sizeF = math.Pow(sz/b.Size.Reference, b.Size.Exponent)
		}
		if b.Size.MemoryExponent != 0 {
			memF = math.Pow(sz/b.Size.Reference, b.Size.MemoryExponent)
		}
	}
	dur := s.rng.dist(b.Duration) * sizeF * 1000
	if s.rng.chance(j.failures.Hang) {
		dur *= 10
	}
	dur = max(dur, 1000)
	out := outcome{kind: outSuccess}
	end := dur
	need := s.rng.dist(b.MemoryNeed) * memF
	j.memNeed = need
	switch {
	case need > float64(j.memMiB):
		out = outcome{kind: outOOM, exitCode: 137}
		end = dur * s.rng.between(0.3, 0.9)
	case s.rng.chance(j.failures.Exit):
		code := int32(1)
		if n := len(j.failures.ExitCodes); n > 0 {
			code = int32(j.failures.ExitCodes[s.rng.intn(n)])
		}
		out = outcome{kind: outExit, exitCode: code}
		end = dur * s.rng.between(0.05, 1)
	}
	if j.timeout > 0 && end > float64(j.timeout)*1000 {
		out = outcome{kind: outTimeout}
		end = float64(j.timeout)*1000 + s.rng.between(1000, 10000)
	}
	j.outcome = out
	s.schedule(event{at: s.cur + int64(end), kind: evEnd, job: j, gen: j.gen})
}

// sizeValue is the job's size: drawn by the workload, else the behavior's
// size parameter.
func (j *job) sizeValue() float64 {
	if j.size0 > 0 {
		return j.size0
	}
	if p := j.behavior.Size.Parameter; p != "" {
		if v, err := strconv.ParseFloat(j.params[p], 64); err == nil {
			return v
		}
	}
	return 0
}

// endAttempt closes the running attempt with its outcome and decides what
// comes next: success, retry or failure.
func (s *Sim) endAttempt(j *job, out outcome) {
	a := j.cur
	if a == nil {
		return
	}
	a.stoppedAt = s.cur
	switch out.kind {
	case outSuccess:
		a.exitCode = ptr(int32(0))
		a.statusReason = reasonEssentialExited
	case outExit:
		a.exitCode = ptr(out.exitCode)
		a.statusReason = reasonEssentialExited
	case outOOM:
		a.exitCode = ptr(int32(137))
		a.reason = reasonOOM
		a.statusReason = reasonOOM
	case outTimeout:
		a.statusReason = reasonTimeout
	case outImagePull:
		a.reason = fmt.Sprintf(reasonPullFormat, j.def.detail.ContainerProperties.Image)
		a.statusReason = a.reason
	case outSpot:
		a.statusReason = fmt.Sprintf(reasonHostTerminated, a.instanceID)
	case outTerminated:
		a.statusReason = j.termReason
	}
	if inst := j.inst; inst != nil {
		s.accrue(inst)
		s.release(j, inst)
	} else if ce := j.fargateCE; ce != nil {
		s.cost.addFargate(s, ce, j, a)
		ce.fargateVCPUs -= j.vcpus
		j.fargateCE = nil
		s.needDispatch = true
	}
	j.attempts = append(j.attempts, *a)
	s.emitUsage(j, a, out)
	j.cur = nil
	j.gen++
	j.statusReason = a.statusReason

	switch {
	case out.kind == outSuccess:
		j.stoppedAt = s.cur
		s.setStatus(j, stSucceeded)
		s.emitState(j)
		s.finish(j)
		if a.spot && a.ce != "" && j.reruns == 0 {
			if ce := s.ces[a.ce]; ce != nil && s.rng.chance(ce.spec.RerunProbability) {
				s.schedule(event{at: s.cur + s.rng.durMS(Range{Min: 30 * time.Second, Max: 5 * time.Minute}), kind: evRerun, job: j, gen: j.gen})
			}
		}
	case s.shouldRetry(j, a, out):
		s.makeRunnable(j)
		s.emitState(j)
	default:
		j.stoppedAt = s.cur
		s.setStatus(j, stFailed)
		s.emitState(j)
		s.finish(j)
	}
}

func ptr[T any](v T) *T { return &v }

// shouldRetry applies retryStrategy: attempts left, then the first
// matching evaluateOnExit rule; with none matching the job is retried.
// Timed-out and terminated jobs are never retried.
func (s *Sim) shouldRetry(j *job, a *attempt, out outcome) bool {
	if out.kind == outTimeout || out.kind == outTerminated {
		return false
	}
	attempts := 1
	if j.retry != nil && j.retry.Attempts > 0 {
		attempts = int(j.retry.Attempts)
	}
	if len(j.attempts)-j.reruns >= attempts {
		return false
	}
	if j.retry == nil {
		return true
	}
	exit := ""
	if a.exitCode != nil {
		exit = strconv.Itoa(int(*a.exitCode))
	}
	for _, e := range j.retry.EvaluateOnExit {
		if e.OnStatusReason != "" && !globMatch(e.OnStatusReason, a.statusReason) {
			continue
		}
		if e.OnReason != "" && !globMatch(e.OnReason, a.reason) {
			continue
		}
		if e.OnExitCode != "" && !globMatch(e.OnExitCode, exit) {
			continue
		}
		return strings.EqualFold(e.Action, "RETRY")
	}
	return true
}

// globMatch matches AWS's evaluateOnExit patterns: exact, or a prefix when
// the pattern ends with "*".
func globMatch(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

// rerun: the spot host of a job that already succeeded was reclaimed and
// Batch runs the job again.
func (s *Sim) rerun(j *job) {
	if j.status != stSucceeded {
		return
	}
	last := j.attempts[len(j.attempts)-1]
	j.reruns++
	j.stoppedAt = 0
	j.statusReason = fmt.Sprintf(reasonHostTerminated, last.instanceID)
	s.makeRunnable(j)
	s.emitState(j)
}
