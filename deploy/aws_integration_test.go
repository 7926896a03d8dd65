//go:build integration

package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/testenv"
)

// motoClients are the SDK clients of one test, all at moto.
type motoClients struct {
	cf  *cloudformation.Client
	iam *iam.Client
	sqs *sqs.Client
	sns *sns.Client
	eb  *eventbridge.Client
}

func newMoto(t *testing.T) *motoClients {
	t.Helper()
	endpoint := testenv.RequireMoto(t)
	cfg, ac := testenv.AWS(t, endpoint)
	return &motoClients{
		cf:  cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		iam: iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		sqs: ac.SQS(cfg, awsclient.Options{}),
		sns: ac.SNS(cfg, awsclient.Options{}),
		eb:  ac.EventBridge(cfg, awsclient.Options{}),
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName is a name of this test run only (moto is shared): letters,
// digits and hyphens, as stack names allow.
func uniqueName() string { return strings.ReplaceAll(testenv.UniqueName("bwtest"), "_", "-") }

// createBus creates an event bus of the test's own, deleted at the end, so
// that no other test's aws.batch events on the default bus reach its queues.
func (m *motoClients) createBus(t *testing.T, name string) string {
	t.Helper()
	if _, err := m.eb.CreateEventBus(ctxFor(t), &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("create event bus: %v", err)
	}
	t.Cleanup(func() {
		if _, err := m.eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(name)}); err != nil {
			t.Errorf("delete event bus %s: %v", name, err)
		}
	})
	return name
}

// deployed is a created stack: its outputs and its resources by logical id.
type deployed struct {
	name      string
	outputs   map[string]string
	resources map[string]string // logical id -> physical id
}

// deploy creates the moto variant of the template as a stack and deletes it
// when the test ends, checking that its queues went with it. Cleanups run
// last in first out, so the stack goes before the event bus.
func (m *motoClients) deploy(t *testing.T, name string, params map[string]string) *deployed {
	t.Helper()
	ctx := ctxFor(t)
	variant, removed := motoVariant(t, loadTemplate(t))
	t.Logf("deploying %s without %v (moto 5.2 implements no %v)", name, removed, motoUnsupported)
	body, err := json.Marshal(variant)
	if err != nil {
		t.Fatal(err)
	}
	var ps []cftypes.Parameter
	for k, v := range params {
		ps = append(ps, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	_, err = m.cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(string(body)),
		Parameters:   ps,
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam},
	})
	t.Cleanup(func() { m.deleteStack(t, name) })
	if err != nil {
		t.Fatalf("create stack %s: %v", name, err)
	}
	w := cloudformation.NewStackCreateCompleteWaiter(m.cf, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	})
	out, err := w.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, time.Minute)
	if err != nil {
		events, _ := m.cf.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
		var lines []string
		if events != nil {
			for _, e := range events.StackEvents {
				lines = append(lines, fmt.Sprintf("%s %s %s", aws.ToString(e.LogicalResourceId), e.ResourceStatus, aws.ToString(e.ResourceStatusReason)))
			}
		}
		t.Fatalf("stack %s did not complete: %v\n%s", name, err, strings.Join(lines, "\n"))
	}
	d := &deployed{name: name, outputs: map[string]string{}, resources: map[string]string{}}
	for _, o := range out.Stacks[0].Outputs {
		d.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	res, err := m.cf.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatalf("list stack resources: %v", err)
	}
	for _, r := range res.StackResourceSummaries {
		// moto also lists an entry without a logical id per resource whose
		// condition is false; CloudFormation lists nothing for them.
		if id := aws.ToString(r.LogicalResourceId); id != "" {
			d.resources[id] = aws.ToString(r.PhysicalResourceId)
		}
	}
	return d
}

