package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSubmitDescribeList(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	var ids []string
	for i := range 250 {
		in := jobIn(fmt.Sprintf("build-%03d", i), "t-high", "t-job")
		in.Tags = map[string]string{"team": "ml"}
		in.Parameters = map[string]string{"accountId": fmt.Sprint(1000 + i)}
		ids = append(ids, h.submit(in))
	}
	// SUBMITTED until the scheduler's first look.
	d := h.describe(ids[0])
	if d.Status != types.JobStatusSubmitted {
		t.Fatalf("status right after submit = %s, want SUBMITTED", d.Status)
	}
	h.advance(10 * time.Second)

	// All 250 are RUNNABLE now: page through them 100 at a time.
	p := batch.NewListJobsPaginator(h.batch, &batch.ListJobsInput{
		JobQueue: aws.String("t-high"), JobStatus: types.JobStatusRunnable, MaxResults: aws.Int32(100),
	})
	pages, seen := 0, map[string]bool{}
	var prevCreated int64 = 1 << 62
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.JobSummaryList {
			if seen[*s.JobId] {
				t.Fatalf("job %s listed twice", *s.JobId)
			}
			seen[*s.JobId] = true
			if *s.CreatedAt > prevCreated {
				t.Fatalf("ListJobs not newest first")
			}
			prevCreated = *s.CreatedAt
		}
	}
	if pages != 3 || len(seen) != 250 {
		t.Fatalf("paged %d jobs in %d pages, want 250 in 3", len(seen), pages)
	}

	// Without a status, ListJobs returns RUNNING jobs only.
	h.advance(2 * time.Minute)
	out, err := h.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.JobSummaryList) == 0 {
		t.Fatal("no RUNNING jobs listed by default")
	}
	for _, s := range out.JobSummaryList {
		if s.Status != types.JobStatusRunning {
			t.Fatalf("default listing returned a %s job", s.Status)
		}
	}

	h.settle()
	d = h.describe(ids[7])
	if d.Status != types.JobStatusSucceeded || *d.JobName != "build-007" || d.Parameters["accountId"] != "1007" ||
		d.Tags["team"] != "ml" || *d.JobQueue != "arn:aws:batch:eu-west-1:111122223333:job-queue/t-high" ||
		*d.JobDefinition != "arn:aws:batch:eu-west-1:111122223333:job-definition/t-job:1" {
		t.Fatalf("unexpected detail: %+v", d)
	}
	if len(d.Attempts) != 1 || *d.Attempts[0].Container.ExitCode != 0 || d.StartedAt == nil || d.StoppedAt == nil ||
		*d.StoppedAt-*d.StartedAt != 120000 {
		t.Fatalf("attempt = %+v", d.Attempts)
	}
	if c := d.Container; c == nil || !strings.HasPrefix(*c.LogStreamName, "t-job/default/") || *c.ExitCode != 0 ||
		!strings.HasPrefix(*c.TaskArn, "arn:aws:ecs:eu-west-1:111122223333:task/AWSBatch-t-ondemand-") {
		t.Fatalf("container = %+v", d.Container)
	}

	// Filters: job name prefix (case-insensitive), created-after, definition.
	byName, err := h.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high"),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{"BUILD-01*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byName.JobSummaryList) != 10 {
		t.Fatalf("JOB_NAME BUILD-01* matched %d jobs, want 10", len(byName.JobSummaryList))
	}
	fp := batch.NewListJobsPaginator(h.batch, &batch.ListJobsInput{JobQueue: aws.String("t-high"),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_DEFINITION"), Values: []string{"t-job"}}}})
	n := 0
	for fp.HasMorePages() {
		out, err := fp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.JobSummaryList) > 100 {
			t.Fatalf("a filtered page has %d jobs; AWS returns at most 100", len(out.JobSummaryList))
		}
		n += len(out.JobSummaryList)
	}
	if n != 250 {
		t.Fatalf("JOB_DEFINITION filter listed %d jobs, want 250", n)
	}
	after, err := h.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high"),
		Filters: []types.KeyValuesPair{{Name: aws.String("AFTER_CREATED_AT"), Values: []string{fmt.Sprint(testStart.UnixMilli() + 1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.JobSummaryList) != 0 {
		t.Fatalf("AFTER_CREATED_AT listed %d jobs created at the start", len(after.JobSummaryList))
	}

	// DescribeJobs takes at most 100 ids.
	_, err = h.batch.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[:101]})
	var ce *types.ClientException
	if !errors.As(err, &ce) {
		t.Fatalf("DescribeJobs with 101 ids: %v, want ClientException", err)
	}
}

func TestArrayJobs(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	in := jobIn("array", "t-high", "t-job")
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(250)}
	id := h.submit(in)
	h.advance(5 * time.Second)
	d := h.describe(id)
	if d.Status != types.JobStatusPending || *d.ArrayProperties.Size != 250 || d.ArrayProperties.StatusSummary["PENDING"] != 250 {
		t.Fatalf("parent after evaluation: %s %+v", d.Status, d.ArrayProperties)
	}
	h.settle()
	d = h.describe(id)
	if d.Status != types.JobStatusSucceeded || d.ArrayProperties.StatusSummary["SUCCEEDED"] != 250 {
		t.Fatalf("parent at the end: %s %+v", d.Status, d.ArrayProperties.StatusSummary)
	}
	child := h.describe(id + ":42")
	if *child.ArrayProperties.Index != 42 || child.Status != types.JobStatusSucceeded || *child.JobArn != *d.JobArn+":42" {
		t.Fatalf("child 42: %+v", child)
	}
	// Children by arrayJobId, paged.
	p := batch.NewListJobsPaginator(h.batch, &batch.ListJobsInput{ArrayJobId: aws.String(id), JobStatus: types.JobStatusSucceeded, MaxResults: aws.Int32(100)})
	var idx []int32
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.JobSummaryList {
			idx = append(idx, *s.ArrayProperties.Index)
		}
	}
	if len(idx) != 250 || idx[0] != 0 || idx[249] != 249 {
		t.Fatalf("listed %d children (%v…)", len(idx), idx[:min(3, len(idx))])
	}
	// The queue lists the parent, not the children.
	out, err := h.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high"), JobStatus: types.JobStatusSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.JobSummaryList) != 1 || *out.JobSummaryList[0].ArrayProperties.Size != 250 {
		t.Fatalf("queue listing: %d jobs", len(out.JobSummaryList))
	}
	// Each child: PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED; the
	// parent: PENDING, SUCCEEDED.
	if got := strings.Join(h.statuses(id+":7"), ","); got != "PENDING,RUNNABLE,STARTING,RUNNING,SUCCEEDED" {
		t.Fatalf("child events: %s", got)
	}
	if got := strings.Join(h.statuses(id), ","); got != "PENDING,SUCCEEDED" {
		t.Fatalf("parent events: %s", got)
	}
}

