package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/logging"
)

// t0 is the start of every test's fake clock: 2026-11-20T10:00:00Z.
var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) ms() int64 { return c.Now().UnixMilli() }

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
)

func queueARN(q string) string {
	return "arn:aws:batch:" + testRegion + ":" + testAccount + ":job-queue/" + q
}

func defARN(name string, rev int) string {
	return fmt.Sprintf("arn:aws:batch:%s:%s:job-definition/%s:%d", testRegion, testAccount, name, rev)
}

// fakeJob is one job as AWS Batch knows it, in the fake.
type fakeJob struct {
	id, name, queue, def string
	status               string
	reason               string
	created              int64
	started              int64
	stopped              int64
	attempts             []fakeAttempt
	arraySize            int
	parent               string
	index                int
	numNodes             int
	nodeOf               string
	vcpus                float64
	memMiB               int64
	gpus                 int64
	tags, params         map[string]string
	fargate              bool
	propagateTags        bool
}

type fakeAttempt struct {
	started, stopped int64
	exit             *int
	reason           string
	statusReason     string
	taskArn          string
	ciArn            string
}

func ip(v int) *int { return &v }

// detail is the job's JobDetail in AWS's JSON shape.
func (j *fakeJob) detail() map[string]any {
	d := map[string]any{
		"jobArn": "arn:aws:batch:" + testRegion + ":" + testAccount + ":job/" + j.id, "jobName": j.name, "jobId": j.id,
		"jobQueue": queueARN(j.queue), "status": j.status, "createdAt": j.created, "jobDefinition": j.def,
		"attempts": []any{}, "dependsOn": []any{}, "parameters": j.params, "tags": j.tags, "propagateTags": j.propagateTags,
		"container": map[string]any{
			"image": "busybox",
			"resourceRequirements": []any{
				map[string]any{"type": "VCPU", "value": strconv.FormatFloat(j.vcpus, 'f', -1, 64)},
				map[string]any{"type": "MEMORY", "value": strconv.FormatInt(j.memMiB, 10)},
			},
		},
	}
	if j.gpus > 0 {
		c := d["container"].(map[string]any)
		c["resourceRequirements"] = append(c["resourceRequirements"].([]any), map[string]any{"type": "GPU", "value": strconv.FormatInt(j.gpus, 10)})
	}
	if j.fargate {
		d["platformCapabilities"] = []string{"FARGATE"}
	}
	if j.reason != "" {
		d["statusReason"] = j.reason
	}
	if j.started > 0 {
		d["startedAt"] = j.started
	}
	if j.stopped > 0 {
		d["stoppedAt"] = j.stopped
	}
	var atts []any
	for _, a := range j.attempts {
		atts = append(atts, map[string]any{
			"startedAt": a.started, "stoppedAt": a.stopped, "statusReason": a.statusReason,
			"container": map[string]any{"exitCode": a.exit, "reason": a.reason, "taskArn": a.taskArn, "containerInstanceArn": a.ciArn},
		})
	}
	if atts != nil {
		d["attempts"] = atts
	}
	switch {
	case j.arraySize > 0:
		d["arrayProperties"] = map[string]any{"size": j.arraySize}
	case j.parent != "":
		d["arrayProperties"] = map[string]any{"index": j.index}
	}
	if j.numNodes > 0 {
		d["nodeProperties"] = map[string]any{"numNodes": j.numNodes, "mainNode": 0}
	}
	if j.nodeOf != "" {
		d["nodeDetails"] = map[string]any{"nodeIndex": j.index, "isMainNode": j.index == 0}
	}
	return d
}

var eventSeq int

