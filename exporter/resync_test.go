package exporter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/batch"
)

var activeNames = []string{"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"}

// populate adds n single jobs spread over the active statuses of queues,
// one array job of children children per queue, and returns them.
func populate(fb *fakeBatch, rng *rand.Rand, queues []string, n, children int, nowMs int64) []*fakeJob {
	var out []*fakeJob
	for i := range n {
		q := queues[i%len(queues)]
		st := activeNames[rng.IntN(len(activeNames))]
		j := &fakeJob{id: fmt.Sprintf("job-%05d", i), queue: q, def: defARN("build", 1), status: st, created: nowMs - int64(rng.IntN(3600_000)), vcpus: 1, memMiB: 1024}
		if st == "RUNNING" {
			j.started = nowMs - 1000
		}
		out = append(out, fb.add(j))
	}
	for qi, q := range queues {
		if children == 0 {
			continue
		}
		p := fb.add(&fakeJob{id: fmt.Sprintf("array-%d", qi), queue: q, def: defARN("build", 1), status: "PENDING", created: nowMs - 60_000, arraySize: children, vcpus: 2, memMiB: 2048})
		out = append(out, p)
		for c := range children {
			// No SUBMITTED or STARTING children: their statuses are not listed.
			st := []string{"PENDING", "RUNNABLE", "RUNNING"}[rng.IntN(3)]
			k := &fakeJob{id: fmt.Sprintf("%s:%d", p.id, c), parent: p.id, index: c, queue: q, def: p.def, status: st, created: p.created, vcpus: 2, memMiB: 2048}
			out = append(out, fb.add(k))
		}
	}
	return out
}

func TestResyncIsExactBeyondOnePage(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	fb.queues = append(fb.queues, QueueInfo{Name: "q2", State: "ENABLED", Status: "VALID", Priority: 5, ComputeEnvironments: []string{"ce-od"}})
	rng := rand.New(rand.NewPCG(1, 2))
	populate(fb, rng, []string{"q1", "q2"}, 700, 250, clock.ms())
	x, reg := testExporter(t, &Config{PageSize: 30}, fb, clock, Deps{})
	started(t, x)
	if d := diffCounts(fb.truthCounts(clock.ms(), time.Hour), stateCounts(x.State())); d != "" {
		t.Fatalf("gauges differ from the truth:\n%s", d)
	}
	// 2 queues × 5 statuses, ≥ 1 page each plus 70 jobs per status over
	// pages of 30; children: 3 non-empty statuses × ~84 children.
	lists := fb.count("ListJobs")
	if lists < 2*5*3 || lists > 2*5*3+2*3*4 {
		t.Errorf("%d ListJobs calls", lists)
	}
	if got := fb.count("DescribeJobs"); got != 1 {
		t.Errorf("%d DescribeJobs calls for 2 array parents", got)
	}
	if got := testutil.ToFloat64(x.lastResync); got != float64(t0.Unix()) {
		t.Errorf("last resync timestamp %v", got)
	}
	// Children known only from the listing inherit the parent's request.
	for _, q := range x.State().Snapshot() {
		if q.Unsched[resNone] == 0 {
			t.Errorf("%s: no RUNNABLE job with a known request", q.Name)
		}
	}
	lint(t, reg)
}

// mover plays AWS moving jobs along while a resync pages through them: on
// every Batch call it advances the clock, moves a few jobs, and delivers
// their events late, out of order, or never.
type mover struct {
	t       *testing.T
	rng     *rand.Rand
	fb      *fakeBatch
	clock   *fakeClock
	x       *Exporter
	jobs    []*fakeJob
	pending []pendingEvent
	lose    float64
	seq     int
}

type pendingEvent struct {
	body []byte
	due  int
}

func (m *mover) step(string) {
	m.seq++
	m.clock.Advance(time.Second)
	now := m.clock.Now()
	ms := now.UnixMilli()
	m.fb.mu.Lock()
	for range 3 {
		j := m.jobs[m.rng.IntN(len(m.jobs))]
		if j.arraySize > 0 {
			continue
		}
		switch j.status {
		case "SUBMITTED":
			j.status = []string{"PENDING", "RUNNABLE"}[m.rng.IntN(2)]
		case "PENDING":
			j.status = "RUNNABLE"
		case "RUNNABLE":
			j.status = "STARTING"
		case "STARTING":
			j.status, j.started = "RUNNING", ms
		case "RUNNING":
			a := fakeAttempt{started: j.started, stopped: ms}
			switch m.rng.IntN(3) {
			case 0: // retry after a spot reclaim
				a.statusReason = "Host EC2 (instance i-1) terminated."
				j.status, j.started = "RUNNABLE", 0
			case 1:
				a.exit = ip(0)
				j.status, j.stopped = "SUCCEEDED", ms
			default:
				a.exit = ip(1)
				j.status, j.stopped = "FAILED", ms
			}
			j.attempts = append(j.attempts, a)
		default:
			continue
		}
		body := j.eventJSON(now)
		if m.rng.Float64() >= m.lose {
			m.pending = append(m.pending, pendingEvent{body: body, due: m.seq + m.rng.IntN(4)})
		}
	}
	// New jobs arrive too; AWS says nothing about them until they move.
	if m.rng.IntN(3) == 0 {
		q := m.jobs[0].queue
		j := &fakeJob{id: fmt.Sprintf("new-%05d", m.seq), queue: q, def: defARN("build", 1), status: "SUBMITTED", created: ms, index: -1, vcpus: 1, memMiB: 1024}
		m.fb.jobs[j.id] = j
		m.fb.order = append(m.fb.order, j)
		m.jobs = append(m.jobs, j)
	}
	m.fb.mu.Unlock()
	m.deliver(false)
}

