package sqs_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/sim/sqs"
)

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestQueueLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client

	url := e.createQueue(t, "jobs", map[string]string{"VisibilityTimeout": "45"})
	host := strings.TrimPrefix(e.http.URL, "http://")
	assert.Equal(t, "http://"+host+"/123456789012/jobs", url, "queue URLs are built from the request's Host")

	// Idempotent with the same attributes, QueueNameExists with others.
	again := e.createQueue(t, "jobs", map[string]string{"VisibilityTimeout": "45"})
	assert.Equal(t, url, again)
	_, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("jobs"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
	var exists *types.QueueNameExists
	require.ErrorAs(t, err, &exists)
	assert.Equal(t, "QueueAlreadyExists", errorCode(err), "the SDK reports the query-compatible code")

	got, err := c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	require.NoError(t, err)
	assert.Equal(t, url, aws.ToString(got.QueueUrl))

	for i := 0; i < 3; i++ {
		e.createQueue(t, fmt.Sprintf("other-%d", i), nil)
	}
	all, err := c.ListQueues(ctx, &awssqs.ListQueuesInput{})
	require.NoError(t, err)
	assert.Len(t, all.QueueUrls, 4)
	prefixed, err := c.ListQueues(ctx, &awssqs.ListQueuesInput{QueueNamePrefix: aws.String("other-")})
	require.NoError(t, err)
	assert.Len(t, prefixed.QueueUrls, 3)
	var paged []string
	p := awssqs.NewListQueuesPaginator(c, &awssqs.ListQueuesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page.QueueUrls), 2)
		paged = append(paged, page.QueueUrls...)
	}
	assert.ElementsMatch(t, all.QueueUrls, paged)

	attrs := e.queueAttrs(t, url, "All")
	assert.Equal(t, "45", attrs["VisibilityTimeout"])
	assert.Equal(t, "arn:aws:sqs:us-east-1:123456789012:jobs", attrs["QueueArn"])
	assert.Equal(t, "0", attrs["ApproximateNumberOfMessages"])
	assert.Equal(t, "345600", attrs["MessageRetentionPeriod"])
	assert.Equal(t, "1048576", attrs["MaximumMessageSize"])
	assert.NotEmpty(t, attrs["CreatedTimestamp"])

	_, err = c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"DelaySeconds": "5", "ReceiveMessageWaitTimeSeconds": "2"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"DelaySeconds": "5", "ReceiveMessageWaitTimeSeconds": "2"},
		e.queueAttrs(t, url, "DelaySeconds", "ReceiveMessageWaitTimeSeconds"))

	_, err = c.TagQueue(ctx, &awssqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"team": "ml", "env": "dev"}})
	require.NoError(t, err)
	_, err = c.UntagQueue(ctx, &awssqs.UntagQueueInput{QueueUrl: aws.String(url), TagKeys: []string{"env"}})
	require.NoError(t, err)
	tags, err := c.ListQueueTags(ctx, &awssqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"team": "ml"}, tags.Tags)

	_, err = c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	require.NoError(t, err)
	_, err = c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	var missing *types.QueueDoesNotExist
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, "AWS.SimpleQueueService.NonExistentQueue", errorCode(err))
}

