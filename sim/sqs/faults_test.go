package sqs_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/sim/sqs"
)

func (e *env) send(t *testing.T, url, body string) string {
	t.Helper()
	out, err := e.client.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	require.NoError(t, err)
	return aws.ToString(out.MessageId)
}

func (e *env) receive(t *testing.T, url string, wait, vis int32) []types.Message {
	t.Helper()
	out, err := e.client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), WaitTimeSeconds: wait, VisibilityTimeout: vis, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	require.NoError(t, err)
	return out.Messages
}

func (e *env) deleteAll(t *testing.T, url string, ms []types.Message) {
	t.Helper()
	for _, m := range ms {
		_, err := e.client.DeleteMessage(context.Background(), &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		require.NoError(t, err)
	}
}

func (e *env) injected(queue, kind string) float64 {
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "batchwatch_sim_sqs_faults_injected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["queue"] == queue && labels["kind"] == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A duplicate is delivered again after the first copy was deleted, with the
// same MessageId and body, and only once.
func TestFaultDuplicate(t *testing.T) {
	e := newEnvWith(t, sqs.Options{Faults: []sqs.MessageFaults{{Queue: "dups", Duplicate: 1, DuplicateDelay: [2]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}}}})
	url := e.createQueue(t, "dups", nil)
	id := e.send(t, url, "event-1")
	first := e.receive(t, url, 0, 30)
	require.Len(t, first, 1)
	e.deleteAll(t, url, first)
	second := e.receive(t, url, 10, 30)
	require.Len(t, second, 1)
	require.Equal(t, id, aws.ToString(second[0].MessageId))
	require.Equal(t, "event-1", aws.ToString(second[0].Body))
	require.Equal(t, aws.ToString(first[0].MD5OfBody), aws.ToString(second[0].MD5OfBody))
	e.deleteAll(t, url, second)
	require.Empty(t, e.receive(t, url, 1, 30), "a copy was duplicated again")
	require.Equal(t, 1.0, e.injected("dups", "duplicate"))
}

// A late message is held back: messages sent after it are received first.
func TestFaultLate(t *testing.T) {
	e := newEnvWith(t, sqs.Options{Faults: []sqs.MessageFaults{{Queue: "late", Late: 1, LateDelay: [2]time.Duration{time.Second, time.Second}}}})
	url := e.createQueue(t, "late", nil)
	e.send(t, url, "held")
	require.Empty(t, e.receive(t, url, 0, 30))
	_, _, delayed, err := e.srv.Stats("late")
	require.NoError(t, err)
	require.Equal(t, 1, delayed)
	got := e.receive(t, url, 10, 30)
	require.Len(t, got, 1)
	require.Equal(t, "held", aws.ToString(got[0].Body))
	require.Equal(t, 1.0, e.injected("late", "late"))
}

// A lost delete answers success, and the message comes back when its
// visibility timeout ends, with its receive count raised.
func TestFaultLostDelete(t *testing.T) {
	e := newEnvWith(t, sqs.Options{Faults: []sqs.MessageFaults{{Queue: "lost", LostDelete: 1}}})
	url := e.createQueue(t, "lost", nil)
	id := e.send(t, url, "again")
	first := e.receive(t, url, 0, 1)
	require.Len(t, first, 1)
	out, err := e.client.DeleteMessageBatch(context.Background(), &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url),
		Entries: []types.DeleteMessageBatchRequestEntry{{Id: aws.String("a"), ReceiptHandle: first[0].ReceiptHandle}}})
	require.NoError(t, err)
	require.Len(t, out.Successful, 1)
	again := e.receive(t, url, 10, 30)
	require.Len(t, again, 1)
	require.Equal(t, id, aws.ToString(again[0].MessageId))
	require.Equal(t, "2", again[0].Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	require.Equal(t, 1.0, e.injected("lost", "lost_delete"))
}

// Faults named for one queue leave the others alone; "*" covers the rest.
func TestFaultQueueScope(t *testing.T) {
	e := newEnvWith(t, sqs.Options{Faults: []sqs.MessageFaults{{Queue: "only", LostDelete: 1}, {Queue: "*", Duplicate: 0}}})
	plain := e.createQueue(t, "plain", nil)
	e.send(t, plain, "x")
	got := e.receive(t, plain, 0, 1)
	require.Len(t, got, 1)
	e.deleteAll(t, plain, got)
	v, i, d, err := e.srv.Stats("plain")
	require.NoError(t, err)
	require.Equal(t, [3]int{0, 0, 0}, [3]int{v, i, d})
	require.Equal(t, 0.0, e.injected("plain", "lost_delete"))
}

func TestMessageFaultsValidate(t *testing.T) {
	for _, f := range []sqs.MessageFaults{
		{Duplicate: -0.1}, {Late: 1.1}, {LostDelete: 2},
		{LateDelay: [2]time.Duration{2 * time.Second, time.Second}}, {DuplicateDelay: [2]time.Duration{-time.Second, 0}},
	} {
		require.Error(t, f.Validate(), "%+v", f)
	}
	require.NoError(t, sqs.MessageFaults{Queue: "q", Duplicate: 0.5, LateDelay: [2]time.Duration{0, time.Second}}.Validate())
}