// deliver applies the due events (all with force) in random order.
func (m *mover) deliver(force bool) {
	var due, later []pendingEvent
	for _, p := range m.pending {
		if force || p.due <= m.seq {
			due = append(due, p)
		} else {
			later = append(later, p)
		}
	}
	m.pending = later
	m.rng.Shuffle(len(due), func(a, b int) { due[a], due[b] = due[b], due[a] })
	for _, p := range due {
		ev, err := batch.Parse(p.body)
		if err != nil {
			m.t.Fatal(err)
		}
		m.x.State().ApplyEvent(ev, m.clock.ms())
	}
}

func TestResyncWhileJobsMoveAndEventsArrive(t *testing.T) {
	for seed := range 12 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clock := newFakeClock()
			fb := oneQueue()
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			jobs := populate(fb, rng, []string{"q1"}, 400, 120, clock.ms())
			x, _ := testExporter(t, &Config{PageSize: 15}, fb, clock, Deps{})
			started(t, x)
			lose := 0.0
			if seed%3 == 2 {
				lose = 0.2
			}
			m := &mover{t: t, rng: rng, fb: fb, clock: clock, x: x, jobs: jobs, lose: lose}
			fb.now = clock.ms
			fb.beforeCall = m.step
			if err := x.Resync(context.Background()); err != nil {
				t.Fatal(err)
			}
			fb.beforeCall = nil
			m.deliver(true)
			if lose == 0 {
				// Every event delivered: the state is exact whatever the
				// interleaving of pages and events, but for the jobs
				// submitted after the SUBMITTED page (AWS says nothing of
				// them until they move on).
				want := fb.truthCounts(clock.ms(), time.Hour)
				for _, j := range m.jobs {
					if j.status == "SUBMITTED" && j.created > fb.listedAt["q1/SUBMITTED"] {
						want["jobs/q1/SUBMITTED"]--
					}
				}
				if d := diffCounts(want, stateCounts(x.State())); d != "" {
					t.Fatalf("after the resync and all events:\n%s", d)
				}
			}
			// A resync while nothing moves is exact even after lost events.
			clock.Advance(time.Minute)
			if err := x.Resync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := diffCounts(fb.truthCounts(clock.ms(), time.Hour), stateCounts(x.State())); d != "" {
				t.Fatalf("after a quiet resync:\n%s", d)
			}
		})
	}
}

func TestResyncDescribesVanishedJobs(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	ms := clock.ms()
	done := fb.add(&fakeJob{id: "done", queue: "q1", def: defARN("d", 1), status: "RUNNING", created: ms, started: ms, vcpus: 1, memMiB: 512})
	gone := fb.add(&fakeJob{id: "gone", queue: "q1", def: defARN("d", 1), status: "RUNNABLE", created: ms, vcpus: 1, memMiB: 512})
	x, reg := testExporter(t, &Config{}, fb, clock, Deps{})
	started(t, x)
	// The job finishes and its event is lost; the other one is forgotten
	// by AWS.
	clock.Advance(time.Minute)
	fb.mu.Lock()
	done.status, done.stopped = "SUCCEEDED", clock.ms()
	done.attempts = []fakeAttempt{{started: ms, stopped: clock.ms(), exit: ip(0)}}
	delete(fb.jobs, gone.id)
	fb.order = fb.order[:1]
	fb.mu.Unlock()
	clock.Advance(time.Minute)
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"jobs/q1/SUCCEEDED": 1}
	if d := diffCounts(want, stateCounts(x.State())); d != "" {
		t.Fatal(d)
	}
	if got := testutil.ToFloat64(x.vanished.WithLabelValues("described")); got != 1 {
		t.Errorf("described %v", got)
	}
	if got := testutil.ToFloat64(x.vanished.WithLabelValues("forgotten")); got != 1 {
		t.Errorf("forgotten %v", got)
	}
	// DescribeJobs carries the attempts: the finish is counted once.
	if got := testutil.ToFloat64(x.jm.finished.WithLabelValues("q1", "d", "", "SUCCEEDED", "single")); got != 1 {
		t.Errorf("finished %v", got)
	}
	lint(t, reg)
}