func TestQueueURLFromOtherHosts(t *testing.T) {
	e := newEnv(t)
	e.createQueue(t, "q1", nil)
	for _, u := range []string{
		"http://sqs.local/123456789012/q1",
		"https://sqs.eu-west-3.amazonaws.com/123456789012/q1",
		"http://batchwatch-sim:4566/123456789012/q1",
	} {
		_, err := e.client.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("x")})
		require.NoError(t, err, u)
	}
	_, err := e.client.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String("http://h/999999999999/q1"), MessageBody: aws.String("x")})
	var missing *types.QueueDoesNotExist
	require.ErrorAs(t, err, &missing, "another account's queue does not exist here")
	v, _, _, err := e.srv.Stats("q1")
	require.NoError(t, err)
	assert.Equal(t, 3, v)
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSendReceiveDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "events", nil)
	body := `{"detail-type":"Batch Job State Change","detail":{"status":"RUNNABLE","note":"tab\there \u00e9 ✓"}}`
	sent, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"timestamp": {DataType: aws.String("Number"), StringValue: aws.String("1493147359900")},
		},
	})
	require.NoError(t, err, "the SDK validates MD5OfMessageBody")
	assert.Equal(t, md5hex(body), aws.ToString(sent.MD5OfMessageBody))
	// The vector moto (an independent implementation) gives for this attribute.
	assert.Equal(t, "235c5c510d26fb653d073faed50ae77c", aws.ToString(sent.MD5OfMessageAttributes))

	out, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	m := out.Messages[0]
	assert.Equal(t, body, aws.ToString(m.Body))
	assert.Equal(t, aws.ToString(sent.MessageId), aws.ToString(m.MessageId))
	assert.Equal(t, "235c5c510d26fb653d073faed50ae77c", aws.ToString(m.MD5OfMessageAttributes))
	assert.Equal(t, "1493147359900", aws.ToString(m.MessageAttributes["timestamp"].StringValue))
	assert.Equal(t, "1", m.Attributes["ApproximateReceiveCount"])
	assert.NotEmpty(t, m.Attributes["SentTimestamp"])
	assert.NotEmpty(t, m.Attributes["ApproximateFirstReceiveTimestamp"])
	assert.Equal(t, "123456789012", m.Attributes["SenderId"])

	// In flight now: nothing more to receive.
	none, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	require.NoError(t, err)
	assert.Empty(t, none.Messages)
	v, inflight, _, err := e.srv.Stats("events")
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1}, []int{v, inflight})

	_, err = e.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
	require.NoError(t, err)
	_, err = e.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
	require.NoError(t, err, "deleting an already-deleted message succeeds, as in SQS")
	_, err = e.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("not-a-handle")})
	var invalid *types.ReceiptHandleIsInvalid
	require.ErrorAs(t, err, &invalid)
	v, inflight, delayed, err := e.srv.Stats("events")
	require.NoError(t, err)
	assert.Equal(t, []int{0, 0, 0}, []int{v, inflight, delayed})
}

func TestMessageAttributeFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "attrs", nil)
	_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String("hello"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"timestamp": {DataType: aws.String("Number"), StringValue: aws.String("1493147359900")},
			"bin":       {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
			"s":         {DataType: aws.String("String.custom"), StringValue: aws.String("x y")},
		},
	})
	require.NoError(t, err)
	tests := []struct {
		names []string
		want  []string
		md5   string
	}{
		{names: []string{"All"}, want: []string{"bin", "s", "timestamp"}, md5: "092aad82e89dc1e3128dc0a241d5d58a"}, // moto's value
		{names: []string{"timestamp"}, want: []string{"timestamp"}, md5: "235c5c510d26fb653d073faed50ae77c"},
		{names: []string{"ti.*", "s"}, want: []string{"s"}},
		{names: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			out, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageAttributeNames: tt.names, VisibilityTimeout: 0})
			require.NoError(t, err)
			require.Len(t, out.Messages, 1)
			m := out.Messages[0]
			var got []string
			for k := range m.MessageAttributes {
				got = append(got, k)
			}
			assert.ElementsMatch(t, tt.want, got)
			if tt.md5 != "" {
				assert.Equal(t, tt.md5, aws.ToString(m.MD5OfMessageAttributes))
			}
			if len(tt.want) == 0 {
				assert.Nil(t, m.MD5OfMessageAttributes)
			}
			if b, ok := m.MessageAttributes["bin"]; ok {
				assert.Equal(t, []byte{0, 1, 2}, b.BinaryValue)
			}
			// Make it visible again for the next case.
			_, err = e.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			require.NoError(t, err)
		})
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "errs", nil)
	gone := strings.Replace(url, "errs", "nope", 1)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"send to unknown queue", func() error {
			_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(gone), MessageBody: aws.String("x")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"},
		{"receive from unknown queue", func() error {
			_, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(gone)})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"},
		{"MaxNumberOfMessages 11", func() error {
			_, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"WaitTimeSeconds 21", func() error {
			_, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 21})
			return err
		}, "InvalidParameterValue"},
		{"VisibilityTimeout too long", func() error {
			_, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 43201})
			return err
		}, "InvalidParameterValue"},
		{"DelaySeconds 901", func() error {
			_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), DelaySeconds: 901})
			return err
		}, "InvalidParameterValue"},
		{"empty body", func() error {
			_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("")})
			return err
		}, "MissingParameter"},
		{"invalid character", func() error {
			_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("a\x01b")})
			return err
		}, "InvalidMessageContents"},
		{"too large", func() error {
			_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strings.Repeat("x", 1<<20+1))})
			return err
		}, "InvalidParameterValue"},
		{"bad attribute type", func() error {
			_, err := e.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"),
				MessageAttributes: map[string]types.MessageAttributeValue{"a": {DataType: aws.String("Float"), StringValue: aws.String("1")}}})
			return err
		}, "InvalidParameterValue"},
		{"unknown queue attribute", func() error {
			_, err := e.client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Colour": "blue"}})
			return err
		}, "InvalidAttributeName"},
		{"bad queue attribute value", func() error {
			_, err := e.client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "43201"}})
			return err
		}, "InvalidAttributeValue"},
		{"unknown attribute name in get", func() error {
			_, err := e.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"Colour"}})
			return err
		}, "InvalidAttributeName"},
		{"invalid queue name", func() error {
			_, err := e.client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("bad name!")})
			return err
		}, "InvalidParameterValue"},
		{"FIFO queues are not simulated", func() error {
			_, err := e.client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("f"), Attributes: map[string]string{"FifoQueue": "true"}})
			return err
		}, "InvalidAttributeValue"},
		{"redrive to a missing queue", func() error {
			_, err := e.client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("r"), Attributes: map[string]string{
				"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:absent","maxReceiveCount":"3"}`}})
			return err
		}, "InvalidParameterValue"},
		{"malformed receipt handle", func() error {
			_, err := e.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("AQEB-garbage"), VisibilityTimeout: 5})
			return err
		}, "ReceiptHandleIsInvalid"},
		{"empty batch", func() error {
			_, err := e.client.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{}})
			return err
		}, "AWS.SimpleQueueService.EmptyBatchRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.Equal(t, tt.code, errorCode(err), err.Error())
		})
	}
}

func TestSendMessageBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "batch", nil)
	entry := func(id, body string, delay int32) types.SendMessageBatchRequestEntry {
		return types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(body), DelaySeconds: delay}
	}

	out, err := e.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		entry("a", "one", 0), entry("b", "two", 1800), entry("c", "three", 0), entry("d", "bad\x00char", 0),
	}})
	require.NoError(t, err, "per-entry failures do not fail the call")
	var ok []string
	for _, s := range out.Successful {
		ok = append(ok, aws.ToString(s.Id))
		assert.NotEmpty(t, aws.ToString(s.MessageId))
	}
	assert.Equal(t, []string{"a", "c"}, ok)
	require.Len(t, out.Failed, 2)
	assert.Equal(t, "b", aws.ToString(out.Failed[0].Id))
	assert.Equal(t, "InvalidParameterValue", aws.ToString(out.Failed[0].Code))
	assert.True(t, out.Failed[0].SenderFault)
	assert.Equal(t, "d", aws.ToString(out.Failed[1].Id))
	assert.Equal(t, "InvalidMessageContents", aws.ToString(out.Failed[1].Code))

	tests := []struct {
		name    string
		entries []types.SendMessageBatchRequestEntry
		code    string
	}{
		{"too many", func() []types.SendMessageBatchRequestEntry {
			var es []types.SendMessageBatchRequestEntry
			for i := 0; i < 11; i++ {
				es = append(es, entry(strconv.Itoa(i), "x", 0))
			}
			return es
		}(), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
		{"duplicate ids", []types.SendMessageBatchRequestEntry{entry("a", "x", 0), entry("a", "y", 0)}, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
		{"invalid id", []types.SendMessageBatchRequestEntry{entry("a b", "x", 0)}, "AWS.SimpleQueueService.InvalidBatchEntryId"},
		{"empty", []types.SendMessageBatchRequestEntry{}, "AWS.SimpleQueueService.EmptyBatchRequest"},
		{"too long", []types.SendMessageBatchRequestEntry{entry("a", strings.Repeat("x", 600_000), 0), entry("b", strings.Repeat("y", 600_000), 0)}, "AWS.SimpleQueueService.BatchRequestTooLong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: tt.entries})
			require.Error(t, err)
			assert.Equal(t, tt.code, errorCode(err))
		})
	}
}

func TestDeleteAndVisibilityBatches(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "b", nil)
	require.NoError(t, e.srv.SendBatch("b", []string{"1", "2", "3"}))
	out, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	require.NoError(t, err)
	require.Len(t, out.Messages, 3)

	cv, err := e.client.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("x"), ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("y"), ReceiptHandle: aws.String("garbage"), VisibilityTimeout: 10},
	}})
	require.NoError(t, err)
	require.Len(t, cv.Successful, 1)
	require.Len(t, cv.Failed, 1)
	assert.Equal(t, "ReceiptHandleIsInvalid", aws.ToString(cv.Failed[0].Code))
	v, inflight, _, err := e.srv.Stats("b")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, []int{v, inflight}, "visibility 0 makes the message visible at once")

	del, err := e.client.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("1"), ReceiptHandle: out.Messages[1].ReceiptHandle},
		{Id: aws.String("2"), ReceiptHandle: out.Messages[2].ReceiptHandle},
		{Id: aws.String("3"), ReceiptHandle: aws.String("garbage")},
		{Id: aws.String("4"), ReceiptHandle: out.Messages[1].ReceiptHandle}, // twice: still a success
	}})
	require.NoError(t, err)
	var ids []string
	for _, s := range del.Successful {
		ids = append(ids, aws.ToString(s.Id))
	}
	assert.Equal(t, []string{"1", "2", "4"}, ids)
	require.Len(t, del.Failed, 1)
	assert.Equal(t, "3", aws.ToString(del.Failed[0].Id))
	assert.Equal(t, "ReceiptHandleIsInvalid", aws.ToString(del.Failed[0].Code))

	// The first message's old receipt handle is stale after it was
	// received again: deleting with it succeeds but leaves the message.
	again, err := e.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	require.NoError(t, err)
	require.Len(t, again.Messages, 1)
	assert.Equal(t, "2", again.Messages[0].Attributes["ApproximateReceiveCount"])
	_, err = e.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle})
	require.NoError(t, err)
	_, inflight, _, err = e.srv.Stats("b")
	require.NoError(t, err)
	assert.Equal(t, 1, inflight)
	_, err = e.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 5})
	assert.Equal(t, "InvalidParameterValue", errorCode(err), "a stale handle cannot change visibility")
	_, err = e.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: again.Messages[0].ReceiptHandle})
	require.NoError(t, err)
	_, inflight, _, err = e.srv.Stats("b")
	require.NoError(t, err)
	assert.Equal(t, 0, inflight)
}

func TestPurgeQueue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := e.createQueue(t, "p", nil)
	require.NoError(t, e.srv.SendBatch("p", []string{"a", "b"}))
	_, err := e.client.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: aws.String(url)})
	require.NoError(t, err)
	v, _, _, err := e.srv.Stats("p")
	require.NoError(t, err)
	assert.Zero(t, v)
	_, err = e.client.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: aws.String(url)})
	var inProgress *types.PurgeQueueInProgress
	assert.ErrorAs(t, err, &inProgress, "one purge per 60 s")
}

func TestGoAPI(t *testing.T) {
	srv := sqs.NewServer(sqs.Options{AccountID: "111122223333", Region: "eu-west-1"})
	defer srv.Close()
	url, err := srv.CreateQueue("q", map[string]string{"DelaySeconds": "900"})
	require.NoError(t, err)
	assert.Equal(t, "http://sqs.local/111122223333/q", url)
	again, err := srv.CreateQueue("q", map[string]string{"DelaySeconds": "900"})
	require.NoError(t, err)
	assert.Equal(t, url, again)
	_, err = srv.CreateQueue("q", map[string]string{"DelaySeconds": "1"})
	assert.Error(t, err)
	_, err = srv.CreateQueue("bad/name", nil)
	assert.Error(t, err)
	assert.Equal(t, "arn:aws:sqs:eu-west-1:111122223333:q", srv.QueueARN("q"))

	require.NoError(t, srv.Send("q", "one"))
	require.NoError(t, srv.SendBatch("q", []string{"two", "three"}))
	v, i, d, err := srv.Stats("q")
	require.NoError(t, err)
	assert.Equal(t, []int{0, 0, 3}, []int{v, i, d}, "the queue's DelaySeconds applies")

	assert.Error(t, srv.Send("q", ""), "SQS has no empty messages")
	assert.Error(t, srv.SendBatch("q", []string{"x", ""}))
	err = srv.Send("absent", "x")
	assert.ErrorIs(t, err, sqs.ErrQueueDoesNotExist)
	assert.ErrorIs(t, srv.SendBatch("absent", []string{"x"}), sqs.ErrQueueDoesNotExist)
	_, _, _, err = srv.Stats("absent")
	assert.ErrorIs(t, err, sqs.ErrQueueDoesNotExist)
}