func TestTerminateAndCancel(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	running := h.submit(jobIn("running", "t-high", "t-job"))
	h.advance(time.Minute) // boot 30 s, start 10 s: RUNNING now
	if s := h.describe(running).Status; s != types.JobStatusRunning {
		t.Fatalf("status = %s, want RUNNING", s)
	}
	// CancelJob does not touch a RUNNING job.
	if _, err := h.batch.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(running), Reason: aws.String("nope")}); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Second)
	if s := h.describe(running).Status; s != types.JobStatusRunning {
		t.Fatalf("cancelled RUNNING job is %s", s)
	}
	if _, err := h.batch.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String(running), Reason: aws.String("Terminated by user")}); err != nil {
		t.Fatal(err)
	}
	d := h.describe(running)
	if d.Status != types.JobStatusFailed || *d.StatusReason != "Terminated by user" || !*d.IsTerminated ||
		len(d.Attempts) != 1 || *d.Attempts[0].StatusReason != "Terminated by user" {
		t.Fatalf("terminated job: %s %v %+v", d.Status, aws.ToString(d.StatusReason), d.Attempts)
	}

	// A job no instance can hold stays RUNNABLE.
	in := jobIn("queued", "t-high", "t-job")
	in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{
		{Type: types.ResourceTypeMemory, Value: aws.String("900000")}}}
	queued := h.submit(in)
	h.advance(10 * time.Second)
	if s := h.describe(queued).Status; s != types.JobStatusRunnable {
		t.Fatalf("status = %s, want RUNNABLE", s)
	}
	if _, err := h.batch.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(queued), Reason: aws.String("Cancelled by user")}); err != nil {
		t.Fatal(err)
	}
	d = h.describe(queued)
	if d.Status != types.JobStatusFailed || *d.StatusReason != "Cancelled by user" || !*d.IsCancelled || len(d.Attempts) != 0 {
		t.Fatalf("cancelled job: %s %v", d.Status, aws.ToString(d.StatusReason))
	}
	if got := strings.Join(h.statuses(queued), ","); got != "RUNNABLE,FAILED" {
		t.Fatalf("cancelled job's events: %s", got)
	}
	// Both require a reason, as in AWS.
	_, err := h.batch.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String(queued), Reason: aws.String("")})
	if err == nil {
		t.Fatal("TerminateJob without a reason succeeded")
	}
}

