//go:build integration

package sqs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/sim/sqs"
	"github.com/batchwatch/batchwatch/testenv"
)

// step is one call of the differential sequence and its normalized result.
type step struct {
	name string
	got  any
}

// recorder runs a call sequence against one endpoint and normalizes what
// differs by nature between servers: the random name suffix, the host in
// queue URLs, message ids, receipt handles, timestamps.
type recorder struct {
	t      *testing.T
	suffix string
	host   string
	steps  []step
}

func (r *recorder) norm(s string) string {
	s = strings.ReplaceAll(s, r.suffix, "X")
	return strings.ReplaceAll(s, r.host, "HOST")
}

func (r *recorder) add(name string, v any) { r.steps = append(r.steps, step{name, v}) }

// apiErr records an error as the SDK surfaces it: the Go type and the code.
func apiErr(err error) string {
	if err == nil {
		return "ok"
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return "deserialization error: " + de.Err.Error()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("%T %s", ae, ae.ErrorCode())
	}
	return "error: " + err.Error()
}

// received normalizes a ReceiveMessage result (messages sorted by body).
func (r *recorder) received(ms []types.Message) []map[string]any {
	out := []map[string]any{}
	for _, m := range ms {
		var sys []string
		for k := range m.Attributes {
			sys = append(sys, k)
		}
		sort.Strings(sys)
		attrs := map[string]string{}
		for k, v := range m.MessageAttributes {
			attrs[k] = aws.ToString(v.DataType) + "=" + aws.ToString(v.StringValue) + string(v.BinaryValue)
		}
		out = append(out, map[string]any{
			"Body": aws.ToString(m.Body), "MD5OfBody": aws.ToString(m.MD5OfBody),
			"MD5OfMessageAttributes": aws.ToString(m.MD5OfMessageAttributes), "MessageAttributes": attrs,
			"SystemAttributes": sys, "ApproximateReceiveCount": m.Attributes["ApproximateReceiveCount"],
			"HasId": m.MessageId != nil && m.ReceiptHandle != nil,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["Body"].(string) < out[j]["Body"].(string) })
	return out
}

func (r *recorder) queueAttrs(c *awssqs.Client, url string, names ...types.QueueAttributeName) map[string]any {
	out, err := c.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	require.NoError(r.t, err)
	m := map[string]any{}
	for k, v := range out.Attributes {
		switch k {
		case "CreatedTimestamp", "LastModifiedTimestamp":
			m[k] = "TS"
		case "RedrivePolicy":
			var p map[string]any
			require.NoError(r.t, json.Unmarshal([]byte(v), &p))
			p["deadLetterTargetArn"] = r.norm(p["deadLetterTargetArn"].(string))
			m[k] = p
		default:
			m[k] = r.norm(v)
		}
	}
	return m
}

// sqsSequence is the call sequence run against moto and the simulator.
func sqsSequence(t *testing.T, c *awssqs.Client, host string) []step {
	ctx := context.Background()
	suffix := strings.TrimPrefix(testenv.UniqueName(""), "_")
	r := &recorder{t: t, suffix: suffix, host: host}
	dlqName, srcName := "bwdiff_dlq_"+suffix, "bwdiff_src_"+suffix

	dlq, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(dlqName)})
	require.NoError(t, err)
	dlqURL := aws.ToString(dlq.QueueUrl)
	r.add("create dlq", r.norm(dlqURL))
	dlqARN := r.queueAttrs(c, dlqURL, "QueueArn")["QueueArn"].(string)
	r.add("dlq arn", dlqARN)
	dlqARN = strings.ReplaceAll(dlqARN, "X", suffix)

	redrive := map[string]string{"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlqARN)}
	src, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(srcName), Attributes: redrive})
	require.NoError(t, err)
	url := aws.ToString(src.QueueUrl)
	r.add("create source with redrive", r.norm(url))
	r.add("source attributes (All)", r.queueAttrs(c, url, "All"))
	again, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(srcName), Attributes: redrive})
	r.add("create again, same attributes", []string{apiErr(err), r.norm(aws.ToString(again.QueueUrl))})
	_, err = c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(srcName), Attributes: map[string]string{"VisibilityTimeout": "99"}})
	r.add("create again, other attributes", apiErr(err))

	sent, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"status":"RUNNABLE","n":"hello"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"timestamp": {DataType: aws.String("Number"), StringValue: aws.String("1493147359900")},
			"kind":      {DataType: aws.String("String"), StringValue: aws.String("batch")},
		}})
	require.NoError(t, err)
	r.add("send", []string{aws.ToString(sent.MD5OfMessageBody), aws.ToString(sent.MD5OfMessageAttributes), fmt.Sprint(len(aws.ToString(sent.MessageId)) > 0)})

	batch, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("one")},
		{Id: aws.String("b"), MessageBody: aws.String("two"), DelaySeconds: 1800},
		{Id: aws.String("c"), MessageBody: aws.String("three")},
	}})
	if err != nil {
		r.add("send batch with a bad entry", apiErr(err))
	} else {
		var okIDs, failed []string
		for _, s := range batch.Successful {
			okIDs = append(okIDs, aws.ToString(s.Id)+":"+aws.ToString(s.MD5OfMessageBody))
		}
		for _, f := range batch.Failed {
			failed = append(failed, fmt.Sprintf("%s:%s:%v", aws.ToString(f.Id), aws.ToString(f.Code), f.SenderFault))
		}
		sort.Strings(okIDs)
		r.add("send batch with a bad entry", map[string][]string{"Successful": okIDs, "Failed": failed})
	}

	first, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 1,
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	require.NoError(t, err)
	r.add("receive, visibility 1 s", r.received(first.Messages))
	handles := map[string]*string{}
	for _, m := range first.Messages {
		handles[aws.ToString(m.Body)] = m.ReceiptHandle
	}
	require.Len(t, handles, 3)
	none, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	r.add("receive while in flight", []any{apiErr(err), len(none.Messages)})

	_, err = c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: handles["one"], VisibilityTimeout: 0})
	r.add("change visibility to 0", apiErr(err))
	back, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	require.NoError(t, err)
	r.add("receive again", r.received(back.Messages))

	hello := handles[`{"status":"RUNNABLE","n":"hello"}`]
	_, err = c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: hello})
	r.add("delete", apiErr(err))
	_, err = c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: hello})
	r.add("delete twice", apiErr(err))
	_, err = c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("garbage")})
	r.add("delete with a malformed handle", apiErr(err))
	_, err = c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: hello, VisibilityTimeout: 10})
	r.add("change visibility of a deleted message", apiErr(err))
	del, err := c.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("x"), ReceiptHandle: handles["three"]},
		{Id: aws.String("y"), ReceiptHandle: aws.String("garbage")},
	}})
	require.NoError(t, err)
	var delOK, delFailed []string
	for _, s := range del.Successful {
		delOK = append(delOK, aws.ToString(s.Id))
	}
	for _, f := range del.Failed {
		delFailed = append(delFailed, aws.ToString(f.Id)+":"+aws.ToString(f.Code))
	}
	r.add("delete batch with a malformed handle", [][]string{delOK, delFailed})

	// "one" was received twice (maxReceiveCount 2): once visible again,
	// the next receive moves it to the dead-letter queue.
	time.Sleep(1500 * time.Millisecond)
	moved, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	r.add("receive after maxReceiveCount", []any{apiErr(err), len(moved.Messages)})
	fromDLQ, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	require.NoError(t, err)
	r.add("receive from the dead-letter queue", r.received(fromDLQ.Messages))
	counts := []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}
	r.add("source counts", r.queueAttrs(c, url, counts...))
	r.add("dead-letter queue counts", r.queueAttrs(c, dlqURL, counts...))

	_, err = c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"DelaySeconds": "3", "MessageRetentionPeriod": "3600"}})
	r.add("set attributes", apiErr(err))
	r.add("attributes after set", r.queueAttrs(c, url, "DelaySeconds", "MessageRetentionPeriod", "VisibilityTimeout"))
	list, err := c.ListQueues(ctx, &awssqs.ListQueuesInput{QueueNamePrefix: aws.String("bwdiff_src_" + suffix)})
	require.NoError(t, err)
	var urls []string
	for _, u := range list.QueueUrls {
		urls = append(urls, r.norm(u))
	}
	r.add("list queues by prefix", urls)

	gone := strings.Replace(url, srcName, "bwdiff_absent_"+suffix, 1)
	tooMany := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range tooMany {
		tooMany[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String("x")}
	}
	errCases := []struct {
		name string
		call func() error
	}{
		{"get URL of an unknown queue", func() error {
			_, err := c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("bwdiff_absent_" + suffix)})
			return err
		}},
		{"send to an unknown queue", func() error {
			_, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(gone), MessageBody: aws.String("x")})
			return err
		}},
		{"MaxNumberOfMessages 11", func() error {
			_, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}},
		{"WaitTimeSeconds 21", func() error {
			_, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 21})
			return err
		}},
		{"unknown attribute in GetQueueAttributes", func() error {
			_, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"Colour"}})
			return err
		}},
		{"11 batch entries", func() error {
			_, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: tooMany})
			return err
		}},
		{"duplicate batch ids", func() error {
			_, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
				{Id: aws.String("d"), MessageBody: aws.String("x")}, {Id: aws.String("d"), MessageBody: aws.String("y")}}})
			return err
		}},
		{"invalid batch id", func() error {
			_, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
				{Id: aws.String("not valid!"), MessageBody: aws.String("x")}}})
			return err
		}},
		{"empty batch", func() error {
			_, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{}})
			return err
		}},
		{"DelaySeconds 901", func() error {
			_, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), DelaySeconds: 901})
			return err
		}},
		{"invalid queue name", func() error {
			_, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("bad name!")})
			return err
		}},
	}
	for _, ec := range errCases {
		r.add(ec.name, apiErr(ec.call()))
	}

	for _, u := range []string{url, dlqURL} {
		_, err = c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		r.add("delete queue", apiErr(err))
	}
	_, err = c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(srcName)})
	r.add("get URL of a deleted queue", apiErr(err))
	return r.steps
}