// deleteStack deletes the stack and checks that its queues are gone. moto
// 5.2 does not delete an AWS::IAM::ManagedPolicy with its stack
// (CloudFormation does): the test deletes those itself, moto being shared.
func (m *motoClients) deleteStack(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var queues, policies []string
	if res, err := m.cf.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(name)}); err == nil {
		for _, r := range res.StackResourceSummaries {
			switch aws.ToString(r.ResourceType) {
			case "AWS::SQS::Queue":
				queues = append(queues, aws.ToString(r.PhysicalResourceId))
			case "AWS::IAM::ManagedPolicy":
				policies = append(policies, aws.ToString(r.PhysicalResourceId))
			}
		}
	}
	defer func() {
		for _, p := range policies {
			if _, err := m.iam.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(p)}); err == nil {
				t.Logf("deleted policy %s, which moto left behind with the stack", p)
			}
		}
	}()
	if _, err := m.cf.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
		t.Errorf("delete stack %s: %v", name, err)
		return
	}
	w := cloudformation.NewStackDeleteCompleteWaiter(m.cf, func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	})
	if err := w.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, time.Minute); err != nil {
		t.Errorf("stack %s not deleted: %v", name, err)
		return
	}
	for _, q := range queues {
		qn := q[strings.LastIndex(q, "/")+1:]
		if _, err := m.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(qn)}); err == nil {
			t.Errorf("queue %s survived the deletion of stack %s", qn, name)
		}
	}
}

func (d *deployed) output(t *testing.T, key string) string {
	t.Helper()
	v, ok := d.outputs[key]
	if !ok || v == "" {
		t.Fatalf("stack %s has no output %s; outputs %v", d.name, key, d.outputs)
	}
	return v
}

func (d *deployed) checkOutputs(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for k := range d.outputs {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
}

func (d *deployed) checkResources(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for k := range d.resources {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("resources %v, want %v", got, want)
	}
}

func (m *motoClients) queueAttributes(t *testing.T, queueURL string) map[string]string {
	t.Helper()
	out, err := m.sqs.GetQueueAttributes(ctxFor(t), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("get attributes of %s: %v", queueURL, err)
	}
	return out.Attributes
}

// checkQueue checks a consumer queue and its DLQ: retention, visibility,
// long polls, and the redrive policy to the DLQ after 5 receives.
func (m *motoClients) checkQueue(t *testing.T, queueURL, dlqURL string) {
	t.Helper()
	a := m.queueAttributes(t, queueURL)
	dlq := m.queueAttributes(t, dlqURL)
	for k, want := range map[string]string{"MessageRetentionPeriod": "345600", "VisibilityTimeout": "60", "ReceiveMessageWaitTimeSeconds": "20"} {
		if a[k] != want {
			t.Errorf("%s: %s=%s, want %s", queueURL, k, a[k], want)
		}
	}
	if dlq["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("%s: MessageRetentionPeriod=%s, want 14 days", dlqURL, dlq["MessageRetentionPeriod"])
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("%s: RedrivePolicy %q: %v", queueURL, a["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != dlq["QueueArn"] || fmt.Sprint(redrive.MaxReceiveCount) != "5" {
		t.Errorf("%s: RedrivePolicy %s, want %s after 5 receives", queueURL, a["RedrivePolicy"], dlq["QueueArn"])
	}
}

// receiveAll receives (and deletes) every message of a queue until a
// receive comes back empty; moto delivers events during PutEvents and
// Publish, so they are all there. (The SDK leaves out a WaitTimeSeconds of
// 0, which would make every empty receive wait the queue's 20 s.)
func (m *motoClients) receiveAll(t *testing.T, queueURL string) []string {
	t.Helper()
	ctx := ctxFor(t)
	var bodies []string
	for {
		out, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", queueURL, err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, msg := range out.Messages {
			bodies = append(bodies, aws.ToString(msg.Body))
			if _, err := m.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatalf("delete from %s: %v", queueURL, err)
			}
		}
	}
}

// sampleDetail is the detail of one of AWS's documented sample events
// (sim/testdata) with the job id replaced by id.
func sampleDetail(t *testing.T, file, id string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "sim", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	old := detail["jobId"].(string)
	out, err := json.Marshal(detail)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(out), old, id)
}