// eventJSON is an EventBridge envelope with the job's current state at t.
func (j *fakeJob) eventJSON(t time.Time) []byte {
	eventSeq++
	env := map[string]any{
		"version": "0", "id": fmt.Sprintf("ev-%08d", eventSeq), "detail-type": batch.DetailTypeJobStateChange,
		"source": "aws.batch", "account": testAccount, "time": t.UTC().Format(time.RFC3339), "region": testRegion,
		"resources": []string{"arn:aws:batch:" + testRegion + ":" + testAccount + ":job/" + j.id}, "detail": j.detail(),
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return b
}

// event parses eventJSON.
func (j *fakeJob) event(t *testing.T, at time.Time) *batch.Event {
	t.Helper()
	ev, err := batch.Parse(j.eventJSON(at))
	if err != nil {
		t.Fatalf("parse event of %s: %v", j.id, err)
	}
	return ev
}

// sdkDetail converts the JSON detail to the SDK type through JSON field
// names (the SDK types have none, so map them by hand).
func (j *fakeJob) sdkDetail() batchtypes.JobDetail {
	d := batchtypes.JobDetail{
		JobArn: aws.String("arn:aws:batch:" + testRegion + ":" + testAccount + ":job/" + j.id), JobId: aws.String(j.id),
		JobName: aws.String(j.name), JobQueue: aws.String(queueARN(j.queue)), Status: batchtypes.JobStatus(j.status),
		CreatedAt: aws.Int64(j.created), JobDefinition: aws.String(j.def), Tags: j.tags, Parameters: j.params,
		Container: &batchtypes.ContainerDetail{ResourceRequirements: []batchtypes.ResourceRequirement{
			{Type: batchtypes.ResourceTypeVcpu, Value: aws.String(strconv.FormatFloat(j.vcpus, 'f', -1, 64))},
			{Type: batchtypes.ResourceTypeMemory, Value: aws.String(strconv.FormatInt(j.memMiB, 10))},
		}},
	}
	if j.reason != "" {
		d.StatusReason = aws.String(j.reason)
	}
	if j.started > 0 {
		d.StartedAt = aws.Int64(j.started)
	}
	if j.stopped > 0 {
		d.StoppedAt = aws.Int64(j.stopped)
	}
	for _, a := range j.attempts {
		ad := batchtypes.AttemptDetail{StartedAt: aws.Int64(a.started), StoppedAt: aws.Int64(a.stopped), StatusReason: aws.String(a.statusReason),
			Container: &batchtypes.AttemptContainerDetail{Reason: aws.String(a.reason), TaskArn: aws.String(a.taskArn), ContainerInstanceArn: aws.String(a.ciArn)}}
		if a.exit != nil {
			ad.Container.ExitCode = aws.Int32(int32(*a.exit))
		}
		d.Attempts = append(d.Attempts, ad)
	}
	switch {
	case j.arraySize > 0:
		d.ArrayProperties = &batchtypes.ArrayPropertiesDetail{Size: aws.Int32(int32(j.arraySize))}
	case j.parent != "":
		d.ArrayProperties = &batchtypes.ArrayPropertiesDetail{Index: aws.Int32(int32(j.index))}
	}
	return d
}

// fakeBatch is an in-memory AWS Batch answering the exporter's calls.
type fakeBatch struct {
	mu     sync.Mutex
	jobs   map[string]*fakeJob
	order  []*fakeJob // submission order
	queues []QueueInfo
	ces    []CEInfo
	defs   map[string]shape
	// defTags are the definitions' own tags.
	defTags map[string]map[string]string
	calls   map[string]int
	// beforeCall runs (without the lock) before each call is answered.
	beforeCall func(op string)
	// noSummary hides statusSummary from DescribeJobs.
	noSummary bool
	// fail makes every call fail with this error.
	fail error
	// now, when set, dates the first page of the last listing per queue and status in
	// listedAt.
	now      func() int64
	listedAt map[string]int64
}

func newFakeBatch() *fakeBatch {
	return &fakeBatch{jobs: map[string]*fakeJob{}, defs: map[string]shape{}, calls: map[string]int{}}
}

func (f *fakeBatch) add(j *fakeJob) *fakeJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j.index == 0 && j.parent == "" && j.nodeOf == "" {
		j.index = -1
	}
	f.jobs[j.id] = j
	f.order = append(f.order, j)
	return j
}

