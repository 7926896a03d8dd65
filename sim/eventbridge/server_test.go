package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awseb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/sim/eventbridge"
	"github.com/batchwatch/batchwatch/sim/sqs"
)

type env struct {
	queues *sqs.Server
	eb     *eventbridge.Server
	reg    *prometheus.Registry
	sqs    *awssqs.Client
	ebc    *awseb.Client
	sqsURL string
}

var fixedNow = time.Date(2026, 11, 21, 10, 30, 15, 500_000_000, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	queues := sqs.NewServer(sqs.Options{})
	eb := eventbridge.NewServer(eventbridge.Options{Queues: queues, Registry: reg, Now: func() time.Time { return fixedNow }})
	qs, es := httptest.NewServer(queues), httptest.NewServer(eb)
	t.Cleanup(func() {
		queues.Close()
		qs.Close()
		es.Close()
	})
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	return &env{
		queues: queues, eb: eb, reg: reg, sqsURL: qs.URL,
		sqs: (&awsclient.Config{EndpointURL: qs.URL}).SQS(cfg, awsclient.Options{}),
		ebc: (&awsclient.Config{EndpointURL: es.URL}).EventBridge(cfg, awsclient.Options{}),
	}
}

func (e *env) receiveAll(t *testing.T, queue string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := e.sqs.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.sqsURL + "/123456789012/" + queue), MaxNumberOfMessages: 10, VisibilityTimeout: 600,
		})
		require.NoError(t, err)
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestRulesTargetsAndPutEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.queues.CreateQueue("batch-events", nil)
	require.NoError(t, err)
	_, err = e.queues.CreateQueue("failures", nil)
	require.NoError(t, err)

	put, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{
		Name:         aws.String("batch-all"),
		EventPattern: aws.String(`{"source":["aws.batch"],"detail-type":["Batch Job State Change"]}`),
	})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:events:us-east-1:123456789012:rule/batch-all", aws.ToString(put.RuleArn))
	_, err = e.ebc.PutRule(ctx, &awseb.PutRuleInput{
		Name: aws.String("batch-failed"), EventPattern: aws.String(`{"source":["aws.batch"],"detail":{"status":["FAILED"]}}`),
		State: ebtypes.RuleStateEnabled, Description: aws.String("failed jobs"),
	})
	require.NoError(t, err)

	tg, err := e.ebc.PutTargets(ctx, &awseb.PutTargetsInput{Rule: aws.String("batch-all"), Targets: []ebtypes.Target{
		{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:batch-events")},
		{Id: aws.String("fn"), Arn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")},
	}})
	require.NoError(t, err)
	assert.Equal(t, int32(1), tg.FailedEntryCount, "only SQS targets are simulated")
	assert.Equal(t, "fn", aws.ToString(tg.FailedEntries[0].TargetId))
	_, err = e.ebc.PutTargets(ctx, &awseb.PutTargetsInput{Rule: aws.String("batch-failed"), Targets: []ebtypes.Target{
		{Id: aws.String("f"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:failures"), InputPath: aws.String("$.detail")},
	}})
	require.NoError(t, err)

	desc, err := e.ebc.DescribeRule(ctx, &awseb.DescribeRuleInput{Name: aws.String("batch-failed")})
	require.NoError(t, err)
	assert.Equal(t, "failed jobs", aws.ToString(desc.Description))
	assert.Equal(t, ebtypes.RuleStateEnabled, desc.State)
	assert.Equal(t, "default", aws.ToString(desc.EventBusName))
	rules, err := e.ebc.ListRules(ctx, &awseb.ListRulesInput{NamePrefix: aws.String("batch-")})
	require.NoError(t, err)
	require.Len(t, rules.Rules, 2)
	assert.Equal(t, "batch-all", aws.ToString(rules.Rules[0].Name))
	targets, err := e.ebc.ListTargetsByRule(ctx, &awseb.ListTargetsByRuleInput{Rule: aws.String("batch-all")})
	require.NoError(t, err)
	require.Len(t, targets.Targets, 1)
	assert.Equal(t, "arn:aws:sqs:us-east-1:123456789012:batch-events", aws.ToString(targets.Targets[0].Arn))

	ev, err := e.ebc.PutEvents(ctx, &awseb.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"),
			Detail: aws.String(`{ "jobId": "j1", "status": "FAILED" }`), Resources: []string{"arn:aws:batch:us-east-1:123456789012:job/j1"}},
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(`{"jobId":"j2","status":"RUNNING"}`),
			Time: aws.Time(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		{Source: aws.String("aws.ec2"), DetailType: aws.String("EC2 Instance State-change Notification"), Detail: aws.String(`{}`)},
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(`{not json`)},
		{Source: aws.String("aws.batch"), Detail: aws.String(`{}`)},
	}})
	require.NoError(t, err)
	assert.Equal(t, int32(2), ev.FailedEntryCount)
	require.Len(t, ev.Entries, 5)
	for i := 0; i < 3; i++ {
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, aws.ToString(ev.Entries[i].EventId))
	}
	assert.Equal(t, "MalformedDetail", aws.ToString(ev.Entries[3].ErrorCode))
	assert.Equal(t, "InvalidArgument", aws.ToString(ev.Entries[4].ErrorCode))

	all := e.receiveAll(t, "batch-events")
	require.Len(t, all, 2, "the aws.ec2 event matches no rule")
	var env1 map[string]any
	for _, b := range all {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(b), &m))
		if m["detail"].(map[string]any)["jobId"] == "j1" {
			env1 = m
			assert.Equal(t, `{"version":"0","id":"`+aws.ToString(ev.Entries[0].EventId)+`","detail-type":"Batch Job State Change","source":"aws.batch","account":"123456789012","time":"2026-11-21T10:30:15Z","region":"us-east-1","resources":["arn:aws:batch:us-east-1:123456789012:job/j1"],"detail":{"jobId":"j1","status":"FAILED"}}`, b)
		} else {
			assert.Equal(t, "2026-01-02T03:04:05Z", m["time"], "the entry's Time")
			assert.Equal(t, []any{}, m["resources"])
		}
	}
	require.NotNil(t, env1)
	failures := e.receiveAll(t, "failures")
	assert.Equal(t, []string{`{"jobId":"j1","status":"FAILED"}`}, failures, "InputPath $.detail")

	// Disabled rules do not match; rules with targets cannot be deleted.
	_, err = e.ebc.DisableRule(ctx, &awseb.DisableRuleInput{Name: aws.String("batch-all")})
	require.NoError(t, err)
	_, err = e.ebc.PutEvents(ctx, &awseb.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(`{"status":"RUNNING"}`)}}})
	require.NoError(t, err)
	assert.Empty(t, e.receiveAll(t, "batch-events"))
	_, err = e.ebc.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String("batch-all")})
	assert.Equal(t, "ValidationException", apiCode(err))
	_, err = e.ebc.RemoveTargets(ctx, &awseb.RemoveTargetsInput{Rule: aws.String("batch-all"), Ids: []string{"q"}})
	require.NoError(t, err)
	_, err = e.ebc.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String("batch-all")})
	require.NoError(t, err)
	_, err = e.ebc.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String("batch-all")})
	require.NoError(t, err, "deleting a rule twice succeeds")
	_, err = e.ebc.DescribeRule(ctx, &awseb.DescribeRuleInput{Name: aws.String("batch-all")})
	var nf *ebtypes.ResourceNotFoundException
	assert.ErrorAs(t, err, &nf)
}

func TestAPIErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown match type", func() error {
			_, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":[{"contains":"batch"}]}`)})
			return err
		}, "InvalidEventPatternException"},
		{"no pattern or schedule", func() error {
			_, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("r")})
			return err
		}, "ValidationException"},
		{"bad rule name", func() error {
			_, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("a rule"), EventPattern: aws.String(`{}`)})
			return err
		}, "ValidationException"},
		{"unknown bus", func() error {
			_, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String("nope"), EventPattern: aws.String(`{}`)})
			return err
		}, "ResourceNotFoundException"},
		{"targets of an unknown rule", func() error {
			_, err := e.ebc.PutTargets(ctx, &awseb.PutTargetsInput{Rule: aws.String("nope"), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:q")}}})
			return err
		}, "ResourceNotFoundException"},
		{"too many events", func() error {
			var es []ebtypes.PutEventsRequestEntry
			for i := 0; i < 11; i++ {
				es = append(es, ebtypes.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String("{}")})
			}
			_, err := e.ebc.PutEvents(ctx, &awseb.PutEventsInput{Entries: es})
			return err
		}, "ValidationException"},
		{"bus exists", func() error {
			_, err := e.ebc.CreateEventBus(ctx, &awseb.CreateEventBusInput{Name: aws.String("default")})
			return err
		}, "ResourceAlreadyExistsException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.Equal(t, tt.code, apiCode(err), err.Error())
		})
	}
	_, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":[{"contains":"batch"}]}`)})
	assert.Contains(t, err.Error(), "Event pattern is not valid. Reason: Unrecognized match type contains")
}

