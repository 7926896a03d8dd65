package sqs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func receive(t testing.TB, c *awssqs.Client, url string, in awssqs.ReceiveMessageInput) []types.Message {
	t.Helper()
	in.QueueUrl = aws.String(url)
	in.MessageSystemAttributeNames = append(in.MessageSystemAttributeNames, "All")
	out, err := c.ReceiveMessage(context.Background(), &in)
	require.NoError(t, err)
	return out.Messages
}

// receiveUntil long-polls until a message arrives (a broken wake-up or
// expiry shows up as a failed test, not as a timing assertion).
func receiveUntil(t testing.TB, c *awssqs.Client, url string, tries int) []types.Message {
	t.Helper()
	for i := 0; i < tries; i++ {
		if ms := receive(t, c, url, awssqs.ReceiveMessageInput{WaitTimeSeconds: 20, MaxNumberOfMessages: 10}); len(ms) > 0 {
			return ms
		}
	}
	t.Fatalf("no message after %d long polls", tries)
	return nil
}

func TestVisibilityExpiryRedelivers(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "vis", map[string]string{"VisibilityTimeout": "1"})
	require.NoError(t, e.srv.Send("vis", "m"))
	first := receive(t, e.client, url, awssqs.ReceiveMessageInput{})
	require.Len(t, first, 1)
	assert.Equal(t, "1", first[0].Attributes["ApproximateReceiveCount"])
	assert.Empty(t, receive(t, e.client, url, awssqs.ReceiveMessageInput{}), "in flight")

	// The long poll is woken when the visibility timeout expires.
	again := receiveUntil(t, e.client, url, 1)
	require.Len(t, again, 1)
	assert.Equal(t, aws.ToString(first[0].MessageId), aws.ToString(again[0].MessageId))
	assert.Equal(t, "2", again[0].Attributes["ApproximateReceiveCount"])
	assert.Equal(t, first[0].Attributes["ApproximateFirstReceiveTimestamp"], again[0].Attributes["ApproximateFirstReceiveTimestamp"])
	assert.NotEqual(t, aws.ToString(first[0].ReceiptHandle), aws.ToString(again[0].ReceiptHandle))
}

func TestChangeVisibilityExtends(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "ext", map[string]string{"VisibilityTimeout": "1"})
	require.NoError(t, e.srv.Send("ext", "m"))
	ms := receive(t, e.client, url, awssqs.ReceiveMessageInput{})
	require.Len(t, ms, 1)
	_, err := e.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: ms[0].ReceiptHandle, VisibilityTimeout: 600})
	require.NoError(t, err)
	// A 2 s long poll would see the message if the 1 s timeout still applied.
	assert.Empty(t, receive(t, e.client, url, awssqs.ReceiveMessageInput{WaitTimeSeconds: 2}))
	_, err = e.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: ms[0].ReceiptHandle, VisibilityTimeout: 43200})
	assert.Equal(t, "InvalidParameterValue", errorCode(err), "total visibility is limited to 12 hours")
}

func TestRedriveToDeadLetterQueue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dlqURL := e.createQueue(t, "dlq", nil)
	dlqARN := e.queueAttrs(t, dlqURL, "QueueArn")["QueueArn"]
	url := e.createQueue(t, "src", map[string]string{
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlqARN),
	})
	assert.JSONEq(t, fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":2}`, dlqARN), e.queueAttrs(t, url, "RedrivePolicy")["RedrivePolicy"])
	require.NoError(t, e.srv.Send("src", "poison"))

	for i := 1; i <= 2; i++ {
		ms := receive(t, e.client, url, awssqs.ReceiveMessageInput{})
		require.Len(t, ms, 1, "receive %d", i)
		assert.Equal(t, fmt.Sprint(i), ms[0].Attributes["ApproximateReceiveCount"])
		_, err := e.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: ms[0].ReceiptHandle, VisibilityTimeout: 0})
		require.NoError(t, err)
	}
	// The third receive finds it over maxReceiveCount and moves it.
	assert.Empty(t, receive(t, e.client, url, awssqs.ReceiveMessageInput{}))
	moved := receive(t, e.client, dlqURL, awssqs.ReceiveMessageInput{})
	require.Len(t, moved, 1)
	assert.Equal(t, "poison", aws.ToString(moved[0].Body))
	assert.Equal(t, e.srv.QueueARN("src"), moved[0].Attributes["DeadLetterQueueSourceArn"])
	assert.Equal(t, 1.0, mustCounter(t, e, "batchwatch_sim_sqs_messages_redriven_total", "src").value())

	sources, err := e.client.ListDeadLetterSourceQueues(ctx, &awssqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlqURL)})
	require.NoError(t, err)
	assert.Equal(t, []string{url}, sources.QueueUrls)
}

