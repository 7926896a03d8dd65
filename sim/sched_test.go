package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

func TestDependencies(t *testing.T) {
	h := newHarness(t, nil)
	first := h.submit(jobIn("first", "t-high", "t-job"))
	second := jobIn("second", "t-high", "t-job")
	second.DependsOn = []types.JobDependency{{JobId: aws.String(first)}}
	secondID := h.submit(second)

	a := jobIn("array-a", "t-high", "t-job")
	a.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(4)}
	aID := h.submit(a)
	b := jobIn("array-b", "t-high", "t-job")
	b.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(4)}
	b.DependsOn = []types.JobDependency{{JobId: aws.String(aID), Type: types.ArrayJobDependencyNToN}}
	bID := h.submit(b)
	seq := jobIn("sequential", "t-high", "t-job")
	seq.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	seq.DependsOn = []types.JobDependency{{Type: types.ArrayJobDependencySequential}}
	seqID := h.submit(seq)

	fail := h.submit(jobIn("fails", "t-high", "t-fail"))
	after := jobIn("after-failure", "t-high", "t-job")
	after.DependsOn = []types.JobDependency{{JobId: aws.String(fail)}}
	afterID := h.submit(after)
	h.settle()

	if got := strings.Join(h.statuses(secondID), ","); got != "PENDING,RUNNABLE,STARTING,RUNNING,SUCCEEDED" {
		t.Fatalf("dependent job's events: %s", got)
	}
	if h.truth(secondID).StartedAtMS < h.truth(first).StoppedAtMS {
		t.Fatal("dependent job started before its dependency stopped")
	}
	for i := range 4 {
		ai, bi := h.truth(aID+":"+itoa(i)), h.truth(bID+":"+itoa(i))
		if bi.StartedAtMS < ai.StoppedAtMS {
			t.Fatalf("N_TO_N child %d started before its counterpart stopped", i)
		}
	}
	for i := 1; i < 3; i++ {
		prev, cur := h.truth(seqID+":"+itoa(i-1)), h.truth(seqID+":"+itoa(i))
		if cur.StartedAtMS < prev.StoppedAtMS {
			t.Fatalf("SEQUENTIAL child %d started before child %d stopped", i, i-1)
		}
	}
	d := h.describe(afterID)
	if d.Status != types.JobStatusFailed || *d.StatusReason != "Dependent Job failed" || len(d.Attempts) != 0 {
		t.Fatalf("job after a failed dependency: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
	if got := strings.Join(h.statuses(afterID), ","); got != "PENDING,FAILED" {
		t.Fatalf("events of the job after a failure: %s", got)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestRetryStrategy(t *testing.T) {
	t.Run("application error exits", func(t *testing.T) {
		h := newHarness(t, nil)
		id := h.submit(jobIn("fails", "t-high", "t-fail"))
		h.settle()
		d := h.describe(id)
		if d.Status != types.JobStatusFailed || len(d.Attempts) != 1 || *d.Attempts[0].Container.ExitCode != 3 ||
			*d.StatusReason != "Essential container in task exited" || *d.Container.ExitCode != 3 {
			t.Fatalf("%s, %d attempts, reason %s", d.Status, len(d.Attempts), aws.ToString(d.StatusReason))
		}
	})
	t.Run("spot reclaim retries", func(t *testing.T) {
		h := newHarness(t, func(c *Config) {
			c.Scenario.ComputeEnvironments[1].SpotInterruptionRate = 60 // about one a minute
		})
		in := jobIn("on-spot", "t-spot", "t-fail")
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(10), EvaluateOnExit: []types.EvaluateOnExit{
			{OnStatusReason: aws.String("Host EC2*"), Action: types.RetryActionRetry},
			{OnReason: aws.String("*"), Action: types.RetryActionExit},
		}}
		id := h.submit(in)
		h.settle()
		d := h.describe(id)
		if len(d.Attempts) < 2 {
			t.Fatalf("only %d attempts: %+v", len(d.Attempts), d.Attempts)
		}
		for _, a := range d.Attempts[:len(d.Attempts)-1] {
			if !strings.HasPrefix(*a.StatusReason, "Host EC2 (instance i-0") || !strings.HasSuffix(*a.StatusReason, ") terminated.") ||
				a.Container.ExitCode != nil {
				t.Fatalf("reclaimed attempt: %s", *a.StatusReason)
			}
		}
		statuses := strings.Join(h.statuses(id), ",")
		if !strings.Contains(statuses, "RUNNING,RUNNABLE") && !strings.Contains(statuses, "STARTING,RUNNABLE") {
			t.Fatalf("no retry in the events: %s", statuses)
		}
	})
	t.Run("without evaluateOnExit every failure retries", func(t *testing.T) {
		h := newHarness(t, nil)
		in := jobIn("retries", "t-high", "t-fail")
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3)}
		id := h.submit(in)
		h.settle()
		if d := h.describe(id); len(d.Attempts) != 3 || d.Status != types.JobStatusFailed {
			t.Fatalf("%s after %d attempts", d.Status, len(d.Attempts))
		}
	})
}