func TestListingDoesNotUndoAnEvent(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	ms := clock.ms()
	j := fb.add(&fakeJob{id: "j", queue: "q1", def: defARN("d", 1), status: "RUNNING", created: ms, started: ms, vcpus: 1, memMiB: 512})
	x, _ := testExporter(t, &Config{}, fb, clock, Deps{})
	started(t, x)
	clock.Advance(time.Minute)
	// AWS's listing lags: it still says RUNNING after the SUCCEEDED event.
	fin := *j
	fin.status, fin.stopped = "SUCCEEDED", clock.ms()
	fin.attempts = []fakeAttempt{{started: ms, stopped: clock.ms(), exit: ip(0)}}
	x.State().ApplyEvent(fin.event(t, clock.Now()), clock.ms())
	clock.Advance(time.Second)
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffCounts(map[string]int64{"jobs/q1/SUCCEEDED": 1}, stateCounts(x.State())); d != "" {
		t.Fatal(d)
	}
	// An event that arrives after the page was requested and moved the job
	// on is kept.
	k := fb.add(&fakeJob{id: "k", queue: "q1", def: defARN("d", 1), status: "RUNNABLE", created: clock.ms(), vcpus: 1, memMiB: 512})
	fb.beforeCall = func(op string) {
		if op != "ListJobs" {
			return
		}
		fb.beforeCall = nil
		clock.Advance(time.Second)
		moved := *k
		moved.status = "STARTING"
		x.State().ApplyEvent(moved.event(t, clock.Now()), clock.ms())
	}
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffCounts(map[string]int64{"jobs/q1/SUCCEEDED": 1, "jobs/q1/STARTING": 1}, stateCounts(x.State())); d != "" {
		t.Fatal(d)
	}
}

func TestFirstResyncListsFinishedJobs(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	ms := clock.ms()
	fb.add(&fakeJob{id: "recent", queue: "q1", def: defARN("d", 1), status: "FAILED", created: ms - 600_000, stopped: ms - 60_000})
	fb.add(&fakeJob{id: "old", queue: "q1", def: defARN("d", 1), status: "SUCCEEDED", created: ms - 9_000_000, stopped: ms - 7_200_000})
	x, _ := testExporter(t, &Config{ListFinishedOnStart: true}, fb, clock, Deps{})
	started(t, x)
	if d := diffCounts(map[string]int64{"jobs/q1/FAILED": 1}, stateCounts(x.State())); d != "" {
		t.Fatal(d)
	}
	if got := fb.count("ListJobs"); got != 7 {
		t.Errorf("first resync: %d ListJobs calls, want 7", got)
	}
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fb.count("ListJobs"); got != 12 {
		t.Errorf("second resync: %d ListJobs calls in all, want 12", got)
	}
	// Listed, not seen in events: nothing counted.
	if got := testutil.CollectAndCount(x.jm.finished); got != 0 {
		t.Errorf("%d finished series", got)
	}
}

func TestAWSErrorsKeepServing(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	fb.add(&fakeJob{id: "j", queue: "q1", def: defARN("d", 1), status: "RUNNABLE", created: clock.ms(), vcpus: 1, memMiB: 512})
	x, reg := testExporter(t, &Config{}, fb, clock, Deps{})
	started(t, x)
	if got := testutil.ToFloat64(x.awsUp); got != 1 {
		t.Fatalf("aws_up %v", got)
	}
	fb.fail = errors.New("TooManyRequestsException: Too Many Requests")
	if err := x.Resync(context.Background()); err == nil {
		t.Fatal("resync succeeded against a failing API")
	}
	if err := x.RefreshCapacity(context.Background()); err == nil {
		t.Fatal("capacity refresh succeeded against a failing API")
	}
	if got := testutil.ToFloat64(x.awsUp); got != 0 {
		t.Fatalf("aws_up %v after errors", got)
	}
	if d := diffCounts(map[string]int64{"jobs/q1/RUNNABLE": 1}, stateCounts(x.State())); d != "" {
		t.Fatalf("state changed by a failed resync:\n%s", d)
	}
	n, err := testutil.GatherAndCount(reg, "batchwatch_queue_jobs", "batchwatch_compute_environment_max_vcpus")
	if err != nil || n != 9 {
		t.Fatalf("stale data not served: %d series, %v", n, err)
	}
	fb.fail = nil
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := x.RefreshCapacity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(x.awsUp); got != 1 {
		t.Fatalf("aws_up %v after recovery", got)
	}
}
