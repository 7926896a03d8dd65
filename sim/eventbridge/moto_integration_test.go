//go:build integration

package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/sim/eventbridge"
	"github.com/batchwatch/batchwatch/sim/sqs"
	"github.com/batchwatch/batchwatch/testenv"
)

type step struct {
	name string
	got  any
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("%T %s", ae, ae.ErrorCode())
	}
	return "error: " + err.Error()
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
)

// ebSequence is the EventBridge call sequence run against moto and the
// simulator: a rule on aws.batch + detail-type with an SQS target, matching
// and non-matching events, and what arrives in the queue.
func ebSequence(t *testing.T, eb *awseb.Client, q *awssqs.Client) []step {
	ctx := context.Background()
	suffix := strings.TrimPrefix(testenv.UniqueName(""), "_")
	var steps []step
	norm := func(s string) string { return strings.ReplaceAll(s, suffix, "X") }
	add := func(name string, v any) { steps = append(steps, step{name, v}) }

	queue, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("bwdiff_events_" + suffix)})
	require.NoError(t, err)
	qURL := aws.ToString(queue.QueueUrl)
	qARN := "arn:aws:sqs:us-east-1:123456789012:bwdiff_events_" + suffix
	rule := "bwdiff_rule_" + suffix
	pattern := `{"source":["aws.batch"],"detail-type":["Batch Job State Change"]}`

	put, err := eb.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String(rule), EventPattern: aws.String(pattern)})
	add("put rule", []string{errString(err), norm(aws.ToString(put.RuleArn))})
	tg, err := eb.PutTargets(ctx, &awseb.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(qARN)}}})
	require.NoError(t, err)
	add("put SQS target", []any{tg.FailedEntryCount, len(tg.FailedEntries)})
	desc, err := eb.DescribeRule(ctx, &awseb.DescribeRuleInput{Name: aws.String(rule)})
	require.NoError(t, err)
	var pat any
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(desc.EventPattern)), &pat))
	add("describe rule", map[string]any{"Name": norm(aws.ToString(desc.Name)), "Arn": norm(aws.ToString(desc.Arn)),
		"State": string(desc.State), "EventBusName": aws.ToString(desc.EventBusName), "EventPattern": pat})
	targets, err := eb.ListTargetsByRule(ctx, &awseb.ListTargetsByRuleInput{Rule: aws.String(rule)})
	require.NoError(t, err)
	var tl []string
	for _, x := range targets.Targets {
		tl = append(tl, aws.ToString(x.Id)+" "+norm(aws.ToString(x.Arn)))
	}
	add("list targets", tl)

	detail := `{"jobName":"diff-` + suffix + `","jobId":"j-1","status":"FAILED","attempts":[{"container":{"exitCode":1}}]}`
	ev, err := eb.PutEvents(ctx, &awseb.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(detail),
			Resources: []string{"arn:aws:batch:us-east-1:123456789012:job/j-1"}},
		{Source: aws.String("aws.ec2"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(`{"n":2}`)},
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job Queue Blocked"), Detail: aws.String(`{"n":3}`)},
		{Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(`{broken`)},
	}})
	require.NoError(t, err)
	var entries []string
	for _, e := range ev.Entries {
		if e.EventId != nil {
			entries = append(entries, fmt.Sprintf("id:%v", uuidRE.MatchString(aws.ToString(e.EventId))))
		} else {
			entries = append(entries, "error:"+aws.ToString(e.ErrorCode))
		}
	}
	add("put events", []any{ev.FailedEntryCount, entries})

	out, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(qURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	require.NoError(t, err)
	var envs []map[string]any
	var accounts []any
	for _, m := range out.Messages {
		var env map[string]any
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(m.Body)), &env))
		// Identity and time differ by nature: check their form, and that
		// the id is the EventId PutEvents returned.
		env["id"] = env["id"] == aws.ToString(ev.Entries[0].EventId)
		env["time"] = timeRE.MatchString(fmt.Sprint(env["time"]))
		env["detail"] = norm(fmt.Sprint(env["detail"]))
		accounts = append(accounts, env["account"])
		delete(env, "account")
		envs = append(envs, env)
	}
	add("delivered envelopes", envs)
	add("envelope account", accounts)

	_, err = eb.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String(rule + "_bad"), EventPattern: aws.String(`{"source":"aws.batch"}`)})
	add("pattern value not an array", errString(err))
	_, err = eb.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String(rule + "_bad"), EventPattern: aws.String(`{"source":[{"contains":"batch"}]}`)})
	add("unknown match type", errString(err))
	_, err = eb.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String(rule + "_bad")})
	add("delete the unknown-match-type rule (if any)", errString(err))
	_, err = eb.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String(rule)})
	add("delete rule with targets", errString(err))
	_, err = eb.RemoveTargets(ctx, &awseb.RemoveTargetsInput{Rule: aws.String(rule), Ids: []string{"q"}})
	add("remove targets", errString(err))
	_, err = eb.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String(rule)})
	add("delete rule", errString(err))
	_, err = eb.DeleteRule(ctx, &awseb.DeleteRuleInput{Name: aws.String(rule)})
	add("delete rule twice", errString(err))
	_, err = eb.DescribeRule(ctx, &awseb.DescribeRuleInput{Name: aws.String(rule)})
	add("describe deleted rule", errString(err))
	_, err = q.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(qURL)})
	add("delete queue", errString(err))
	return steps
}