// TestRerunAfterSuccess: a spot reclaim right after a job succeeded makes
// Batch run it again; the SUCCEEDED job shows a new attempt.
func TestRerunAfterSuccess(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Scenario.ComputeEnvironments[1].RerunProbability = 1 })
	id := h.submit(jobIn("rerun", "t-spot", "t-job"))
	h.settle()
	if got := strings.Join(h.statuses(id), ","); got != "RUNNABLE,STARTING,RUNNING,SUCCEEDED,RUNNABLE,STARTING,RUNNING,SUCCEEDED" {
		t.Fatalf("events: %s", got)
	}
	d := h.describe(id)
	if d.Status != types.JobStatusSucceeded || len(d.Attempts) != 2 || *d.Attempts[0].Container.ExitCode != 0 {
		t.Fatalf("%s with %d attempts", d.Status, len(d.Attempts))
	}
}

func TestOOMAndTimeout(t *testing.T) {
	h := newHarness(t, nil)
	oom := h.submit(jobIn("oom", "t-high", "t-oom"))
	slow := h.submit(jobIn("slow", "t-high", "t-slow"))
	big := jobIn("oom-fixed", "t-high", "t-oom")
	big.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{
		{Type: types.ResourceTypeMemory, Value: aws.String("6000")}}}
	fixed := h.submit(big)
	h.settle()

	d := h.describe(oom)
	if d.Status != types.JobStatusFailed || len(d.Attempts) != 2 {
		t.Fatalf("OOM job: %s after %d attempts", d.Status, len(d.Attempts))
	}
	for _, a := range d.Attempts {
		if *a.Container.ExitCode != 137 || *a.Container.Reason != "OutOfMemoryError: Container killed due to memory usage" {
			t.Fatalf("OOM attempt: %+v", a.Container)
		}
	}
	if s := h.describe(fixed).Status; s != types.JobStatusSucceeded {
		t.Fatalf("job with enough memory: %s", s)
	}
	d = h.describe(slow)
	if d.Status != types.JobStatusFailed || len(d.Attempts) != 1 || *d.StatusReason != "Job attempt duration exceeded timeout" {
		t.Fatalf("timed-out job: %s, %d attempts, %s", d.Status, len(d.Attempts), aws.ToString(d.StatusReason))
	}
	a := d.Attempts[0]
	if run := *a.StoppedAt - *a.StartedAt; run < 600_000 || run > 620_000 {
		t.Fatalf("timed out after %d ms, want about the 600 s timeout", run)
	}
}