// awsNotMoto lists the steps where moto departs from AWS's documented
// behaviour; the simulator follows AWS. Each entry gives moto's result and
// AWS's, so the test also notices when moto changes.
var awsNotMoto = map[string]struct {
	moto, aws any
	why       string
}{
	"send batch with a bad entry": {
		moto: `deserialization error: expected bool, got "true"`,
		aws: map[string][]string{
			"Successful": {"a:f97c5d29941bfb1b2fdab0874906ab82", "c:35d6d33467aae9a2e3dccb4b6b027878"},
			"Failed":     {"b:InvalidParameterValue:true"},
		},
		why: "BatchResultErrorEntry.SenderFault is a boolean; moto sends the string \"true\", which the Go SDK cannot decode " +
			"(the messages without error are queued all the same)",
	},
	"change visibility of a deleted message": {
		moto: "*types.ReceiptHandleIsInvalid ReceiptHandleIsInvalid",
		aws:  "*smithy.GenericAPIError InvalidParameterValue",
		why: "AWS answers a well-formed handle of a message that is gone with InvalidParameterValue " +
			"(\"Message does not exist or is not available for visibility timeout change\"); " +
			"ReceiptHandleIsInvalid is for malformed handles.",
	},
}

func TestDifferentialSQSAgainstMoto(t *testing.T) {
	motoURL := testenv.RequireMoto(t)
	cfg, _ := testenv.AWS(t, motoURL)

	moto := (&awsclient.Config{EndpointURL: motoURL}).SQS(cfg, awsclient.Options{})
	motoSteps := sqsSequence(t, moto, strings.TrimPrefix(motoURL, "http://"))

	srv := sqs.NewServer(sqs.Options{})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	sim := (&awsclient.Config{EndpointURL: hs.URL}).SQS(cfg, awsclient.Options{})
	simSteps := sqsSequence(t, sim, strings.TrimPrefix(hs.URL, "http://"))

	require.Equal(t, len(motoSteps), len(simSteps))
	for i := range motoSteps {
		m, s := motoSteps[i], simSteps[i]
		require.Equal(t, m.name, s.name)
		t.Logf("%-42s moto: %v", m.name, m.got)
		if d, ok := awsNotMoto[m.name]; ok {
			assert.Equal(t, d.moto, m.got, "%s: moto (%s)", m.name, d.why)
			assert.Equal(t, d.aws, s.got, "%s: simulator follows AWS (%s)", m.name, d.why)
			continue
		}
		if !reflect.DeepEqual(m.got, s.got) {
			assert.Equal(t, m.got, s.got, "step %d %q: moto (expected) vs simulator (actual)", i, m.name)
		}
	}
}