func (f *fakeBatch) call(op string) error {
	if f.beforeCall != nil {
		f.beforeCall(op)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	return f.fail
}

func (f *fakeBatch) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeBatch) ListJobs(_ context.Context, in *awsbatch.ListJobsInput, _ ...func(*awsbatch.Options)) (*awsbatch.ListJobsOutput, error) {
	if err := f.call("ListJobs"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	status := string(in.JobStatus)
	if status == "" {
		status = "RUNNING"
	}
	if f.now != nil && in.JobQueue != nil && in.NextToken == nil {
		if f.listedAt == nil {
			f.listedAt = map[string]int64{}
		}
		f.listedAt[*in.JobQueue+"/"+status] = f.now()
	}
	// Newest first; the token is the position of the last job returned,
	// so it stays valid while jobs change status (as the simulator's).
	limit := 1000
	if in.MaxResults != nil && int(*in.MaxResults) < limit {
		limit = int(*in.MaxResults)
	}
	from := len(f.order) - 1
	if in.NextToken != nil {
		n, _ := strconv.Atoi(*in.NextToken)
		from = n - 1
	}
	var match []*fakeJob
	var pos []int
	for i := from; i >= 0; i-- {
		j := f.order[i]
		if j.status != status || j.nodeOf != "" {
			continue
		}
		switch {
		case in.ArrayJobId != nil:
			if j.parent != aws.ToString(in.ArrayJobId) {
				continue
			}
		case j.parent != "" || j.queue != aws.ToString(in.JobQueue):
			continue
		}
		match = append(match, j)
		pos = append(pos, i)
		if len(match) > limit {
			break
		}
	}
	out := &awsbatch.ListJobsOutput{}
	if len(match) > limit {
		match = match[:limit]
		out.NextToken = aws.String(strconv.Itoa(pos[limit-1]))
	}
	for _, j := range match {
		s := batchtypes.JobSummary{JobId: aws.String(j.id), JobName: aws.String(j.name), Status: batchtypes.JobStatus(j.status),
			CreatedAt: aws.Int64(j.created), JobDefinition: aws.String(j.def)}
		if j.started > 0 {
			s.StartedAt = aws.Int64(j.started)
		}
		if j.stopped > 0 {
			s.StoppedAt = aws.Int64(j.stopped)
		}
		switch {
		case j.arraySize > 0:
			s.ArrayProperties = &batchtypes.ArrayPropertiesSummary{Size: aws.Int32(int32(j.arraySize))}
		case j.parent != "":
			s.ArrayProperties = &batchtypes.ArrayPropertiesSummary{Index: aws.Int32(int32(j.index))}
		}
		if j.numNodes > 0 {
			s.NodeProperties = &batchtypes.NodePropertiesSummary{NumNodes: aws.Int32(int32(j.numNodes)), IsMainNode: aws.Bool(true)}
		}
		out.JobSummaryList = append(out.JobSummaryList, s)
	}
	return out, nil
}

func (f *fakeBatch) DescribeJobs(_ context.Context, in *awsbatch.DescribeJobsInput, _ ...func(*awsbatch.Options)) (*awsbatch.DescribeJobsOutput, error) {
	if err := f.call("DescribeJobs"); err != nil {
		return nil, err
	}
	if len(in.Jobs) > 100 {
		return nil, fmt.Errorf("DescribeJobs: %d ids", len(in.Jobs))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awsbatch.DescribeJobsOutput{}
	for _, id := range in.Jobs {
		j := f.jobs[id]
		if j == nil {
			continue
		}
		d := j.sdkDetail()
		if j.arraySize > 0 && !f.noSummary {
			sum := map[string]int32{}
			for _, st := range batch.Statuses {
				sum[string(st)] = 0
			}
			for _, c := range f.order {
				if c.parent == j.id {
					sum[c.status]++
				}
			}
			d.ArrayProperties.StatusSummary = sum
		}
		out.Jobs = append(out.Jobs, d)
	}
	return out, nil
}

func (f *fakeBatch) DescribeJobQueues(_ context.Context, in *awsbatch.DescribeJobQueuesInput, _ ...func(*awsbatch.Options)) (*awsbatch.DescribeJobQueuesOutput, error) {
	if err := f.call("DescribeJobQueues"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awsbatch.DescribeJobQueuesOutput{}
	want := map[string]bool{}
	for _, q := range in.JobQueues {
		want[q] = true
	}
	for _, q := range f.queues {
		if len(want) > 0 && !want[q.Name] {
			continue
		}
		d := batchtypes.JobQueueDetail{JobQueueName: aws.String(q.Name), JobQueueArn: aws.String(queueARN(q.Name)),
			State: batchtypes.JQState(q.State), Status: batchtypes.JQStatus(q.Status), Priority: aws.Int32(q.Priority)}
		for i, ce := range q.ComputeEnvironments {
			d.ComputeEnvironmentOrder = append(d.ComputeEnvironmentOrder, batchtypes.ComputeEnvironmentOrder{
				ComputeEnvironment: aws.String("arn:aws:batch:" + testRegion + ":" + testAccount + ":compute-environment/" + ce), Order: aws.Int32(int32(i + 1))})
		}
		out.JobQueues = append(out.JobQueues, d)
	}
	return out, nil
}

func (f *fakeBatch) DescribeComputeEnvironments(_ context.Context, _ *awsbatch.DescribeComputeEnvironmentsInput, _ ...func(*awsbatch.Options)) (*awsbatch.DescribeComputeEnvironmentsOutput, error) {
	if err := f.call("DescribeComputeEnvironments"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awsbatch.DescribeComputeEnvironmentsOutput{}
	for _, ce := range f.ces {
		d := batchtypes.ComputeEnvironmentDetail{ComputeEnvironmentName: aws.String(ce.Name),
			EcsClusterArn: aws.String("arn:aws:ecs:" + testRegion + ":" + testAccount + ":cluster/" + ce.Cluster),
			State:         batchtypes.CEState(ce.State), Status: batchtypes.CEStatus(ce.Status), Type: batchtypes.CEType(ce.Type)}
		if ce.Type == "MANAGED" {
			d.ComputeResources = &batchtypes.ComputeResource{Type: batchtypes.CRType(ce.Capacity), MaxvCpus: ce.MaxVCPUs,
				MinvCpus: ce.MinVCPUs, DesiredvCpus: ce.DesiredVCPUs, InstanceTypes: ce.InstanceTypes, Tags: ce.Tags}
		}
		out.ComputeEnvironments = append(out.ComputeEnvironments, d)
	}
	return out, nil
}

func (f *fakeBatch) DescribeJobDefinitions(_ context.Context, in *awsbatch.DescribeJobDefinitionsInput, _ ...func(*awsbatch.Options)) (*awsbatch.DescribeJobDefinitionsOutput, error) {
	if err := f.call("DescribeJobDefinitions"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awsbatch.DescribeJobDefinitionsOutput{}
	for _, arn := range in.JobDefinitions {
		r, ok := f.defs[arn]
		if !ok {
			continue
		}
		out.JobDefinitions = append(out.JobDefinitions, batchtypes.JobDefinition{JobDefinitionArn: aws.String(arn), Tags: f.defTags[arn],
			ContainerProperties: &batchtypes.ContainerProperties{ResourceRequirements: []batchtypes.ResourceRequirement{
				{Type: batchtypes.ResourceTypeVcpu, Value: aws.String(strconv.FormatFloat(r.vcpus, 'f', -1, 64))},
				{Type: batchtypes.ResourceTypeMemory, Value: aws.String(strconv.FormatInt(r.memMiB, 10))},
			}}})
	}
	return out, nil
}

// truthCounts counts the fake's jobs per queue and status like
// batchwatch_queue_jobs (children apart) with finished jobs within window.
func (f *fakeBatch) truthCounts(nowMs int64, window time.Duration) map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int64{}
	for _, j := range f.order {
		if j.nodeOf != "" {
			continue
		}
		if (j.status == "SUCCEEDED" || j.status == "FAILED") && j.stopped < nowMs-window.Milliseconds() {
			continue
		}
		kind := "jobs"
		if j.parent != "" {
			kind = "children"
		}
		out[kind+"/"+j.queue+"/"+j.status]++
	}
	return out
}

// stateCounts reads the same numbers from the exporter's state.
func stateCounts(s *State) map[string]int64 {
	out := map[string]int64{}
	for _, q := range s.Snapshot() {
		for st := range numStatus {
			name := statusName(st)
			if q.Jobs[st] != 0 {
				out["jobs/"+q.Name+"/"+string(name)] = q.Jobs[st]
			}
			if q.Children[st] != 0 {
				out["children/"+q.Name+"/"+string(name)] = q.Children[st]
			}
		}
	}
	return out
}

func diffCounts(want, got map[string]int64) string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if want[k] != got[k] {
			out = append(out, fmt.Sprintf("%s: want %d, got %d", k, want[k], got[k]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// testExporter builds an exporter on fakes with a private registry.
func testExporter(t *testing.T, cfg *Config, fb *fakeBatch, clock *fakeClock, deps Deps) (*Exporter, *prometheus.Registry) {
	t.Helper()
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 10 * time.Minute
	}
	if cfg.BatchAPIRate == 0 {
		cfg.BatchAPIRate = 1000
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = 1000
	}
	if cfg.CapacityInterval == 0 {
		cfg.CapacityInterval = time.Minute
	}
	if cfg.FinishedWindow == 0 {
		cfg.FinishedWindow = time.Hour
	}
	if cfg.DedupCapacity == 0 {
		cfg.DedupCapacity = 1000
	}
	if cfg.DescribeLimit == 0 {
		cfg.DescribeLimit = 1000
	}
	if cfg.CostDailyCalls == 0 {
		cfg.CostDailyCalls = 24
	}
	if err := cfg.Prepare(cfg.File); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	deps.Batch = fb
	deps.Registry = reg
	deps.Now = clock.Now
	deps.Logger = logging.Discard().WithField("test", t.Name())
	x, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return x, reg
}
