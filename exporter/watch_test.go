package exporter

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSQS hands out its messages ten at a time and records deletions.
type fakeSQS struct {
	mu      sync.Mutex
	msgs    []string
	deleted map[string]bool
	all     chan struct{}
	total   int
}

func newFakeSQS(bodies []string) *fakeSQS {
	return &fakeSQS{msgs: bodies, deleted: map[string]bool{}, all: make(chan struct{}), total: len(bodies)}
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	n := min(int(in.MaxNumberOfMessages), len(f.msgs))
	batch := f.msgs[:n]
	f.msgs = f.msgs[n:]
	start := f.total - len(f.msgs) - n
	f.mu.Unlock()
	if n == 0 {
		<-ctx.Done() // long poll on an empty queue
		return nil, ctx.Err()
	}
	out := &sqs.ReceiveMessageOutput{}
	for i, b := range batch {
		id := strconv.Itoa(start + i)
		out.Messages = append(out.Messages, sqstypes.Message{Body: aws.String(b), MessageId: aws.String(id), ReceiptHandle: aws.String(id)})
	}
	return out, nil
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range in.Entries {
		f.deleted[aws.ToString(e.ReceiptHandle)] = true
	}
	if len(f.deleted) == f.total {
		close(f.all)
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func TestRunConsumesSQS(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	var bodies []string
	for i := range 7 {
		for _, m := range lifecycle(t, "job-"+itoa(i), t0) {
			bodies = append(bodies, string(m))
		}
	}
	// One arrives wrapped by SNS, one is not an event at all.
	wrapped, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "sns-1", "Message": bodies[0]})
	bodies = append(bodies, string(wrapped), `{"hello":"world"}`)
	fs := newFakeSQS(bodies)
	var ready sync.WaitGroup
	ready.Add(1)
	x, reg := testExporter(t, &Config{SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/events", SQSReceivers: 3}, fb, clock,
		Deps{SQS: fs, OnReady: ready.Done})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- x.Run(ctx) }()
	select {
	case <-fs.all:
	case <-time.After(time.Minute):
		t.Fatal("messages not all deleted")
	}
	ready.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := stateCounts(x.State())["jobs/q1/SUCCEEDED"]; got != 7 {
		t.Errorf("%d jobs SUCCEEDED, want 7", got)
	}
	if got := testutil.ToFloat64(x.jm.finished.WithLabelValues("q1", "build", "", "SUCCEEDED", "single")); got != 7 {
		t.Errorf("finished %v", got)
	}
	if got := testutil.ToFloat64(x.jm.events.WithLabelValues(resultIgnored)); got != 1 {
		t.Errorf("ignored %v", got)
	}
	lint(t, reg)
}