// testEvent is an event the test puts and what the wiring must do with it.
type testEvent struct {
	source, detailType, detail string
	jobID                      string
	matches                    bool
}

func testEvents(t *testing.T, run string) []testEvent {
	return []testEvent{
		{"aws.batch", batch.DetailTypeJobStateChange, sampleDetail(t, "aws-batch-job-state-change.json", run+"-state"), run + "-state", true},
		{"aws.batch", batch.DetailTypeJobQueueBlocked, sampleDetail(t, "aws-batch-job-queue-blocked.json", run+"-blocked"), run + "-blocked", true},
		// A Batch event of another kind (service jobs), and a state change
		// from a source that is not AWS Batch: the rule takes neither.
		{"aws.batch", "Batch Service Job State Change", sampleDetail(t, "aws-batch-job-state-change.json", run+"-service"), run + "-service", false},
		{"batchwatch.test", batch.DetailTypeJobStateChange, sampleDetail(t, "aws-batch-job-state-change.json", run+"-foreign"), run + "-foreign", false},
		// batchwatch-run's usage event reaches the same queues; under its
		// source a state change does not (a job's role may use the source).
		{batch.SourceUsage, batch.DetailTypeAttemptUsage, usageDetail(run + "-usage"), run + "-usage", true},
		{batch.SourceUsage, batch.DetailTypeJobStateChange, sampleDetail(t, "aws-batch-job-state-change.json", run+"-forged"), run + "-forged", false},
	}
}

// usageDetail is a usage event's detail as batchwatch-run writes it
// (docs/usage.md).
func usageDetail(jobID string) string {
	return `{"schemaVersion":1,"jobId":"` + jobID + `","jobAttempt":1,"arrayIndex":-1,"jobQueue":"q","source":"cgroup-v2",` +
		`"startedAt":1796649827481,"stoppedAt":1796649887481,"wallSeconds":60,"cpuSeconds":30,"cpuMeanVcpus":0.5,` +
		`"cpuP95Vcpus":0.9,"cpuMaxVcpus":1,"memoryPeakBytes":1073741824,"oomKilled":false,"exitCode":0,"samples":12}`
}

// parsedEvents parses message bodies with batchwatch's own parser (as ingest
// and the exporter will) into sorted "detail-type job-id" lines.
func parsedEvents(t *testing.T, bodies []string, wantSNS bool) []string {
	t.Helper()
	var out []string
	for _, b := range bodies {
		ev, err := batch.Parse([]byte(b))
		if err != nil {
			t.Errorf("batchwatch cannot parse a delivered message: %v\n%s", err, b)
			continue
		}
		if (ev.SNSMessageID != "") != wantSNS {
			t.Errorf("message wrapped in SNS: %v, want %v", ev.SNSMessageID != "", wantSNS)
		}
		out = append(out, ev.DetailType+" "+ev.Job.ID)
	}
	sort.Strings(out)
	return out
}

func wantEvents(events []testEvent) []string {
	var out []string
	for _, e := range events {
		if e.matches {
			out = append(out, e.detailType+" "+e.jobID)
		}
	}
	sort.Strings(out)
	return out
}