func TestLongPollWokenBySend(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "lp", nil)
	got := make(chan []types.Message, 1)
	go func() {
		got <- receive(t, e.client, url, awssqs.ReceiveMessageInput{WaitTimeSeconds: 20, MaxNumberOfMessages: 10})
	}()
	// Send once the receiver is waiting (it registers as a waiter).
	waitForPoll(t, e, "lp")
	require.NoError(t, e.srv.Send("lp", "wake up"))
	ms := <-got
	require.Len(t, ms, 1, "a long poll returns the message sent while it waits, long before its 20 s")
	assert.Equal(t, "wake up", aws.ToString(ms[0].Body))
}

func TestDelayedMessages(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "delay", nil)
	_, err := e.client.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("later"), DelaySeconds: 1})
	require.NoError(t, err)
	_, _, delayed, err := e.srv.Stats("delay")
	require.NoError(t, err)
	assert.Equal(t, 1, delayed)
	assert.Equal(t, "1", e.queueAttrs(t, url, "ApproximateNumberOfMessagesDelayed")["ApproximateNumberOfMessagesDelayed"])
	assert.Empty(t, receive(t, e.client, url, awssqs.ReceiveMessageInput{}))
	ms := receiveUntil(t, e.client, url, 1)
	assert.Equal(t, "later", aws.ToString(ms[0].Body))
}

func TestCloseEndsLongPolls(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "c", nil)
	done := make(chan []types.Message)
	go func() {
		done <- receive(t, e.client, url, awssqs.ReceiveMessageInput{WaitTimeSeconds: 20})
	}()
	waitForPoll(t, e, "c")
	e.srv.Close()
	assert.Empty(t, <-done)
}

func TestDeleteQueueEndsLongPolls(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "d", nil)
	done := make(chan []types.Message)
	go func() {
		done <- receive(t, e.client, url, awssqs.ReceiveMessageInput{WaitTimeSeconds: 20})
	}()
	waitForPoll(t, e, "d")
	_, err := e.client.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	require.NoError(t, err)
	assert.Empty(t, <-done)
}

// TestConcurrentReceiveDelete drains a queue with many callers and checks
// every message is delivered exactly once (no visibility expiry happens).
func TestConcurrentReceiveDelete(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "many", map[string]string{"VisibilityTimeout": "300"})
	const n = 3000
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = fmt.Sprintf(`{"n":%d}`, i)
	}
	// Half through the Go API, half through SendMessageBatch, concurrently.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		require.NoError(t, e.srv.SendBatch("many", bodies[:n/2]))
	}()
	for c := 0; c < 3; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := n/2 + c*10; i < n; i += 30 {
				var es []types.SendMessageBatchRequestEntry
				for j := i; j < i+10 && j < n; j++ {
					es = append(es, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(bodies[j])})
				}
				out, err := e.client.SendMessageBatch(context.Background(), &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: es})
				require.NoError(t, err)
				require.Empty(t, out.Failed)
			}
		}(c)
	}
	wg.Wait()

	var mu sync.Mutex
	seen := map[string]int{}
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				out, err := e.client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
				require.NoError(t, err)
				if len(out.Messages) == 0 {
					return
				}
				var es []types.DeleteMessageBatchRequestEntry
				mu.Lock()
				for i, m := range out.Messages {
					seen[aws.ToString(m.Body)]++
					es = append(es, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
				}
				mu.Unlock()
				del, err := e.client.DeleteMessageBatch(context.Background(), &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: es})
				require.NoError(t, err)
				require.Empty(t, del.Failed)
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, n)
	for b, k := range seen {
		require.Equal(t, 1, k, b)
	}
	v, inflight, delayed, err := e.srv.Stats("many")
	require.NoError(t, err)
	assert.Equal(t, []int{0, 0, 0}, []int{v, inflight, delayed})
	assert.Equal(t, float64(n), mustCounter(t, e, "batchwatch_sim_sqs_messages_deleted_total", "many").value())
}