func TestQueueBlocked(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scenario.JobQueues[0].JobStateTimeLimitActions = []TimeLimitActionSpec{
			{Reason: blockedJobRequirement, State: "RUNNABLE", MaxTime: 10 * time.Minute, Action: "CANCEL"}}
	})
	in := jobIn("too-big", "t-high", "t-job")
	in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{
		{Type: types.ResourceTypeMemory, Value: aws.String("900000")}}}
	big := h.submit(in)
	h.advance(10 * time.Second)
	behind := h.submit(jobIn("behind", "t-high", "t-job"))
	other := h.submit(jobIn("other-queue", "t-spot", "t-job"))
	h.advance(5 * time.Minute)

	d := h.describe(big)
	if d.Status != types.JobStatusRunnable || !strings.HasPrefix(*d.StatusReason, "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - ") {
		t.Fatalf("blocking job: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
	if s := h.describe(behind).Status; s != types.JobStatusRunnable {
		t.Fatalf("job behind the blocker is %s, want RUNNABLE", s)
	}
	if s := h.describe(other).Status; s != types.JobStatusSucceeded {
		t.Fatalf("job on another queue is %s, want SUCCEEDED", s)
	}
	var blocked []map[string]any
	for _, e := range h.events() {
		if e["detail-type"] == detailTypeBlocked {
			blocked = append(blocked, e)
		}
	}
	if len(blocked) != 1 {
		t.Fatalf("%d Queue Blocked events, want 1", len(blocked))
	}
	res := blocked[0]["resources"].([]any)
	if len(res) != 2 || res[0] != *d.JobArn || res[1] != *d.JobQueue {
		t.Fatalf("blocked event resources: %v", res)
	}
	// The queue's jobStateTimeLimitAction cancels the blocker; the queue
	// moves on.
	h.settle()
	d = h.describe(big)
	if d.Status != types.JobStatusFailed || *d.StatusReason != "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" {
		t.Fatalf("blocker after the time limit: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
	if s := h.describe(behind).Status; s != types.JobStatusSucceeded {
		t.Fatalf("job behind the blocker is %s at the end", s)
	}
}

func TestCapacityBlocked(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scenario.ComputeEnvironments[0].CapacityVCPUs = 4
	})
	in := jobIn("needs-8", "t-high", "t-job")
	in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{
		{Type: types.ResourceTypeVcpu, Value: aws.String("8")}}}
	id := h.submit(in)
	h.advance(5 * time.Minute)
	if d := h.describe(id); d.StatusReason != nil {
		t.Fatalf("blocked before blocked_after: %s", *d.StatusReason)
	}
	h.advance(10 * time.Minute)
	d := h.describe(id)
	if d.Status != types.JobStatusRunnable || !strings.HasPrefix(aws.ToString(d.StatusReason), "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for instance type [") {
		t.Fatalf("capacity-blocked job: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
}

func TestFargate(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(jobIn("fargate", "t-fargate", "t-fargate-job"))
	ec2 := h.submit(jobIn("ec2-on-fargate", "t-fargate", "t-job"))
	h.settle()
	d := h.describe(id)
	if d.Status != types.JobStatusSucceeded || d.Container.ContainerInstanceArn != nil ||
		!strings.Contains(*d.Container.TaskArn, ":task/AWSBatch-t-fargate-") {
		t.Fatalf("fargate job: %s %+v", d.Status, d.Container)
	}
	if d := h.describe(ec2); d.Status != types.JobStatusRunnable || !strings.HasPrefix(aws.ToString(d.StatusReason), blockedJobRequirement) {
		t.Fatalf("EC2 job on a Fargate queue: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
}

func TestPackingAndPriority(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scenario.ComputeEnvironments[0].MaxVCPUs = 16
		c.Scenario.JobQueues[1].ComputeEnvironments = []string{"t-ondemand"}
	})
	ctx := context.Background()
	low := jobIn("low", "t-spot", "t-job")
	low.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(40)}
	lowID := h.submit(low)
	h.advance(time.Minute)
	high := jobIn("high", "t-high", "t-job")
	high.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(40)}
	highID := h.submit(high)
	h.advance(140 * time.Second)
	// When the first low-priority wave ends, the high-priority queue gets
	// the capacity although older low-priority jobs wait.
	count := func(parent string, st types.JobStatus) int {
		n := 0
		p := batch.NewListJobsPaginator(h.batch, &batch.ListJobsInput{ArrayJobId: aws.String(parent), JobStatus: st})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.JobSummaryList)
		}
		return n
	}
	hi := count(highID, types.JobStatusRunning) + count(highID, types.JobStatusStarting)
	lo := count(lowID, types.JobStatusRunning) + count(lowID, types.JobStatusStarting)
	if hi < 6 || lo != 0 {
		t.Fatalf("after the first wave: %d high-priority and %d low-priority jobs running on 16 vCPUs", hi, lo)
	}
	// Jobs pack onto few instances (at most as many as memory allows).
	h.s.mu.Lock()
	n := len(h.s.ces["t-ondemand"].instances)
	h.s.mu.Unlock()
	if n > 8 {
		t.Fatalf("%d one-vCPU jobs spread over %d instances", hi, n)
	}
	h.settle()
	if h.describe(lowID).Status != types.JobStatusSucceeded || h.describe(highID).Status != types.JobStatusSucceeded {
		t.Fatal("not every array succeeded")
	}
}

// TestBackloggedQueueDoesNotDelayOtherCE: two queues of the same priority,
// each with its own compute environment. The first holds hundreds of
// RUNNABLE jobs its small compute environment cannot take yet; a job
// submitted later to the second queue must start as soon as its own idle
// compute environment can place it, as AWS schedules each compute
// environment's capacity independently.
func TestBackloggedQueueDoesNotDelayOtherCE(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scenario.ComputeEnvironments = append(c.Scenario.ComputeEnvironments, ComputeEnvironmentSpec{
			Name: "t-small", Type: "EC2", InstanceTypes: []string{"c5.large"}, MaxVCPUs: 2, State: "ENABLED",
			BootTime: Range{Min: 30 * time.Second, Max: 30 * time.Second}, IdleTimeout: 2 * time.Minute,
		})
		c.Scenario.JobQueues = append(c.Scenario.JobQueues, JobQueueSpec{
			Name: "t-backlog", Priority: 100, ComputeEnvironments: []string{"t-small"}, State: "ENABLED",
		})
	})
	backlog := jobIn("backlog", "t-backlog", "t-job")
	backlog.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(300)}
	backlogID := h.submit(backlog)
	h.advance(2 * time.Minute)
	if n := h.s.queues["t-backlog"].runq.live; n < 200 {
		t.Fatalf("only %d backlog jobs RUNNABLE", n)
	}
	other := h.submit(jobIn("other", "t-high", "t-job"))
	h.advance(3 * time.Minute)
	if d := h.describe(other); d.Status == types.JobStatusRunnable || d.Status == types.JobStatusPending ||
		d.Status == types.JobStatusSubmitted {
		t.Fatalf("the job on the idle compute environment is still %s after 3 minutes (reason %q)",
			d.Status, aws.ToString(d.StatusReason))
	}
	// The backlog still makes progress on its own compute environment.
	h.settle()
	if d := h.describe(backlogID); d.Status != types.JobStatusSucceeded {
		t.Fatalf("backlog array: %s", d.Status)
	}
}