// checkPolicies compares the managed policies CloudFormation created with
// aws/policies/*.json, placeholders filled in with the stack's values.
func (m *motoClients) checkPolicies(t *testing.T, d *deployed, prefix string, replace map[string]string) {
	t.Helper()
	ctx := ctxFor(t)
	arn := strings.Split(d.output(t, "IngestQueueArn"), ":")
	replace["REGION"], replace["ACCOUNT_ID"] = arn[3], arn[4]
	replace[":batchwatch-"] = ":" + prefix + "-"
	for _, c := range []string{"Ingest", "Exporter", "Submitter", "UsageReporter"} {
		policyARN, ok := d.outputs[c+"PolicyArn"]
		if !ok {
			continue
		}
		name := strings.ToLower(c)
		if c == "UsageReporter" {
			name = "usage-reporter"
		}
		p, err := m.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(policyARN)})
		if err != nil {
			t.Fatalf("get policy %s: %v", policyARN, err)
		}
		if got := aws.ToString(p.Policy.PolicyName); got != prefix+"-"+name {
			t.Errorf("policy name %s, want %s-%s", got, prefix, name)
		}
		v, err := m.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(policyARN), VersionId: p.Policy.DefaultVersionId})
		if err != nil {
			t.Fatalf("get policy version %s: %v", policyARN, err)
		}
		doc := aws.ToString(v.PolicyVersion.Document)
		if strings.HasPrefix(doc, "%7B") { // IAM URL-encodes documents
			if doc, err = url.QueryUnescape(doc); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile("aws/policies/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		want := string(data)
		keys := slices.Collect(maps.Keys(replace))
		slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) }) // longest first
		for _, k := range keys {
			want = strings.ReplaceAll(want, k, replace[k])
		}
		var g, w any
		if err := json.Unmarshal([]byte(doc), &g); err != nil {
			t.Fatalf("%s: %v", policyARN, err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s policy differs from aws/policies/%s.json:\n got %s\nwant %s", c, name, doc, want)
		}
	}
}