// TestLostResponseRedelivery reproduces the SDK's loopback failure: the
// server hands out a batch, the client loses the response and retries. The
// lost batch must come back after its visibility timeout, as SQS redelivers.
func TestLostResponseRedelivery(t *testing.T) {
	e := newEnv(t)
	url := e.createQueue(t, "lossy", map[string]string{"VisibilityTimeout": "1"})
	const n = 30
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = fmt.Sprint(i)
	}
	require.NoError(t, e.srv.SendBatch("lossy", bodies))

	var receives atomic.Int32
	lossy := e.clientWith(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultClient.Do(r)
		if err == nil && r.Header.Get("X-Amz-Target") == "AmazonSQS.ReceiveMessage" && receives.Add(1) == 2 {
			// The server has answered; the client never sees it.
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return nil, errors.New("read tcp: use of closed network connection")
		}
		return resp, err
	})

	seen := map[string]int{}
	lostCount := 0
	for len(seen) < n {
		out, err := lossy.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 20,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"},
		})
		require.NoError(t, err, "the SDK retries the failed attempt")
		require.NotEmpty(t, out.Messages, "the lost batch comes back after its visibility timeout")
		var es []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			seen[aws.ToString(m.Body)]++
			if m.Attributes["ApproximateReceiveCount"] == "2" {
				lostCount++
			}
			es = append(es, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
		}
		_, err = lossy.DeleteMessageBatch(context.Background(), &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: es})
		require.NoError(t, err)
	}
	assert.Len(t, seen, n)
	for b, k := range seen {
		assert.Equal(t, 1, k, "message %s seen by the client once", b)
	}
	assert.Equal(t, 10, lostCount, "the 10 messages of the lost batch were redelivered")
	assert.GreaterOrEqual(t, receives.Load(), int32(4))
}

// TestErrorWireShape checks the JSON error document and header that SDKs parse.
func TestErrorWireShape(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		target, body string
		status       int
		typ, query   string
	}{
		{"AmazonSQS.GetQueueUrl", `{"QueueName":"nope"}`, 400, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
		{"AmazonSQS.DeleteMessage", `{"QueueUrl":"/123456789012/q","ReceiptHandle":"x"}`, 404, "com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid;Sender"},
		{"AmazonSQS.ReceiveMessage", `{"QueueUrl":"/123456789012/q","MaxNumberOfMessages":11}`, 400, "com.amazonaws.sqs#InvalidParameterValue", "InvalidParameterValue;Sender"},
		{"AmazonSQS.NoSuchThing", `{}`, 400, "com.amazon.coral.service#UnknownOperationException", "UnknownOperationException;Sender"},
		{"AmazonSQS.ReceiveMessage", `{"QueueUrl":`, 400, "com.amazon.coral.service#SerializationException", "SerializationException;Sender"},
	}
	e.createQueue(t, "q", nil)
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.http.URL+"/", bytes.NewBufferString(tt.body))
			require.NoError(t, err)
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.query, resp.Header.Get("x-amzn-query-error"))
			assert.Equal(t, "application/x-amz-json-1.0", resp.Header.Get("Content-Type"))
			assert.NotEmpty(t, resp.Header.Get("x-amzn-RequestId"))
			var doc map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
			assert.Equal(t, tt.typ, doc["__type"])
			assert.NotEmpty(t, doc["message"])
		})
	}
	assert.Contains(t, scrape(t, e), `batchwatch_sim_sqs_api_calls_total{operation="unknown"} 1`, "unknown operations do not make new label values")
	assert.NotContains(t, scrape(t, e), "NoSuchThing")
}

// waitForPoll waits until a ReceiveMessage long-polls the queue.
func waitForPoll(t testing.TB, e *env, queue string) {
	t.Helper()
	want := fmt.Sprintf(`batchwatch_sim_sqs_waiting_receives{queue=%q} 1`, queue)
	require.Eventually(t, func() bool { return strings.Contains(scrape(t, e), want) }, 10*time.Second, 5*time.Millisecond)
}