// ebAWSNotMoto lists where moto departs from AWS; the simulator follows AWS.
var ebAWSNotMoto = map[string]struct {
	moto, aws any
	why       string
}{
	"envelope account": {
		moto: []any{nil},
		aws:  []any{"123456789012"},
		why:  "the envelope AWS delivers has an account field (version, id, detail-type, source, account, time, region, resources, detail); moto's SQS delivery leaves it out",
	},
	"unknown match type": {
		moto: "ok",
		aws:  "*types.InvalidEventPatternException InvalidEventPatternException",
		why:  "moto checks only the pattern's shape; AWS rejects unknown match types (\"Unrecognized match type contains\")",
	},
}

func TestDifferentialEventBridgeAgainstMoto(t *testing.T) {
	motoURL := testenv.RequireMoto(t)
	cfg, _ := testenv.AWS(t, motoURL)
	mc := &awsclient.Config{EndpointURL: motoURL}
	motoSteps := ebSequence(t, mc.EventBridge(cfg, awsclient.Options{}), mc.SQS(cfg, awsclient.Options{}))

	queues := sqs.NewServer(sqs.Options{})
	defer queues.Close()
	eb := eventbridge.NewServer(eventbridge.Options{Queues: queues})
	qs, es := httptest.NewServer(queues), httptest.NewServer(eb)
	defer qs.Close()
	defer es.Close()
	simSteps := ebSequence(t, (&awsclient.Config{EndpointURL: es.URL}).EventBridge(cfg, awsclient.Options{}),
		(&awsclient.Config{EndpointURL: qs.URL}).SQS(cfg, awsclient.Options{}))

	require.Equal(t, len(motoSteps), len(simSteps))
	for i := range motoSteps {
		m, s := motoSteps[i], simSteps[i]
		require.Equal(t, m.name, s.name)
		t.Logf("%-44s moto: %v", m.name, m.got)
		if d, ok := ebAWSNotMoto[m.name]; ok {
			assert.Equal(t, d.moto, m.got, "%s: moto (%s)", m.name, d.why)
			assert.Equal(t, d.aws, s.got, "%s: simulator follows AWS (%s)", m.name, d.why)
			continue
		}
		if !reflect.DeepEqual(m.got, s.got) {
			assert.Equal(t, m.got, s.got, "step %d %q: moto (expected) vs simulator (actual)", i, m.name)
		}
	}
}