func TestAPIErrors(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	_, err := h.batch.SubmitJob(ctx, jobIn("x", "no-such-queue", "t-job"))
	var ce *types.ClientException
	if !errors.As(err, &ce) || ce.ErrorMessage() != "JobQueue no-such-queue not found." {
		t.Fatalf("unknown queue: %v", err)
	}
	_, err = h.batch.SubmitJob(ctx, jobIn("x", "t-high", "no-such-def"))
	if !errors.As(err, &ce) || !strings.Contains(ce.ErrorMessage(), "does not exist or is not in ACTIVE status") {
		t.Fatalf("unknown definition: %v", err)
	}
	in := jobIn("x", "t-high", "t-job")
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(10001)}
	if _, err = h.batch.SubmitJob(ctx, in); !errors.As(err, &ce) {
		t.Fatalf("array of 10001: %v", err)
	}
	in = jobIn("bad name!", "t-high", "t-job")
	if _, err = h.batch.SubmitJob(ctx, in); !errors.As(err, &ce) {
		t.Fatalf("bad job name: %v", err)
	}
	in = jobIn("x", "t-high", "t-job")
	in.DependsOn = []types.JobDependency{{JobId: aws.String("no-such-job")}}
	if _, err = h.batch.SubmitJob(ctx, in); !errors.As(err, &ce) {
		t.Fatalf("unknown dependency: %v", err)
	}
	// Error shape on the wire: AWS's header and body.
	resp, err := http.Post(h.url+"/v1/submitjob", "application/json", strings.NewReader(`{"jobName":"x","jobQueue":"nope","jobDefinition":"t-job"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "ClientException" ||
		string(body) != `{"__type":"ClientException","message":"JobQueue nope not found."}`+"\n" {
		t.Fatalf("error response %d %q %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
}

func TestEnvironmentAPI(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	qs, err := h.batch.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(qs.JobQueues) != 3 {
		t.Fatalf("%d queues", len(qs.JobQueues))
	}
	q, err := h.batch.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{"t-spot"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.JobQueues[0]; *got.Priority != 50 || len(got.ComputeEnvironmentOrder) != 2 ||
		*got.ComputeEnvironmentOrder[0].ComputeEnvironment != "arn:aws:batch:eu-west-1:111122223333:compute-environment/t-spot" {
		t.Fatalf("queue: %+v", got)
	}
	ces, err := h.batch.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{"t-spot"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ces.ComputeEnvironments[0]; got.ComputeResources.Type != types.CRTypeSpot || *got.ComputeResources.MaxvCpus != 32 {
		t.Fatalf("compute environment: %+v", got)
	}

	reg, err := h.batch.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("t-job"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), ResourceRequirements: []types.ResourceRequirement{
			{Type: types.ResourceTypeVcpu, Value: aws.String("2")}, {Type: types.ResourceTypeMemory, Value: aws.String("4096")}}},
		Tags: map[string]string{"owner": "tests"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *reg.Revision != 2 || *reg.JobDefinitionArn != "arn:aws:batch:eu-west-1:111122223333:job-definition/t-job:2" {
		t.Fatalf("register: %+v", reg)
	}
	defs, err := h.batch.DescribeJobDefinitions(ctx, &batch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("t-job")})
	if err != nil {
		t.Fatal(err)
	}
	if len(defs.JobDefinitions) != 2 {
		t.Fatalf("%d revisions", len(defs.JobDefinitions))
	}
	// The latest revision is used by name.
	id := h.submit(jobIn("rev2", "t-high", "t-job"))
	if d := h.describe(id); *d.JobDefinition != *reg.JobDefinitionArn || d.Container.ResourceRequirements[0].Value == nil || *d.Container.ResourceRequirements[0].Value != "2" {
		t.Fatalf("job of revision 2: %+v", d.Container)
	}
	// Tags on jobs and definitions.
	if _, err := h.batch.TagResource(ctx, &batch.TagResourceInput{ResourceArn: aws.String("arn:aws:batch:eu-west-1:111122223333:job/" + id), Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.batch.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:batch:eu-west-1:111122223333:job/" + id)})
	if err != nil {
		t.Fatal(err)
	}
	if tags.Tags["k"] != "v" {
		t.Fatalf("job tags: %v", tags.Tags)
	}
	tags, err = h.batch.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: reg.JobDefinitionArn})
	if err != nil {
		t.Fatal(err)
	}
	if tags.Tags["owner"] != "tests" {
		t.Fatalf("definition tags: %v", tags.Tags)
	}
	if _, err := h.batch.UntagResource(ctx, &batch.UntagResourceInput{ResourceArn: reg.JobDefinitionArn, TagKeys: []string{"owner"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ = h.batch.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: reg.JobDefinitionArn})
	if len(tags.Tags) != 0 {
		t.Fatalf("tags after untag: %v", tags.Tags)
	}
}

// TestThrottling: all Batch calls share 50 calls/s; beyond that AWS answers
// 429 TooManyRequestsException and the SDK's retryer recovers.
func TestThrottling(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.APIRate = 50 })
	ctx := context.Background()

	// The wire shape of a throttle.
	var throttled *http.Response
	for range 200 {
		resp, err := http.Post(h.url+"/v1/describejobs", "application/json", strings.NewReader(`{"jobs":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = resp
			break
		}
	}
	if throttled == nil || throttled.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
		t.Fatal("no 429 TooManyRequestsException within 200 back-to-back calls")
	}

	// 80 concurrent SDK calls all succeed, through the retryer.
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high"), JobStatus: types.JobStatus(fmt.Sprint([]string{"RUNNABLE", "RUNNING"}[i%2]))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			var ae smithy.APIError
			errors.As(err, &ae)
			t.Fatalf("call failed after retries: %v", err)
		}
	}
	if n := testutil.ToFloat64(h.s.metrics.apiThrottled.WithLabelValues("ListJobs")); n == 0 {
		t.Fatal("80 concurrent ListJobs calls were never throttled")
	}
}

// TestListJobsPagesOver100k: ListJobs pages correctly through 100,000 jobs
// of one queue with the SDK's paginator.
func TestListJobsPagesOver100k(t *testing.T) {
	h := newHarness(t, nil)
	h.s.mu.Lock()
	q, def := h.s.queues["t-high"], h.s.defByRef("t-job")
	for i := range 100_000 {
		if _, err := h.s.submit(submitReq{name: "bulk-" + fmt.Sprint(i), q: q, def: def, vcpus: 1, memMiB: 2048}); err != nil {
			h.s.mu.Unlock()
			t.Fatal(err)
		}
	}
	h.s.mu.Unlock()
	p := batch.NewListJobsPaginator(h.batch, &batch.ListJobsInput{JobQueue: aws.String("t-high"), JobStatus: types.JobStatusSubmitted})
	seen := make(map[string]bool, 100_000)
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.JobSummaryList {
			if seen[*s.JobId] {
				t.Fatalf("job %s listed twice", *s.JobId)
			}
			seen[*s.JobId] = true
		}
	}
	if len(seen) != 100_000 || pages != 100 {
		t.Fatalf("listed %d jobs in %d pages, want 100000 in 100", len(seen), pages)
	}
}
