package exporter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
)

// fakeQueueAttributes answers GetQueueAttributes from a table of queue
// URL → attributes; a URL missing from it fails.
type fakeQueueAttributes struct {
	attrs map[string]map[string]string
	calls []string
}

func (f *fakeQueueAttributes) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	u := aws.ToString(in.QueueUrl)
	f.calls = append(f.calls, u)
	a, ok := f.attrs[u]
	if !ok {
		return nil, errors.New("AccessDenied: not authorized to perform sqs:GetQueueAttributes")
	}
	return &sqs.GetQueueAttributesOutput{Attributes: a}, nil
}

func counts(visible, inFlight, delayed string) map[string]string {
	return map[string]string{"ApproximateNumberOfMessages": visible, "ApproximateNumberOfMessagesNotVisible": inFlight, "ApproximateNumberOfMessagesDelayed": delayed}
}

const (
	ingestURL = "https://sqs.us-east-1.amazonaws.com/123456789012/batchwatch-ingest"
	dlqURL    = "https://sqs.us-east-1.amazonaws.com/123456789012/batchwatch-ingest-dlq"
	ownURL    = "https://sqs.us-east-1.amazonaws.com/123456789012/batchwatch-exporter"
)

// The exporter reads ingest's queue, its own and a dead-letter queue with
// one GetQueueAttributes each, and exports their counts; a failing queue
// sets aws_call_up{kind="queue_attributes"} to 0 and keeps the others.
func TestSQSQueueCounts(t *testing.T) {
	clock := newFakeClock()
	api := &fakeQueueAttributes{attrs: map[string]map[string]string{
		ingestURL: counts("12", "3", "0"),
		dlqURL:    counts("1", "0", "0"),
	}}
	cfg := &Config{SQSAttributesQueues: []string{ingestURL, ownURL}, SQSAttributesDeadLetterQueues: []string{dlqURL}, SQSAttributesInterval: time.Minute}
	x, reg := testExporter(t, cfg, oneQueue(), clock, Deps{QueueAttributes: api})
	if err := x.sqsQ.refresh(context.Background()); err == nil {
		t.Fatal("the exporter's own queue fails: refresh must say so")
	}
	if len(api.calls) != 3 {
		t.Errorf("calls %v, want one per queue", api.calls)
	}
	if got := testutil.ToFloat64(x.awsCallUp.WithLabelValues(CallQueueAttributes)); got != 0 {
		t.Errorf("aws_call_up{kind=queue_attributes} %v with a failing queue", got)
	}
	want := `# HELP batchwatch_sqs_queue_messages Messages of an SQS queue of the pipeline by state (visible, in_flight, delayed): GetQueueAttributes' approximate counts.
# TYPE batchwatch_sqs_queue_messages gauge
batchwatch_sqs_queue_messages{dead_letter="false",queue="batchwatch-ingest",state="delayed"} 0
batchwatch_sqs_queue_messages{dead_letter="false",queue="batchwatch-ingest",state="in_flight"} 3
batchwatch_sqs_queue_messages{dead_letter="false",queue="batchwatch-ingest",state="visible"} 12
batchwatch_sqs_queue_messages{dead_letter="true",queue="batchwatch-ingest-dlq",state="delayed"} 0
batchwatch_sqs_queue_messages{dead_letter="true",queue="batchwatch-ingest-dlq",state="in_flight"} 0
batchwatch_sqs_queue_messages{dead_letter="true",queue="batchwatch-ingest-dlq",state="visible"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_sqs_queue_messages"); err != nil {
		t.Error(err)
	}
	api.attrs[ownURL] = counts("0", "0", "0")
	if err := x.sqsQ.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(x.awsCallUp.WithLabelValues(CallQueueAttributes)); got != 1 {
		t.Errorf("aws_call_up{kind=queue_attributes} %v after recovery", got)
	}
	if n, _ := testutil.GatherAndCount(reg, "batchwatch_sqs_queue_messages", "batchwatch_sqs_queue_last_read_timestamp_seconds"); n != 12 {
		t.Errorf("%d series, want 9 counts and 3 timestamps", n)
	}
}

func TestSQSQueueConfigErrors(t *testing.T) {
	log := logrus.NewEntry(logrus.New())
	noop := func(string, error) {}
	if _, err := newSQSQueues(&fakeQueueAttributes{}, []string{"batchwatch-ingest"}, nil, time.Minute, time.Now, log, noop); err == nil || !strings.Contains(err.Error(), "want https://") {
		t.Errorf("a queue name instead of a URL: %v", err)
	}
	if _, err := newSQSQueues(nil, []string{ingestURL}, nil, time.Minute, time.Now, log, noop); err == nil {
		t.Error("queues without a client must be rejected")
	}
	q, err := newSQSQueues(nil, nil, nil, time.Minute, time.Now, log, noop)
	if q != nil || err != nil {
		t.Errorf("no queues: %v, %v", q, err)
	}
	if _, err := parseCounts(map[string]string{"ApproximateNumberOfMessages": "x"}); err == nil {
		t.Error("an unreadable count must be an error")
	}
	c := &Config{ResyncInterval: time.Minute, BatchAPIRate: 1, PageSize: 100, CapacityInterval: time.Minute, FinishedWindow: time.Hour, CostDailyCalls: 1,
		SQSAttributesQueues: []string{ingestURL}}
	if err := c.Prepare(nil); err == nil || !strings.Contains(err.Error(), "sqs-attributes-interval") {
		t.Errorf("a zero interval: %v", err)
	}
	c.SQSAttributesInterval, c.SQSQueueURL = time.Minute, ownURL
	c.SQSAttributesQueues = []string{ingestURL}
	if err := c.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.SQSAttributesQueues, " "); got != ingestURL+" "+ownURL {
		t.Errorf("queues %s: the exporter's own queue must be added", got)
	}
}
