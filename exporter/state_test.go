package exporter

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/batchwatch/batchwatch/batch"
)

// oneQueue is a fake account with queue q1 on a spot and an on-demand
// compute environment of c5 instances up to 2xlarge.
func oneQueue() *fakeBatch {
	fb := newFakeBatch()
	fb.queues = []QueueInfo{{Name: "q1", State: "ENABLED", Status: "VALID", Priority: 10, ComputeEnvironments: []string{"ce-spot", "ce-od"}}}
	fb.ces = []CEInfo{
		{Name: "ce-spot", State: "ENABLED", Status: "VALID", Type: "MANAGED", Capacity: "SPOT", Cluster: "spot-cluster",
			MinVCPUs: aws.Int32(0), MaxVCPUs: aws.Int32(64), DesiredVCPUs: aws.Int32(8), InstanceTypes: []string{"c5.large", "c5.xlarge", "c5.2xlarge"}},
		{Name: "ce-od", State: "ENABLED", Status: "VALID", Type: "MANAGED", Capacity: "EC2", Cluster: "od-cluster",
			MinVCPUs: aws.Int32(0), MaxVCPUs: aws.Int32(16), DesiredVCPUs: aws.Int32(0), InstanceTypes: []string{"c5"}},
	}
	return fb
}

// started runs the first capacity refresh and resync, as Run would.
func started(t *testing.T, x *Exporter) {
	t.Helper()
	ctx := context.Background()
	if err := x.RefreshCapacity(ctx); err != nil {
		t.Fatal(err)
	}
	if err := x.Resync(ctx); err != nil {
		t.Fatal(err)
	}
}

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func TestEventsGolden(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	x, reg := testExporter(t, &Config{TierTag: "tier", CostTags: []string{"team"}}, fb, clock, Deps{})
	started(t, x)
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	tags := map[string]string{"tier": "small", "team": "ml"}

	a := &fakeJob{id: "a", queue: "q1", def: defARN("build", 3), status: "RUNNABLE", created: ms(0), vcpus: 2, memMiB: 4096, tags: tags}
	b := &fakeJob{id: "b", queue: "q1", def: defARN("build", 3), status: "RUNNABLE", created: ms(sec(1)), vcpus: 4, memMiB: 40000, tags: tags}
	c := &fakeJob{id: "c", queue: "q1", def: defARN("train", 1), status: "RUNNABLE", created: ms(sec(5)), vcpus: 1, memMiB: 2048, tags: map[string]string{"tier": "large"}}
	apply := func(j *fakeJob, at time.Duration) {
		t.Helper()
		if r := x.State().ApplyEvent(j.event(t, t0.Add(at)), ms(at)); r != resultApplied {
			t.Fatalf("%s %s: %s", j.id, j.status, r)
		}
	}
	apply(a, sec(1))
	apply(b, sec(2))
	apply(c, sec(6))
	a.status = "STARTING"
	apply(a, sec(10))
	a.status, a.started = "RUNNING", ms(sec(12))
	apply(a, sec(12))
	c.status, c.started = "RUNNING", ms(sec(20))
	apply(c, sec(20))
	a.status, a.stopped = "SUCCEEDED", ms(sec(72))
	a.attempts = []fakeAttempt{{started: ms(sec(12)), stopped: ms(sec(72)), exit: ip(0), reason: "Essential container in task exited",
		taskArn: "arn:aws:ecs:us-east-1:123456789012:task/spot-cluster/0123"}}
	apply(a, sec(73))
	c.status, c.stopped, c.reason = "FAILED", ms(sec(40)), "Essential container in task exited"
	c.attempts = []fakeAttempt{{started: ms(sec(20)), stopped: ms(sec(40)), exit: ip(137), reason: "OutOfMemoryError: Container killed due to memory usage",
		taskArn: "arn:aws:ecs:us-east-1:123456789012:task/od-cluster/0456"}}
	apply(c, sec(41))
	clock.Advance(sec(100))

	want := `
# HELP batchwatch_queue_jobs Jobs per queue and status, every status present: exact at each resync, then kept current by the job events. Array children are in batchwatch_queue_array_child_jobs; a multi-node job counts once. SUCCEEDED and FAILED count the jobs that stopped within --exporter.finished-window.
# TYPE batchwatch_queue_jobs gauge
batchwatch_queue_jobs{job_queue="q1",status="FAILED"} 1
batchwatch_queue_jobs{job_queue="q1",status="PENDING"} 0
batchwatch_queue_jobs{job_queue="q1",status="RUNNABLE"} 1
batchwatch_queue_jobs{job_queue="q1",status="RUNNING"} 0
batchwatch_queue_jobs{job_queue="q1",status="STARTING"} 0
batchwatch_queue_jobs{job_queue="q1",status="SUBMITTED"} 0
batchwatch_queue_jobs{job_queue="q1",status="SUCCEEDED"} 1
# HELP batchwatch_queue_oldest_job_age_seconds Age of the oldest job in the status (since it entered it, else since its creation), array children included, array parents not; 0 when there is none.
# TYPE batchwatch_queue_oldest_job_age_seconds gauge
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="FAILED"} 60
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="PENDING"} 0
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="RUNNABLE"} 98
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="RUNNING"} 0
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="STARTING"} 0
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="SUBMITTED"} 0
batchwatch_queue_oldest_job_age_seconds{job_queue="q1",status="SUCCEEDED"} 28
# HELP batchwatch_queue_unschedulable_jobs RUNNABLE jobs (array children included) whose request exceeds every instance type the queue's compute environments can launch, by the resource that does not fit (combination: each fits alone, never together).
# TYPE batchwatch_queue_unschedulable_jobs gauge
batchwatch_queue_unschedulable_jobs{job_queue="q1",resource="combination"} 0
batchwatch_queue_unschedulable_jobs{job_queue="q1",resource="gpu"} 0
batchwatch_queue_unschedulable_jobs{job_queue="q1",resource="memory"} 1
batchwatch_queue_unschedulable_jobs{job_queue="q1",resource="vcpu"} 0
# HELP batchwatch_queue_max_schedulable Largest request that fits the queue's compute environments: vcpu in vCPUs, memory in MiB (after the ECS agent's reserve), gpu in GPUs. Absent when an instance type is unknown.
# TYPE batchwatch_queue_max_schedulable gauge
batchwatch_queue_max_schedulable{job_queue="q1",resource="gpu"} 0
batchwatch_queue_max_schedulable{job_queue="q1",resource="memory"} 30802
batchwatch_queue_max_schedulable{job_queue="q1",resource="vcpu"} 16
# HELP batchwatch_jobs_finished_total Jobs that reached SUCCEEDED or FAILED, each counted once; array parents and children apart (kind), multi-node jobs once.
# TYPE batchwatch_jobs_finished_total counter
batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="single",status="FAILED",tier="small"} 0
batchwatch_jobs_finished_total{job_definition="train",job_queue="q1",kind="single",status="SUCCEEDED",tier="large"} 0
batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="single",status="SUCCEEDED",tier="small"} 1
batchwatch_jobs_finished_total{job_definition="train",job_queue="q1",kind="single",status="FAILED",tier="large"} 1
# HELP batchwatch_job_failures_total Single jobs, array children and multi-node jobs that ended FAILED, by failure class.
# TYPE batchwatch_job_failures_total counter
batchwatch_job_failures_total{failure_class="app_error",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="app_error",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="cancelled",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="cancelled",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="dependency",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="dependency",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="image_pull",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="image_pull",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="oom",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="other",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="other",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="resource_init",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="resource_init",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="spot_reclaimed",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="spot_reclaimed",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="state_time_limit",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="state_time_limit",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="terminated",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="terminated",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="timeout",job_definition="build",job_queue="q1",tier="small"} 0
batchwatch_job_failures_total{failure_class="timeout",job_definition="train",job_queue="q1",tier="large"} 0
batchwatch_job_failures_total{failure_class="oom",job_definition="train",job_queue="q1",tier="large"} 1
# HELP batchwatch_job_failures_by_exit_code_total Jobs that ended FAILED, by the class of their last exit code (none when there is none).
# TYPE batchwatch_job_failures_by_exit_code_total counter
batchwatch_job_failures_by_exit_code_total{exit_code_class="137",job_queue="q1"} 1
# HELP batchwatch_job_attempts_total Finished attempts of single jobs, array children and multi-node jobs.
# TYPE batchwatch_job_attempts_total counter
batchwatch_job_attempts_total{job_definition="build",job_queue="q1",tier="small"} 1
batchwatch_job_attempts_total{job_definition="train",job_queue="q1",tier="large"} 1
# HELP batchwatch_job_vcpu_seconds_total vCPUs requested times run time of finished attempts.
# TYPE batchwatch_job_vcpu_seconds_total counter
batchwatch_job_vcpu_seconds_total{capacity="on_demand",job_queue="q1",tag_team="",tier="large"} 20
batchwatch_job_vcpu_seconds_total{capacity="spot",job_queue="q1",tag_team="ml",tier="small"} 120
# HELP batchwatch_job_estimated_cost_usd_total Estimated cost of finished attempts: requested vCPUs, GiB and GPUs times run time at the configured prices per capacity.
# TYPE batchwatch_job_estimated_cost_usd_total counter
batchwatch_job_estimated_cost_usd_total{capacity="on_demand",job_queue="q1",tag_team="",tier="large"} 0.00022593333333333337
batchwatch_job_estimated_cost_usd_total{capacity="spot",job_queue="q1",tag_team="ml",tier="small"} 0.00054224
# HELP batchwatch_job_queue_wait_seconds Time from job creation to the start of its first attempt, per single job and array child, from the job's events.
# TYPE batchwatch_job_queue_wait_seconds histogram
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="1"} 0
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="5"} 0
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="15"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="30"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="60"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="120"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="300"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="600"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="1200"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="1800"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="3600"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="7200"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="14400"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="28800"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="43200"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="86400"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="build",job_queue="q1",tier="small",le="+Inf"} 1
batchwatch_job_queue_wait_seconds_sum{job_definition="build",job_queue="q1",tier="small"} 12
batchwatch_job_queue_wait_seconds_count{job_definition="build",job_queue="q1",tier="small"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="1"} 0
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="5"} 0
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="15"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="30"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="60"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="120"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="300"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="600"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="1200"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="1800"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="3600"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="7200"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="14400"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="28800"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="43200"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="86400"} 1
batchwatch_job_queue_wait_seconds_bucket{job_definition="train",job_queue="q1",tier="large",le="+Inf"} 1
batchwatch_job_queue_wait_seconds_sum{job_definition="train",job_queue="q1",tier="large"} 15
batchwatch_job_queue_wait_seconds_count{job_definition="train",job_queue="q1",tier="large"} 1
# HELP batchwatch_exporter_events_total Batch events received, by what became of them: applied, ignored (not for a watched queue, node of a multi-node job, unparsable), out_of_order (older than what the exporter knows) or duplicate.
# TYPE batchwatch_exporter_events_total counter
batchwatch_exporter_events_total{result="applied"} 8
batchwatch_exporter_events_total{result="duplicate"} 0
batchwatch_exporter_events_total{result="ignored"} 0
batchwatch_exporter_events_total{result="out_of_order"} 0
`
	names := []string{"batchwatch_queue_jobs", "batchwatch_queue_oldest_job_age_seconds", "batchwatch_queue_unschedulable_jobs",
		"batchwatch_queue_max_schedulable", "batchwatch_jobs_finished_total", "batchwatch_job_failures_total",
		"batchwatch_job_failures_by_exit_code_total", "batchwatch_job_attempts_total", "batchwatch_job_vcpu_seconds_total",
		"batchwatch_job_estimated_cost_usd_total", "batchwatch_job_queue_wait_seconds", "batchwatch_exporter_events_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	lint(t, reg)
}

// lint fails on any promlint problem in the registry.
func lint(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// lifecycle is a job's events in order, with a retry after a spot
// reclaim: RUNNABLE, STARTING, RUNNING, RUNNABLE (attempt 1 reclaimed),
// STARTING, RUNNING, SUCCEEDED.
func lifecycle(t *testing.T, id string, base time.Time) [][]byte {
	ms := func(s int) int64 { return base.Add(sec(s)).UnixMilli() }
	j := &fakeJob{id: id, queue: "q1", def: defARN("build", 1), status: "RUNNABLE", created: ms(0), vcpus: 1, memMiB: 1024}
	var out [][]byte
	emit := func(at int) { out = append(out, j.eventJSON(base.Add(sec(at)))) }
	emit(1)
	j.status = "STARTING"
	emit(5)
	j.status, j.started = "RUNNING", ms(8)
	emit(8)
	j.status, j.started = "RUNNABLE", 0
	j.attempts = []fakeAttempt{{started: ms(8), stopped: ms(30), statusReason: "Host EC2 (instance i-0abc) terminated."}}
	emit(30)
	j.status = "STARTING"
	emit(40)
	j.status, j.started = "RUNNING", ms(45)
	emit(45)
	j.status, j.stopped = "SUCCEEDED", ms(100)
	j.attempts = append(j.attempts, fakeAttempt{started: ms(45), stopped: ms(100), exit: ip(0)})
	emit(100)
	return out
}

func TestDuplicatesAndOutOfOrderGiveTheSameResult(t *testing.T) {
	var reference string
	for seed := range 30 {
		clock := newFakeClock()
		x, reg := testExporter(t, &Config{}, oneQueue(), clock, Deps{})
		started(t, x)
		var msgs [][]byte
		for i := range 5 {
			msgs = append(msgs, lifecycle(t, "job-"+itoa(i), t0.Add(sec(i)))...)
		}
		if seed > 0 {
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			// Redeliver a third of the messages, then shuffle everything.
			msgs = append(msgs, msgs[:len(msgs)/3]...)
			rng.Shuffle(len(msgs), func(a, b int) { msgs[a], msgs[b] = msgs[b], msgs[a] })
		}
		clock.Advance(sec(200))
		for _, m := range msgs {
			ev, err := batch.Parse(m)
			if err != nil {
				t.Fatal(err)
			}
			x.State().ApplyEvent(ev, clock.ms())
		}
		gotb, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, "batchwatch_queue_jobs", "batchwatch_job_attempts_total",
			"batchwatch_job_retries_total", "batchwatch_job_spot_reclaims_total", "batchwatch_jobs_finished_total",
			"batchwatch_job_attempt_duration_seconds", "batchwatch_job_queue_wait_seconds", "batchwatch_job_total_duration_seconds",
			"batchwatch_job_vcpu_seconds_total")
		if err != nil {
			t.Fatal(err)
		}
		got := string(gotb)
		if seed == 0 {
			reference = got
			for _, want := range []string{
				`batchwatch_job_attempts_total{job_definition="build",job_queue="q1",tier=""} 10`,
				`batchwatch_job_retries_total{job_definition="build",job_queue="q1",tier=""} 5`,
				`batchwatch_job_spot_reclaims_total{job_queue="q1"} 5`,
				`batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="single",status="SUCCEEDED",tier=""} 5`,
				`batchwatch_queue_jobs{job_queue="q1",status="SUCCEEDED"} 5`,
				`batchwatch_job_queue_wait_seconds_sum{job_definition="build",job_queue="q1",tier=""} 40`,
				`batchwatch_job_attempt_duration_seconds_sum{job_definition="build",job_queue="q1",tier=""} 385`,
				`batchwatch_job_total_duration_seconds_sum{job_definition="build",job_queue="q1",tier=""} 500`,
			} {
				if !strings.Contains(got, want+"\n") {
					t.Fatalf("missing %s in\n%s", want, got)
				}
			}
			continue
		}
		if got != reference {
			t.Fatalf("seed %d: exposition differs from in-order delivery:\n%s\nwant\n%s", seed, got, reference)
		}
		// Every redelivery is a duplicate or out of order; at most the 35
		// distinct events apply.
		dup := testutil.ToFloat64(x.jm.events.WithLabelValues(resultDuplicate))
		ooo := testutil.ToFloat64(x.jm.events.WithLabelValues(resultOutOfOrder))
		applied := testutil.ToFloat64(x.jm.events.WithLabelValues(resultApplied))
		if applied > 35 || dup+ooo < float64(len(msgs)-35) || dup+ooo+applied != float64(len(msgs)) {
			t.Fatalf("seed %d: applied %v, duplicates %v, out of order %v of %d messages", seed, applied, dup, ooo, len(msgs))
		}
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func TestArrayAndMultiNodeJobs(t *testing.T) {
	clock := newFakeClock()
	x, reg := testExporter(t, &Config{}, oneQueue(), clock, Deps{})
	started(t, x)
	ms := func(s int) int64 { return t0.Add(sec(s)).UnixMilli() }
	apply := func(j *fakeJob, at int, want string) {
		t.Helper()
		if r := x.State().ApplyEvent(j.event(t, t0.Add(sec(at))), ms(at)); r != want {
			t.Fatalf("%s %s: %s, want %s", j.id, j.status, r, want)
		}
	}
	parent := &fakeJob{id: "p", queue: "q1", def: defARN("build", 1), status: "PENDING", created: ms(0), arraySize: 3, vcpus: 1, memMiB: 1024}
	apply(parent, 1, resultApplied)
	var kids []*fakeJob
	for i := range 3 {
		k := &fakeJob{id: "p:" + string(rune('0'+i)), parent: "p", index: i, queue: "q1", def: defARN("build", 1), status: "RUNNABLE", created: ms(0), vcpus: 1, memMiB: 1024}
		kids = append(kids, k)
		apply(k, 2, resultApplied)
	}
	for i, k := range kids {
		k.status, k.started, k.stopped = "SUCCEEDED", ms(10), ms(20+i)
		k.attempts = []fakeAttempt{{started: ms(10), stopped: ms(20 + i), exit: ip(0)}}
		apply(k, 21+i, resultApplied)
	}
	parent.status, parent.stopped = "SUCCEEDED", ms(23)
	apply(parent, 24, resultApplied)

	mnp := &fakeJob{id: "m", queue: "q1", def: defARN("mpi", 1), status: "RUNNING", created: ms(0), started: ms(5), numNodes: 2, vcpus: 4, memMiB: 4096}
	apply(mnp, 5, resultApplied)
	for n := range 2 {
		node := &fakeJob{id: "m#" + string(rune('0'+n)), nodeOf: "m", index: n, queue: "q1", def: defARN("mpi", 1), status: "RUNNING", created: ms(0), vcpus: 4, memMiB: 4096}
		apply(node, 6, resultIgnored)
	}
	mnp.status, mnp.stopped = "FAILED", ms(50)
	mnp.attempts = []fakeAttempt{{started: ms(5), stopped: ms(50), exit: ip(2)}}
	apply(mnp, 51, resultApplied)
	clock.Advance(sec(60))

	want := `
# HELP batchwatch_jobs_finished_total Jobs that reached SUCCEEDED or FAILED, each counted once; array parents and children apart (kind), multi-node jobs once.
# TYPE batchwatch_jobs_finished_total counter
batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="array_child",status="FAILED",tier=""} 0
batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="array_parent",status="FAILED",tier=""} 0
batchwatch_jobs_finished_total{job_definition="mpi",job_queue="q1",kind="multinode",status="SUCCEEDED",tier=""} 0
batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="array_child",status="SUCCEEDED",tier=""} 3
batchwatch_jobs_finished_total{job_definition="build",job_queue="q1",kind="array_parent",status="SUCCEEDED",tier=""} 1
batchwatch_jobs_finished_total{job_definition="mpi",job_queue="q1",kind="multinode",status="FAILED",tier=""} 1
# HELP batchwatch_job_attempts_total Finished attempts of single jobs, array children and multi-node jobs.
# TYPE batchwatch_job_attempts_total counter
batchwatch_job_attempts_total{job_definition="build",job_queue="q1",tier=""} 3
batchwatch_job_attempts_total{job_definition="mpi",job_queue="q1",tier=""} 1
# HELP batchwatch_job_failures_by_exit_code_total Jobs that ended FAILED, by the class of their last exit code (none when there is none).
# TYPE batchwatch_job_failures_by_exit_code_total counter
batchwatch_job_failures_by_exit_code_total{exit_code_class="2-125",job_queue="q1"} 1
# HELP batchwatch_queue_array_child_jobs Array children per queue and status (same definition as batchwatch_queue_jobs).
# TYPE batchwatch_queue_array_child_jobs gauge
batchwatch_queue_array_child_jobs{job_queue="q1",status="FAILED"} 0
batchwatch_queue_array_child_jobs{job_queue="q1",status="PENDING"} 0
batchwatch_queue_array_child_jobs{job_queue="q1",status="RUNNABLE"} 0
batchwatch_queue_array_child_jobs{job_queue="q1",status="RUNNING"} 0
batchwatch_queue_array_child_jobs{job_queue="q1",status="STARTING"} 0
batchwatch_queue_array_child_jobs{job_queue="q1",status="SUBMITTED"} 0
batchwatch_queue_array_child_jobs{job_queue="q1",status="SUCCEEDED"} 3
# HELP batchwatch_queue_jobs Jobs per queue and status, every status present: exact at each resync, then kept current by the job events. Array children are in batchwatch_queue_array_child_jobs; a multi-node job counts once. SUCCEEDED and FAILED count the jobs that stopped within --exporter.finished-window.
# TYPE batchwatch_queue_jobs gauge
batchwatch_queue_jobs{job_queue="q1",status="FAILED"} 1
batchwatch_queue_jobs{job_queue="q1",status="PENDING"} 0
batchwatch_queue_jobs{job_queue="q1",status="RUNNABLE"} 0
batchwatch_queue_jobs{job_queue="q1",status="RUNNING"} 0
batchwatch_queue_jobs{job_queue="q1",status="STARTING"} 0
batchwatch_queue_jobs{job_queue="q1",status="SUBMITTED"} 0
batchwatch_queue_jobs{job_queue="q1",status="SUCCEEDED"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_jobs_finished_total", "batchwatch_job_attempts_total",
		"batchwatch_job_failures_by_exit_code_total", "batchwatch_queue_array_child_jobs", "batchwatch_queue_jobs"); err != nil {
		t.Fatal(err)
	}
}

func TestFinishedWindowAndRedeliveryAfterExpiry(t *testing.T) {
	clock := newFakeClock()
	x, _ := testExporter(t, &Config{FinishedWindow: 10 * time.Minute}, oneQueue(), clock, Deps{})
	started(t, x)
	ms := func(s int) int64 { return t0.Add(sec(s)).UnixMilli() }
	j := &fakeJob{id: "j", queue: "q1", def: defARN("build", 1), status: "SUCCEEDED", created: ms(0), started: ms(10), stopped: ms(60), vcpus: 1, memMiB: 512,
		attempts: []fakeAttempt{{started: ms(10), stopped: ms(60), exit: ip(0)}}}
	body := j.eventJSON(t0.Add(sec(61)))
	apply := func() string {
		ev, err := batch.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		return x.State().ApplyEvent(ev, clock.ms())
	}
	if r := apply(); r != resultApplied {
		t.Fatal(r)
	}
	finished := func() int64 { return stateCounts(x.State())["jobs/q1/SUCCEEDED"] }
	clock.Advance(9 * time.Minute)
	x.State().Expire()
	if finished() != 1 {
		t.Fatal("job left the window too early")
	}
	clock.Advance(3 * time.Minute)
	if n := x.State().Expire(); n != 1 || finished() != 0 {
		t.Fatalf("expired %d, still counted %d", n, finished())
	}
	if r := apply(); r != resultDuplicate {
		t.Fatalf("redelivery after expiry: %s", r)
	}
	// A late event of an old attempt is out of order, not a new job.
	j.status, j.stopped, j.attempts = "RUNNING", 0, nil
	if ev := j.event(t, t0.Add(sec(11))); x.State().ApplyEvent(ev, clock.ms()) != resultOutOfOrder {
		t.Fatal("late RUNNING event of an expired job was not out of order")
	}
	if got := testutil.ToFloat64(x.jm.finished.WithLabelValues("q1", "build", "", "SUCCEEDED", "single")); got != 1 {
		t.Fatalf("finished counted %v times", got)
	}
	if n, _ := x.State().Tracked(); n != 0 {
		t.Fatalf("%d jobs tracked", n)
	}
}

func TestUnschedulable(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	fb.queues = append(fb.queues, QueueInfo{Name: "gpu", State: "ENABLED", Status: "VALID", Priority: 1, ComputeEnvironments: []string{"ce-gpu"}},
		QueueInfo{Name: "odd", State: "ENABLED", Status: "VALID", Priority: 1, ComputeEnvironments: []string{"ce-odd"}})
	fb.ces = append(fb.ces,
		CEInfo{Name: "ce-gpu", State: "ENABLED", Status: "VALID", Type: "MANAGED", Capacity: "EC2", Cluster: "gpu-cluster", MaxVCPUs: aws.Int32(64), InstanceTypes: []string{"g4dn.xlarge", "g4dn.2xlarge"}},
		CEInfo{Name: "ce-odd", State: "ENABLED", Status: "VALID", Type: "MANAGED", Capacity: "EC2", Cluster: "odd-cluster", MaxVCPUs: aws.Int32(64), InstanceTypes: []string{"x9.huge"}})
	x, _ := testExporter(t, &Config{}, fb, clock, Deps{})
	started(t, x)
	ms := func(s int) int64 { return t0.Add(sec(s)).UnixMilli() }
	jobs := []*fakeJob{
		{id: "fits", queue: "q1", vcpus: 16, memMiB: 30802},
		{id: "too-much-memory", queue: "q1", vcpus: 2, memMiB: 30803},
		{id: "too-many-vcpus", queue: "q1", vcpus: 17, memMiB: 1024},
		{id: "gpu-on-cpu", queue: "q1", vcpus: 1, memMiB: 1024, gpus: 1},
		// g4dn.xlarge: 4 vCPUs 15401 MiB, g4dn.2xlarge: 8 vCPUs 30802 MiB.
		{id: "combination", queue: "gpu", vcpus: 8, memMiB: 30802, gpus: 2},
		{id: "gpu-fits", queue: "gpu", vcpus: 8, memMiB: 30802, gpus: 1},
		{id: "unknown-types", queue: "odd", vcpus: 1000, memMiB: 1 << 30},
	}
	for _, j := range jobs {
		j.def, j.status, j.created = defARN("d", 1), "RUNNABLE", ms(0)
		x.State().ApplyEvent(j.event(t, t0.Add(sec(1))), ms(1))
	}
	got := map[string][numRes]int64{}
	for _, q := range x.State().Snapshot() {
		got[q.Name] = q.Unsched
	}
	want := map[string][numRes]int64{
		"q1":  {resNone: 1, resVCPU: 1, resMemory: 1, resGPU: 1},
		"gpu": {resNone: 1, resGPU: 1},
		"odd": {resNone: 1}, // unknown instance type: no verdict
	}
	for q, w := range want {
		if got[q] != w {
			t.Errorf("%s: unschedulable %v, want %v", q, got[q], w)
		}
	}
	// The combination case: enough GPUs on one type, enough vCPUs and
	// memory on another.
	fb.ces[2].InstanceTypes = []string{"g4dn.xlarge", "c5.4xlarge"}
	if err := x.RefreshCapacity(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, q := range x.State().Snapshot() {
		if q.Name == "gpu" && q.Unsched != [numRes]int64{resGPU: 1, resCombination: 1} {
			t.Errorf("gpu after capacity change: %v", q.Unsched)
		}
	}
	// Leaving RUNNABLE takes the job out.
	j := jobs[1]
	j.status, j.started = "RUNNING", ms(5)
	x.State().ApplyEvent(j.event(t, t0.Add(sec(5))), ms(5))
	for _, q := range x.State().Snapshot() {
		if q.Name == "q1" && q.Unsched[resMemory] != 0 {
			t.Errorf("q1 memory unschedulable after the job started: %v", q.Unsched)
		}
	}
}

func TestExitCodeClass(t *testing.T) {
	for code, want := range map[int]string{0: "other", 1: "1", 2: "2-125", 125: "2-125", 126: "126", 127: "127", 128: "other",
		137: "137", 139: "139", 143: "143", 255: "other", -1: "other"} {
		if got := exitCodeClass(&code); got != want {
			t.Errorf("exit code %d: %s, want %s", code, got, want)
		}
	}
	if got := exitCodeClass(nil); got != "none" {
		t.Errorf("no exit code: %s", got)
	}
}

func TestBlockedEvents(t *testing.T) {
	clock := newFakeClock()
	x, reg := testExporter(t, &Config{}, oneQueue(), clock, Deps{})
	started(t, x)
	mk := func(id, reason string) []byte {
		return []byte(`{"version":"0","id":"` + id + `","detail-type":"Batch Job Queue Blocked","source":"aws.batch","account":"123456789012",` +
			`"time":"2026-11-20T10:00:05Z","region":"us-east-1","resources":[],"detail":{"jobId":"j1","jobQueue":"` + queueARN("q1") +
			`","status":"RUNNABLE","statusReason":"` + reason + `","createdAt":1763632800000}}`)
	}
	for _, m := range [][]byte{
		mk("e1", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue."),
		mk("e1", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - duplicate delivery"),
		mk("e2", "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for instance type [g4dn.xlarge]"),
		mk("e3", "blocked-reason"),
	} {
		ev, err := batch.Parse(m)
		if err != nil {
			t.Fatal(err)
		}
		x.State().ApplyEvent(ev, clock.ms())
	}
	want := `
# HELP batchwatch_queue_blocked_events_total Batch Job Queue Blocked events, by reason.
# TYPE batchwatch_queue_blocked_events_total counter
batchwatch_queue_blocked_events_total{job_queue="q1",reason="CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"} 1
batchwatch_queue_blocked_events_total{job_queue="q1",reason="MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"} 1
batchwatch_queue_blocked_events_total{job_queue="q1",reason="other"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_queue_blocked_events_total"); err != nil {
		t.Fatal(err)
	}
}

func TestAllowListIgnoresOtherQueues(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	x, _ := testExporter(t, &Config{Queues: []string{"q1"}}, fb, clock, Deps{})
	started(t, x)
	j := &fakeJob{id: "other", queue: "q2", def: defARN("d", 1), status: "RUNNABLE", created: clock.ms()}
	if r := x.State().ApplyEvent(j.event(t, clock.Now()), clock.ms()); r != resultIgnored {
		t.Fatalf("event of an unwatched queue: %s", r)
	}
	for _, q := range x.State().Snapshot() {
		if q.Name != "q1" {
			t.Fatalf("unwatched queue %s has series", q.Name)
		}
	}
}