// The EventBridge fan-out, with the submitter's queue and policy: the rule
// delivers exactly the Batch job events to every queue, the queues dead-letter
// after 5 receives, and the policies are the documented ones.
func TestCloudFormationEventBridgeOnMoto(t *testing.T) {
	m := newMoto(t)
	ctx := ctxFor(t)
	prefix := uniqueName()
	bus := m.createBus(t, prefix+"-bus")
	d := m.deploy(t, prefix, map[string]string{
		"NamePrefix":                 prefix,
		"EventBusName":               bus,
		"SubmitterEventsQueue":       "true",
		"SubmitterJobQueueArns":      "arn:aws:batch:us-east-1:123456789012:job-queue/zd-*",
		"SubmitterJobDefinitionArns": "arn:aws:batch:us-east-1:123456789012:job-definition/model-build-*",
		"SubmitterManifestBucket":    prefix + "-manifests",
	})
	d.checkResources(t, "IngestQueue", "IngestDeadLetterQueue", "ExporterQueue", "ExporterDeadLetterQueue",
		"SubmitterQueue", "SubmitterDeadLetterQueue", "BatchEventsRule", "IngestPolicy", "ExporterPolicy", "SubmitterPolicy", "UsageReporterPolicy")
	checkDLQAlarmsDeployed(t, d, prefix, "ingest", "exporter", "submitter")
	d.checkOutputs(t, "IngestQueueUrl", "IngestQueueArn", "IngestDeadLetterQueueUrl", "ExporterQueueUrl", "ExporterQueueArn",
		"ExporterDeadLetterQueueUrl", "SubmitterQueueUrl", "SubmitterDeadLetterQueueUrl", "EventRuleArn",
		"IngestPolicyArn", "ExporterPolicyArn", "SubmitterPolicyArn", "UsageReporterPolicyArn")

	queues := map[string][2]string{}
	for _, c := range []string{"Ingest", "Exporter", "Submitter"} {
		q := [2]string{d.output(t, c+"QueueUrl"), d.output(t, c+"DeadLetterQueueUrl")}
		if !strings.HasSuffix(q[0], "/"+prefix+"-"+strings.ToLower(c)) {
			t.Errorf("%s queue %s is not named %s-%s", c, q[0], prefix, strings.ToLower(c))
		}
		m.checkQueue(t, q[0], q[1])
		queues[c] = q
	}

	// The rule: on the stack's bus, the documented pattern, one target per queue.
	rule, err := m.eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(prefix + "-batch-events"), EventBusName: aws.String(bus)})
	if err != nil {
		t.Fatalf("describe rule: %v", err)
	}
	if aws.ToString(rule.Arn) != d.output(t, "EventRuleArn") {
		t.Errorf("rule %s, output EventRuleArn %s", aws.ToString(rule.Arn), d.output(t, "EventRuleArn"))
	}
	targets, err := m.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: rule.Name, EventBusName: aws.String(bus)})
	if err != nil {
		t.Fatalf("list targets: %v", err)
	}
	var gotTargets []string
	for _, tg := range targets.Targets {
		gotTargets = append(gotTargets, aws.ToString(tg.Arn))
		if tg.DeadLetterConfig == nil || !strings.HasSuffix(aws.ToString(tg.DeadLetterConfig.Arn), aws.ToString(tg.Arn)+"-dlq") {
			t.Errorf("target %s: dead-letter config %v, want its queue's DLQ", aws.ToString(tg.Arn), tg.DeadLetterConfig)
		}
	}
	sort.Strings(gotTargets)
	wantTargets := []string{d.output(t, "ExporterQueueArn"), d.output(t, "IngestQueueArn"), m.queueAttributes(t, queues["Submitter"][0])["QueueArn"]}
	sort.Strings(wantTargets)
	if !slices.Equal(gotTargets, wantTargets) {
		t.Errorf("rule targets %v, want %v", gotTargets, wantTargets)
	}

	// Events: the two Batch job events arrive in every queue, nothing else.
	events := testEvents(t, prefix)
	var entries []ebtypes.PutEventsRequestEntry
	for _, e := range events {
		entries = append(entries, ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(bus), Source: aws.String(e.source), DetailType: aws.String(e.detailType),
			Detail: aws.String(e.detail), Time: aws.Time(time.Now()),
			Resources: []string{"arn:aws:batch:us-east-1:123456789012:job/" + e.jobID},
		})
	}
	put, err := m.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || put.FailedEntryCount != 0 {
		t.Fatalf("put events: %v (%d failed)", err, put.FailedEntryCount)
	}
	for c, q := range queues {
		if got, want := parsedEvents(t, m.receiveAll(t, q[0]), false), wantEvents(events); !slices.Equal(got, want) {
			t.Errorf("%s queue received %q, want exactly %q", c, got, want)
		}
	}

	// Dead-lettering: a message received 5 times without being deleted moves
	// to the DLQ at the next receive.
	ingest, ingestDLQ := queues["Ingest"][0], queues["Ingest"][1]
	if _, err := m.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(ingest), MessageBody: aws.String("poison " + prefix)}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		out, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(ingest), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if i == 6 {
			want = 0
		}
		if len(out.Messages) != want {
			t.Fatalf("receive %d of the poison message: %d messages, want %d", i, len(out.Messages), want)
		}
		if want == 1 {
			// A consumer that fails: the message becomes visible again at once.
			if _, err := m.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(ingest), ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := m.receiveAll(t, ingestDLQ); !slices.Equal(got, []string{"poison " + prefix}) {
		t.Errorf("the ingest DLQ holds %q, want the poison message", got)
	}

	m.checkPolicies(t, d, prefix, map[string]string{
		"event-bus/default": "event-bus/" + bus,
		"arn:aws:batch:REGION:ACCOUNT_ID:job-queue/JOB_QUEUE_NAME":            "arn:aws:batch:us-east-1:123456789012:job-queue/zd-*",
		"arn:aws:batch:REGION:ACCOUNT_ID:job-definition/JOB_DEFINITION_NAME*": "arn:aws:batch:us-east-1:123456789012:job-definition/model-build-*",
		"MANIFEST_BUCKET": prefix + "-manifests",
	})
}