func TestCustomBusAndTestEventPattern(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created, err := e.ebc.CreateEventBus(ctx, &awseb.CreateEventBusInput{Name: aws.String("batch")})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:events:us-east-1:123456789012:event-bus/batch", aws.ToString(created.EventBusArn))
	put, err := e.ebc.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("r"), EventBusName: created.EventBusArn, EventPattern: aws.String(`{"source":["aws.batch"]}`)})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:events:us-east-1:123456789012:rule/batch/r", aws.ToString(put.RuleArn))
	buses, err := e.ebc.ListEventBuses(ctx, &awseb.ListEventBusesInput{})
	require.NoError(t, err)
	require.Len(t, buses.EventBuses, 2)
	assert.Equal(t, "batch", aws.ToString(buses.EventBuses[0].Name))
	_, err = e.ebc.DeleteEventBus(ctx, &awseb.DeleteEventBusInput{Name: aws.String("default")})
	assert.Equal(t, "ValidationException", apiCode(err))

	res, err := e.ebc.TestEventPattern(ctx, &awseb.TestEventPatternInput{EventPattern: aws.String(`{"detail":{"status":["FAILED"]}}`), Event: aws.String(batchEvent)})
	require.NoError(t, err)
	assert.True(t, res.Result)
}

func TestGoAPIPublish(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"events", "sns-wrapped", "other"} {
		_, err := e.queues.CreateQueue(q, nil)
		require.NoError(t, err)
	}
	require.NoError(t, e.eb.AddRule("default", "batch", `{"source":["aws.batch"]}`, "events"))
	require.NoError(t, e.eb.AddRule("default", "ec2", `{"source":["aws.ec2"]}`, "other"))
	require.NoError(t, e.eb.AddTargets("default", "batch", eventbridge.Target{QueueName: "sns-wrapped", SNSTopicARN: "arn:aws:sns:us-east-1:123456789012:batch-topic"}))
	require.Error(t, e.eb.AddRule("default", "bad", `{"source":"aws.batch"}`, "events"))
	require.Error(t, e.eb.AddTargets("default", "batch", eventbridge.Target{ID: "no-queue"}))

	matched, err := e.eb.Publish("default", []byte(batchEvent))
	require.NoError(t, err)
	assert.Equal(t, 1, matched)
	assert.Equal(t, []string{batchEvent}, e.receiveAll(t, "events"), "Publish delivers the envelope as it is")
	wrapped := e.receiveAll(t, "sns-wrapped")
	require.Len(t, wrapped, 1)
	var n map[string]string
	require.NoError(t, json.Unmarshal([]byte(wrapped[0]), &n))
	assert.Equal(t, "Notification", n["Type"])
	assert.Equal(t, batchEvent, n["Message"])
	assert.Empty(t, e.receiveAll(t, "other"))

	// A custom bus is created by AddRule; a target queue that is missing
	// fails the delivery, counted as a failed invocation.
	require.NoError(t, e.eb.AddRule("jobs", "to-missing", `{"detail":{"status":[{"exists":true}]}}`, "absent"))
	matched, err = e.eb.Publish("jobs", []byte(batchEvent))
	assert.Equal(t, 1, matched)
	assert.ErrorIs(t, err, sqs.ErrQueueDoesNotExist)
	_, err = e.eb.Publish("nope", []byte(batchEvent))
	assert.Error(t, err)
	_, err = e.eb.Publish("default", []byte(`not json`))
	assert.Error(t, err)

	want := `
# HELP batchwatch_sim_eventbridge_failed_invocations_total Deliveries that failed, e.g. to a missing queue (CloudWatch's FailedInvocations).
# TYPE batchwatch_sim_eventbridge_failed_invocations_total counter
batchwatch_sim_eventbridge_failed_invocations_total{bus="default",rule="batch"} 0
batchwatch_sim_eventbridge_failed_invocations_total{bus="default",rule="ec2"} 0
batchwatch_sim_eventbridge_failed_invocations_total{bus="jobs",rule="to-missing"} 1
# HELP batchwatch_sim_eventbridge_invocations_total Deliveries of matched events to targets (CloudWatch's Invocations).
# TYPE batchwatch_sim_eventbridge_invocations_total counter
batchwatch_sim_eventbridge_invocations_total{bus="default",rule="batch"} 2
batchwatch_sim_eventbridge_invocations_total{bus="default",rule="ec2"} 0
batchwatch_sim_eventbridge_invocations_total{bus="jobs",rule="to-missing"} 0
# HELP batchwatch_sim_eventbridge_matched_events_total Events that matched a rule (CloudWatch's MatchedEvents).
# TYPE batchwatch_sim_eventbridge_matched_events_total counter
batchwatch_sim_eventbridge_matched_events_total{bus="default",rule="batch"} 1
batchwatch_sim_eventbridge_matched_events_total{bus="default",rule="ec2"} 0
batchwatch_sim_eventbridge_matched_events_total{bus="jobs",rule="to-missing"} 1
`
	require.NoError(t, testutil.GatherAndCompare(e.reg, strings.NewReader(want),
		"batchwatch_sim_eventbridge_matched_events_total", "batchwatch_sim_eventbridge_invocations_total", "batchwatch_sim_eventbridge_failed_invocations_total"))
	problems, err := testutil.GatherAndLint(e.reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
