package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/awsclient"
)

// faultClients are SDK clients that never retry, so each call shows the
// fault it met.
type faultClients struct {
	batch  *batch.Client
	sqs    *awssqs.Client
	events *eventbridge.Client
	ce     *costexplorer.Client
}

func newFaultHarness(t *testing.T, f FaultsSpec) (*harness, faultClients) {
	t.Helper()
	h := newHarness(t, func(c *Config) { c.Scenario.Faults = f })
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	ac := &awsclient.Config{Region: "eu-west-1", EndpointURL: h.url, MaxAttempts: 1}
	cfg, err := awsclient.Load(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	o := awsclient.Options{}
	return h, faultClients{batch: ac.Batch(cfg, o), sqs: ac.SQS(cfg, o), events: ac.EventBridge(cfg, o), ce: ac.CostExplorer(cfg, o)}
}

func TestFaultErrorShapes(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(faultClients) error{
		"batch": func(c faultClients) error {
			_, err := c.batch.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{})
			return err
		},
		"sqs": func(c faultClients) error {
			_, err := c.sqs.ListQueues(ctx, &awssqs.ListQueuesInput{})
			return err
		},
		"events": func(c faultClients) error {
			_, err := c.events.ListRules(ctx, &eventbridge.ListRulesInput{})
			return err
		},
		"ce": func(c faultClients) error {
			_, err := c.ce.GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
				Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
				TimePeriod: &cetypes.DateInterval{Start: aws.String("2026-11-19"), End: aws.String("2026-11-20")},
			})
			return err
		},
	}
	ops := map[string]string{"batch": "DescribeJobQueues", "sqs": "ListQueues", "events": "ListRules", "ce": "GetCostAndUsage"}
	for _, tc := range []struct {
		service string
		status  int
		code    string
	}{
		{"batch", 500, "ServerException"},
		{"batch", 503, "ServiceUnavailableException"},
		{"sqs", 500, "InternalFailure"},
		{"sqs", 503, "ServiceUnavailable"},
		{"events", 500, "InternalException"},
		{"events", 503, "ServiceUnavailable"},
		{"ce", 500, "InternalFailure"},
		{"ce", 503, "ServiceUnavailable"},
	} {
		t.Run(tc.service+"-"+tc.code, func(t *testing.T) {
			rule := RequestFaultSpec{Service: tc.service, Operation: ops[tc.service]}
			if tc.status == 500 {
				rule.Error500 = 1
			} else {
				rule.Error503 = 1
			}
			h, c := newFaultHarness(t, FaultsSpec{Requests: []RequestFaultSpec{rule}})
			err := calls[tc.service](c)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || ae.ErrorFault() == smithy.FaultClient {
				t.Fatalf("error %v, want API error %s (not a client fault)", err, tc.code)
			}
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Fatalf("error %v, want HTTP %d", err, tc.status)
			}
			kind := map[int]string{500: "error_500", 503: "error_503"}[tc.status]
			if n := testutil.ToFloat64(h.s.faults.injected.WithLabelValues(tc.service, ops[tc.service], kind)); n != 1 {
				t.Fatalf("faults_injected_total %v, want 1", n)
			}
			// The other services (and operations) answer normally.
			for svc, call := range calls {
				if svc != tc.service {
					if err := call(c); err != nil {
						t.Fatalf("%s: %v", svc, err)
					}
				}
			}
			if tc.service == "batch" {
				if _, err := c.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high")}); err != nil {
					t.Fatalf("ListJobs: %v", err)
				}
			}
		})
	}
}

// TestFaultResets is the "did it happen?" case: a reset before SubmitJob
// is processed leaves no job, a reset after it leaves a job the caller
// never heard of.
func TestFaultResets(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		kind string
		rule RequestFaultSpec
		jobs int
	}{
		{"reset_before", RequestFaultSpec{Service: "batch", Operation: "SubmitJob", ResetBefore: 1}, 0},
		{"reset_after", RequestFaultSpec{Service: "batch", Operation: "SubmitJob", ResetAfter: 1}, 1},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			h, c := newFaultHarness(t, FaultsSpec{Requests: []RequestFaultSpec{tc.rule}})
			_, err := c.batch.SubmitJob(ctx, jobIn("did-it-happen", "t-high", "t-job"))
			var ae smithy.APIError
			if err == nil || errors.As(err, &ae) {
				t.Fatalf("SubmitJob: %v, want a transport error", err)
			}
			if !strings.Contains(err.Error(), "connection reset") && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("SubmitJob: %v, want a reset connection", err)
			}
			if n := len(h.s.Truth()); n != tc.jobs {
				t.Fatalf("%d jobs in the truth, want %d", n, tc.jobs)
			}
			// Other calls still work on new connections.
			if _, err := c.batch.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	ctx := context.Background()
	h, c := newFaultHarness(t, FaultsSpec{Requests: []RequestFaultSpec{
		{Service: "*", Operation: "ListJobs", Slow: 1, Latency: Range{Min: 50 * time.Millisecond, Max: 60 * time.Millisecond}},
	}})
	began := time.Now()
	if _, err := c.batch.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("t-high")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 50*time.Millisecond {
		t.Fatalf("ListJobs took %v, less than the injected latency", d)
	}
	if n := testutil.ToFloat64(h.s.faults.injected.WithLabelValues("batch", "ListJobs", "slow")); n != 1 {
		t.Fatalf("slow faults %v, want 1", n)
	}
	if _, err := c.batch.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(h.s.faults.injected.WithLabelValues("batch", "DescribeJobQueues", "slow")); n != 0 {
		t.Fatalf("DescribeJobQueues was slowed: %v", n)
	}
}