// The SNS fan-out without the submitter: the rule targets the topic, both
// queues subscribe, and what the topic publishes reaches both queues in the
// SNS envelope batchwatch unwraps. moto's EventBridge does not deliver to SNS
// targets, so the test publishes the event to the topic as the rule would.
func TestCloudFormationSNSOnMoto(t *testing.T) {
	m := newMoto(t)
	ctx := ctxFor(t)
	prefix := uniqueName()
	bus := m.createBus(t, prefix+"-bus")
	d := m.deploy(t, prefix, map[string]string{"NamePrefix": prefix, "EventBusName": bus, "FanOut": "SNS"})
	d.checkResources(t, "IngestQueue", "IngestDeadLetterQueue", "ExporterQueue", "ExporterDeadLetterQueue",
		"BatchEventsRule", "EventTopic", "IngestPolicy", "ExporterPolicy", "UsageReporterPolicy")
	d.checkOutputs(t, "IngestQueueUrl", "IngestQueueArn", "IngestDeadLetterQueueUrl", "ExporterQueueUrl", "ExporterQueueArn",
		"ExporterDeadLetterQueueUrl", "EventRuleArn", "EventTopicArn", "IngestPolicyArn", "ExporterPolicyArn", "UsageReporterPolicyArn")
	topic := d.output(t, "EventTopicArn")

	targets, err := m.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(prefix + "-batch-events"), EventBusName: aws.String(bus)})
	if err != nil {
		t.Fatalf("list targets: %v", err)
	}
	if len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != topic {
		t.Errorf("rule targets %v, want only the topic %s", targets.Targets, topic)
	}
	subs, err := m.sns.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		t.Fatalf("list subscriptions: %v", err)
	}
	var endpoints []string
	for _, s := range subs.Subscriptions {
		if aws.ToString(s.Protocol) != "sqs" {
			t.Errorf("subscription %s over %s, want sqs", aws.ToString(s.SubscriptionArn), aws.ToString(s.Protocol))
		}
		endpoints = append(endpoints, aws.ToString(s.Endpoint))
	}
	sort.Strings(endpoints)
	if want := []string{d.output(t, "ExporterQueueArn"), d.output(t, "IngestQueueArn")}; !slices.Equal(endpoints, want) {
		t.Errorf("topic subscribers %v, want %v", endpoints, want)
	}
	for _, c := range []string{"Ingest", "Exporter"} {
		m.checkQueue(t, d.output(t, c+"QueueUrl"), d.output(t, c+"DeadLetterQueueUrl"))
	}

	// What EventBridge publishes: the envelope of a matching event.
	ev := testEvents(t, prefix)[0]
	envelope, err := json.Marshal(map[string]any{
		"version": "0", "id": prefix, "detail-type": ev.detailType, "source": ev.source,
		"account": "123456789012", "time": time.Now().UTC().Format(time.RFC3339), "region": "us-east-1",
		"resources": []string{"arn:aws:batch:us-east-1:123456789012:job/" + ev.jobID}, "detail": json.RawMessage(ev.detail),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(string(envelope))}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	for _, c := range []string{"Ingest", "Exporter"} {
		if got, want := parsedEvents(t, m.receiveAll(t, d.output(t, c+"QueueUrl")), true), wantEvents(testEvents(t, prefix)[:1]); !slices.Equal(got, want) {
			t.Errorf("%s queue received %q, want exactly %q", c, got, want)
		}
	}
	if _, ok := d.outputs["SubmitterPolicyArn"]; ok {
		t.Error("a submitter policy without SubmitterJobQueueArns")
	}
	m.checkPolicies(t, d, prefix, map[string]string{"event-bus/default": "event-bus/" + bus})
	var notFound interface{ ErrorCode() string }
	if _, err := m.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "-submitter")}); err == nil || !errors.As(err, &notFound) {
		t.Errorf("a submitter queue without SubmitterEventsQueue: %v", err)
	}
}