func scrape(t testing.TB, e *env) string {
	t.Helper()
	mfs, err := e.reg.Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), v)
		}
	}
	return b.String()
}

func mustCounter(t testing.TB, e *env, name, queue string) counterValue {
	t.Helper()
	return counterValue{t: t, e: e, name: name, queue: queue}
}

// counterValue reads one per-queue counter from the registry.
type counterValue struct {
	t     testing.TB
	e     *env
	name  string
	queue string
}

func (c counterValue) value() float64 {
	mfs, err := c.e.reg.Gather()
	require.NoError(c.t, err)
	for _, mf := range mfs {
		if mf.GetName() != c.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "queue" && l.GetValue() == c.queue {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "m", nil)
	require.NoError(t, e.srv.SendBatch("m", []string{"a", "b", "c"}))
	ms := receive(t, e.client, url, awssqs.ReceiveMessageInput{MaxNumberOfMessages: 2})
	require.Len(t, ms, 2)
	_, err := e.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: ms[0].ReceiptHandle})
	require.NoError(t, err)
	_, err = e.client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("absent")})
	require.Error(t, err)

	want := `
# HELP batchwatch_sim_sqs_api_calls_total SQS API calls served, per operation.
# TYPE batchwatch_sim_sqs_api_calls_total counter
batchwatch_sim_sqs_api_calls_total{operation="CreateQueue"} 1
batchwatch_sim_sqs_api_calls_total{operation="DeleteMessage"} 1
batchwatch_sim_sqs_api_calls_total{operation="GetQueueUrl"} 1
batchwatch_sim_sqs_api_calls_total{operation="ReceiveMessage"} 1
# HELP batchwatch_sim_sqs_api_errors_total SQS API calls answered with an error, per operation and error code.
# TYPE batchwatch_sim_sqs_api_errors_total counter
batchwatch_sim_sqs_api_errors_total{code="AWS.SimpleQueueService.NonExistentQueue",operation="GetQueueUrl"} 1
# HELP batchwatch_sim_sqs_messages_deleted_total Messages deleted through a current receipt handle.
# TYPE batchwatch_sim_sqs_messages_deleted_total counter
batchwatch_sim_sqs_messages_deleted_total{queue="m"} 1
# HELP batchwatch_sim_sqs_messages_received_total Messages handed out by ReceiveMessage, redeliveries included.
# TYPE batchwatch_sim_sqs_messages_received_total counter
batchwatch_sim_sqs_messages_received_total{queue="m"} 2
# HELP batchwatch_sim_sqs_messages_sent_total Messages sent to a simulated queue (API and Go calls).
# TYPE batchwatch_sim_sqs_messages_sent_total counter
batchwatch_sim_sqs_messages_sent_total{queue="m"} 3
# HELP batchwatch_sim_sqs_queue_messages Messages in a simulated queue by state (visible, inflight, delayed), read at scrape time.
# TYPE batchwatch_sim_sqs_queue_messages gauge
batchwatch_sim_sqs_queue_messages{queue="m",state="delayed"} 0
batchwatch_sim_sqs_queue_messages{queue="m",state="inflight"} 1
batchwatch_sim_sqs_queue_messages{queue="m",state="visible"} 1
# HELP batchwatch_sim_sqs_waiting_receives ReceiveMessage calls long-polling a simulated queue, read at scrape time.
# TYPE batchwatch_sim_sqs_waiting_receives gauge
batchwatch_sim_sqs_waiting_receives{queue="m"} 0
`
	require.NoError(t, testutil.GatherAndCompare(e.reg, strings.NewReader(want),
		"batchwatch_sim_sqs_api_calls_total", "batchwatch_sim_sqs_api_errors_total",
		"batchwatch_sim_sqs_messages_deleted_total", "batchwatch_sim_sqs_messages_received_total",
		"batchwatch_sim_sqs_messages_sent_total", "batchwatch_sim_sqs_queue_messages", "batchwatch_sim_sqs_waiting_receives"))
	problems, err := testutil.GatherAndLint(e.reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