// TestFaultShares checks that a share is a share: about 30 % of 2,000
// calls fail, with a fixed seed.
func TestFaultShares(t *testing.T) {
	ctx := context.Background()
	_, c := newFaultHarness(t, FaultsSpec{Seed: 3, Requests: []RequestFaultSpec{{Service: "sqs", Error500: 0.2, Error503: 0.1}}})
	failed := 0
	for range 2000 {
		if _, err := c.sqs.ListQueues(ctx, &awssqs.ListQueuesInput{}); err != nil {
			failed++
		}
	}
	if failed < 480 || failed > 720 {
		t.Fatalf("%d of 2000 calls failed, want about 600", failed)
	}
}

func TestFaultMessagesReachTheQueues(t *testing.T) {
	ctx := context.Background()
	_, c := newFaultHarness(t, FaultsSpec{Messages: []MessageFaultSpec{{Queue: "dup", Duplicate: 1}}})
	q, err := c.sqs.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("dup")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.sqs.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("once")}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for len(ids) < 2 {
		out, err := c.sqs.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("received %d copies, want 2", len(ids))
		}
		for _, m := range out.Messages {
			ids = append(ids, *m.MessageId)
			if _, err := c.sqs.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ids[0] != ids[1] {
		t.Fatalf("copies have message ids %v, want the same", ids)
	}
}

func TestParseFaultFlag(t *testing.T) {
	var f FaultsSpec
	for _, v := range []string{
		"sqs/ReceiveMessage:error_500=0.05,reset_after=0.01",
		"batch/SubmitJob:reset_after=0.2,slow=0.5,latency=100ms-2s",
		"queue/batchwatch-ingest:duplicate=0.01,late=0.02,late_delay=1s-5s,lost_delete=0.001",
	} {
		if err := ParseFaultFlag(&f, v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	want := RequestFaultSpec{Service: "batch", Operation: "SubmitJob", ResetAfter: 0.2, Slow: 0.5,
		Latency: Range{Min: 100 * time.Millisecond, Max: 2 * time.Second}}
	if len(f.Requests) != 2 || f.Requests[0] != want || f.Requests[1].Error500 != 0.05 {
		t.Fatalf("requests %+v", f.Requests)
	}
	m := f.Messages[0]
	if m.Queue != "batchwatch-ingest" || m.Duplicate != 0.01 || m.Late != 0.02 || m.LostDelete != 0.001 ||
		m.LateDelay != (Range{Min: time.Second, Max: 5 * time.Second}) {
		t.Fatalf("messages %+v", f.Messages)
	}
	for _, bad := range []string{"sqs", "sqs:", "sqs:error_500", "sqs:error_5xx=0.1", "sqs:error_500=x", "queue/q:latency=1s", "batch:latency=5-6"} {
		if err := ParseFaultFlag(&FaultsSpec{}, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for _, bad := range []string{"s3:error_500=0.1", "sqs:error_500=1.5", "sqs:error_500=0.6,reset_after=0.6", "batch:latency=2s-1s", "queue/q:duplicate=-1"} {
		var g FaultsSpec
		if err := ParseFaultFlag(&g, bad); err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
		if err := g.validate(); err == nil {
			t.Errorf("%q: validates", bad)
		}
	}
}

func TestScenarioFaults(t *testing.T) {
	sc, err := ParseScenario([]byte(`
name: f
compute_environments: [{name: ce, type: FARGATE, max_vcpus: 4}]
job_queues: [{name: q, priority: 1, compute_environments: [ce]}]
faults:
  seed: 9
  requests:
    - {service: batch, operation: SubmitJob, error_503: 0.05, reset_after: 0.05}
  messages:
    - {queue: batchwatch-events, duplicate: 0.01, late_delay: {min: 1s, max: 2s}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if f := sc.Faults; f.Seed != 9 || f.Requests[0].ResetAfter != 0.05 || f.Messages[0].LateDelay.Max != 2*time.Second {
		t.Fatalf("faults %+v", f)
	}
	_, err = ParseScenario([]byte(`
name: f
compute_environments: [{name: ce, type: FARGATE, max_vcpus: 4}]
job_queues: [{name: q, priority: 1, compute_environments: [ce]}]
faults: {requests: [{service: batch, error_500: 2}]}
`))
	if err == nil || !strings.Contains(err.Error(), "faults.requests[0]") {
		t.Fatalf("error %v, want one naming faults.requests[0]", err)
	}
}
