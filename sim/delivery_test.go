package sim

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/batchwatch/batchwatch/awsclient"
)

func queueDepth(t *testing.T, h *harness, name string) int {
	t.Helper()
	visible, inflight, delayed, err := h.s.Queues().Stats(name)
	if err != nil {
		t.Fatal(err)
	}
	return visible + inflight + delayed
}

func TestDeliveryTargets(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scenario.Delivery = []DeliverySpec{
			{Type: "queue", Queue: "raw"},
			{Type: "queue", Queue: "wrapped", SNSWrap: true, TopicARN: "arn:aws:sns:eu-west-1:111122223333:batch-events"},
			{Type: "eventbridge", Bus: "default", Rule: "failed-only", Queues: []string{"failures"},
				Pattern: `{"source":["aws.batch"],"detail-type":["Batch Job State Change"],"detail":{"status":["FAILED"]}}`},
		}
	})
	ctx := context.Background()
	ac := &awsclient.Config{Region: "eu-west-1", EndpointURL: h.url}
	awsCfg, err := awsclient.Load(ctx, ac)
	if err != nil {
		t.Fatal(err)
	}
	sqsc := ac.SQS(awsCfg, awsclient.Options{})
	ebc := ac.EventBridge(awsCfg, awsclient.Options{})

	// A rule created through the EventBridge API receives Batch events too,
	// as on AWS's default bus.
	q, err := sqsc.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("api-rule-target")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ebc.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("succeeded"),
		EventPattern: aws.String(`{"source":["aws.batch"],"detail":{"status":["SUCCEEDED"]}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ebc.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("succeeded"), Targets: []ebtypes.Target{
		{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:eu-west-1:111122223333:api-rule-target")}}}); err != nil {
		t.Fatal(err)
	}

	h.submit(jobIn("ok", "t-high", "t-job"))
	h.submit(jobIn("fails", "t-high", "t-fail"))
	h.settle()
	events := h.events()
	if n := queueDepth(t, h, "raw"); n != len(events) {
		t.Fatalf("raw queue holds %d of %d events", n, len(events))
	}
	if n := queueDepth(t, h, "wrapped"); n != len(events) {
		t.Fatalf("wrapped queue holds %d of %d events", n, len(events))
	}
	if n := queueDepth(t, h, "failures"); n != 1 {
		t.Fatalf("the FAILED-only rule delivered %d events", n)
	}

	out, err := sqsc.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(h.url + "/111122223333/wrapped"), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) == 0 {
		t.Fatal("nothing received from the wrapped queue")
	}
	var note struct {
		Type, TopicArn, Message string
	}
	if err := json.Unmarshal([]byte(*out.Messages[0].Body), &note); err != nil {
		t.Fatal(err)
	}
	var env envelope
	if note.Type != "Notification" || note.TopicArn != "arn:aws:sns:eu-west-1:111122223333:batch-events" ||
		json.Unmarshal([]byte(note.Message), &env) != nil || env.Source != "aws.batch" {
		t.Fatalf("SNS-wrapped message: %s", *out.Messages[0].Body)
	}

	got, err := sqsc.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("the API rule delivered %d events, want the one SUCCEEDED", len(got.Messages))
	}
	if err := json.Unmarshal([]byte(*got.Messages[0].Body), &env); err != nil || env.Detail.Status != "SUCCEEDED" || env.Detail.JobName != "ok" {
		t.Fatalf("event from the API rule: %s", *got.Messages[0].Body)
	}
}
