//go:build integration

package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/batchwatch/batchwatch/awsclient"
)

// The differential test runs the same Batch CRUD calls against moto (the
// independent reference) and the simulator and compares the normalized
// results. moto is shared with other tests: every name is unique and
// nothing is reset.

func motoURL() string {
	if u := os.Getenv("BATCHWATCH_MOTO_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:5000"
}

// motoQuery calls one of moto's query-protocol APIs (IAM, EC2); moto routes
// by the credential scope and does not check signatures.
func motoQuery(t *testing.T, service string, params url.Values) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, motoURL()+"/", strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"+service+
		"/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto %s %s: %v", service, params.Get("Action"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto %s %s: %d %s", service, params.Get("Action"), resp.StatusCode, body)
	}
	return string(body)
}

func xmlField(t *testing.T, body, tag string) string {
	t.Helper()
	m := regexp.MustCompile("<" + tag + ">([^<]+)</" + tag + ">").FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <%s> in %s", tag, body)
	}
	return m[1]
}

// motoPrerequisites creates what moto wants before a managed compute
// environment: a service role, an instance profile, a subnet and a security
// group.
type motoPrereqs struct{ role, profile, subnet, sg string }

func setupMoto(t *testing.T, suffix string) motoPrereqs {
	t.Helper()
	if _, err := http.Get(motoURL() + "/moto-api/"); err != nil {
		t.Fatalf("moto is not reachable at %s (scripts/services.sh start moto): %v", motoURL(), err)
	}
	var p motoPrereqs
	role := "bwsim-batch-" + suffix
	body := motoQuery(t, "iam", url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {role},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}})
	p.role = xmlField(t, body, "Arn")
	body = motoQuery(t, "iam", url.Values{"Action": {"CreateInstanceProfile"}, "Version": {"2010-05-08"}, "InstanceProfileName": {role}})
	p.profile = xmlField(t, body, "Arn")
	body = motoQuery(t, "ec2", url.Values{"Action": {"CreateVpc"}, "Version": {"2016-11-15"}, "CidrBlock": {"10.77.0.0/16"}})
	vpc := xmlField(t, body, "vpcId")
	body = motoQuery(t, "ec2", url.Values{"Action": {"CreateSubnet"}, "Version": {"2016-11-15"}, "VpcId": {vpc}, "CidrBlock": {"10.77.1.0/24"}})
	p.subnet = xmlField(t, body, "subnetId")
	body = motoQuery(t, "ec2", url.Values{"Action": {"CreateSecurityGroup"}, "Version": {"2016-11-15"}, "VpcId": {vpc},
		"GroupName": {"bwsim-" + suffix}, "GroupDescription": {"batchwatch simulator differential test"}})
	p.sg = xmlField(t, body, "groupId")
	t.Cleanup(func() {
		motoQuery(t, "ec2", url.Values{"Action": {"DeleteSecurityGroup"}, "Version": {"2016-11-15"}, "GroupId": {p.sg}})
		motoQuery(t, "ec2", url.Values{"Action": {"DeleteSubnet"}, "Version": {"2016-11-15"}, "SubnetId": {p.subnet}})
		motoQuery(t, "ec2", url.Values{"Action": {"DeleteVpc"}, "Version": {"2016-11-15"}, "VpcId": {vpc}})
		motoQuery(t, "iam", url.Values{"Action": {"DeleteInstanceProfile"}, "Version": {"2010-05-08"}, "InstanceProfileName": {role}})
		motoQuery(t, "iam", url.Values{"Action": {"DeleteRole"}, "Version": {"2010-05-08"}, "RoleName": {role}})
	})
	return p
}

var arnAccountRegion = regexp.MustCompile(`arn:aws:(batch|iam|ecs):[a-z0-9-]*:\d{12}:`)

// normalize drops what legitimately differs (account, region, ids,
// timestamps, moto's extras) so the rest can be compared.
func normalize(v any, drop ...string) any {
	b, _ := json.Marshal(v)
	b = arnAccountRegion.ReplaceAll(b, []byte("arn:aws:$1:R:A:"))
	var m any
	_ = json.Unmarshal(b, &m)
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for _, d := range drop {
				delete(x, d)
			}
			for k, v := range x {
				if v == nil {
					delete(x, k)
					continue
				}
				x[k] = walk(v)
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return x
	}
	return walk(m)
}

func same(t *testing.T, what string, moto, sim any) {
	t.Helper()
	if !reflect.DeepEqual(moto, sim) {
		a, _ := json.MarshalIndent(moto, "", " ")
		b, _ := json.MarshalIndent(sim, "", " ")
		t.Errorf("%s differs:\nmoto: %s\nsim:  %s", what, a, b)
	}
}

type side struct {
	name   string
	client *batch.Client
}

func TestDifferentialBatchCRUDAgainstMoto(t *testing.T) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	prereqs := setupMoto(t, id)

	h := newHarness(t, nil)
	ac := &awsclient.Config{Region: "us-east-1", EndpointURL: motoURL(), MaxAttempts: 3}
	awsCfg, err := awsclient.Load(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	sides := []side{{"moto", ac.Batch(awsCfg, awsclient.Options{})}, {"sim", h.batch}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ceName, queueName, defName := "bwsim-ce-"+id, "bwsim-q-"+id, "bwsim-def-"+id
	results := map[string]map[string]any{"moto": {}, "sim": {}}
	record := func(s side, key string, v any) { results[s.name][key] = v }

	for _, s := range sides {
		ce, err := s.client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{
			ComputeEnvironmentName: aws.String(ceName), Type: types.CETypeManaged, State: types.CEStateEnabled,
			ServiceRole: aws.String(prereqs.role),
			ComputeResources: &types.ComputeResource{
				Type: types.CRTypeEc2, MinvCpus: aws.Int32(0), MaxvCpus: aws.Int32(16), InstanceTypes: []string{"c5.large"},
				Subnets: []string{prereqs.subnet}, SecurityGroupIds: []string{prereqs.sg}, InstanceRole: aws.String(prereqs.profile),
			},
		})
		if err != nil {
			t.Fatalf("%s CreateComputeEnvironment: %v", s.name, err)
		}
		record(s, "createCE", normalize(ce, "ResultMetadata"))
		desc, err := s.client.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{ceName}})
		if err != nil || len(desc.ComputeEnvironments) != 1 {
			t.Fatalf("%s DescribeComputeEnvironments: %v", s.name, err)
		}
		c := desc.ComputeEnvironments[0]
		record(s, "describeCE", normalize(map[string]any{
			"name": c.ComputeEnvironmentName, "arn": c.ComputeEnvironmentArn, "type": c.Type, "state": c.State,
			"crType": c.ComputeResources.Type, "min": c.ComputeResources.MinvCpus, "max": c.ComputeResources.MaxvCpus,
			"instanceTypes": c.ComputeResources.InstanceTypes, "subnets": c.ComputeResources.Subnets,
			"securityGroups": c.ComputeResources.SecurityGroupIds, "serviceRole": c.ServiceRole,
		}))

		q, err := s.client.CreateJobQueue(ctx, &batch.CreateJobQueueInput{
			JobQueueName: aws.String(queueName), Priority: aws.Int32(10), State: types.JQStateEnabled,
			ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: ce.ComputeEnvironmentArn}},
		})
		if err != nil {
			t.Fatalf("%s CreateJobQueue: %v", s.name, err)
		}
		record(s, "createQueue", normalize(q, "ResultMetadata"))
		dq, err := s.client.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{queueName}})
		if err != nil || len(dq.JobQueues) != 1 {
			t.Fatalf("%s DescribeJobQueues: %v", s.name, err)
		}
		jq := dq.JobQueues[0]
		record(s, "describeQueue", normalize(map[string]any{
			"name": jq.JobQueueName, "arn": jq.JobQueueArn, "priority": jq.Priority, "state": jq.State,
			"order": jq.ComputeEnvironmentOrder,
		}))

		// Legacy vcpus/memory: moto's DescribeJobs breaks the Go SDK for
		// definitions with resourceRequirements (it returns "vcpus": 1.0).
		var revs []int32
		for range 2 {
			reg, err := s.client.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
				JobDefinitionName: aws.String(defName), Type: types.JobDefinitionTypeContainer,
				ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox:latest"), Vcpus: aws.Int32(1),
					Memory: aws.Int32(512), Command: []string{"sleep", "1"}},
				Tags: map[string]string{"owner": "differential"},
			})
			if err != nil {
				t.Fatalf("%s RegisterJobDefinition: %v", s.name, err)
			}
			revs = append(revs, *reg.Revision)
			record(s, "registerDef", normalize(reg, "ResultMetadata"))
		}
		record(s, "revisions", revs)
		dd, err := s.client.DescribeJobDefinitions(ctx, &batch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String(defName)})
		if err != nil {
			t.Fatalf("%s DescribeJobDefinitions: %v", s.name, err)
		}
		var defs []any
		for _, d := range dd.JobDefinitions {
			// The legacy vcpus/memory fields on purpose: moto answers
			// resourceRequirements in a shape the Go SDK cannot decode.
			//lint:ignore SA1019 legacy fields, see above
			vcpus := d.ContainerProperties.Vcpus
			//lint:ignore SA1019 legacy fields, see above
			memory := d.ContainerProperties.Memory
			defs = append(defs, normalize(map[string]any{
				"name": d.JobDefinitionName, "arn": d.JobDefinitionArn, "revision": d.Revision, "status": d.Status,
				"type": d.Type, "image": d.ContainerProperties.Image, "vcpus": vcpus,
				"memory": memory, "command": d.ContainerProperties.Command, "tags": d.Tags,
			}))
		}
		sort.Slice(defs, func(i, j int) bool {
			return defs[i].(map[string]any)["revision"].(float64) < defs[j].(map[string]any)["revision"].(float64)
		})
		record(s, "describeDefs", defs)

		sub, err := s.client.SubmitJob(ctx, &batch.SubmitJobInput{
			JobName: aws.String("diff-job"), JobQueue: aws.String(queueName), JobDefinition: aws.String(defName),
			Tags: map[string]string{"team": "diff"},
		})
		if err != nil {
			t.Fatalf("%s SubmitJob: %v", s.name, err)
		}
		record(s, "submit", normalize(map[string]any{"name": sub.JobName, "arnMatchesId": *sub.JobArn == strings.Replace(*sub.JobArn, *sub.JobId, "", 1)+*sub.JobId}))
		dj, err := s.client.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{*sub.JobId, "no-such-job"}})
		if err != nil || len(dj.Jobs) != 1 {
			t.Fatalf("%s DescribeJobs: %v (%d jobs)", s.name, err, len(dj.Jobs))
		}
		j := dj.Jobs[0]
		record(s, "describeJob", normalize(map[string]any{
			"name": j.JobName, "id": *j.JobId == *sub.JobId, "arn": *j.JobArn == *sub.JobArn, "queue": j.JobQueue,
			// moto's JobDetail.container has no image: not compared.
			"definition": j.JobDefinition, "tags": j.Tags, "command": j.Container.Command,
			"createdAt": j.CreatedAt != nil && *j.CreatedAt > 1e12,
		}))
		lj, err := s.client.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String(queueName),
			Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{"DIFF-*"}}}})
		if err != nil {
			t.Fatalf("%s ListJobs: %v", s.name, err)
		}
		var names []string
		for _, js := range lj.JobSummaryList {
			names = append(names, *js.JobName+"/"+map[bool]string{true: "same-id"}[*js.JobId == *sub.JobId])
		}
		record(s, "listJobs", names)

		if _, err := s.client.TagResource(ctx, &batch.TagResourceInput{ResourceArn: sub.JobArn, Tags: map[string]string{"extra": "1"}}); err != nil {
			t.Fatalf("%s TagResource: %v", s.name, err)
		}
		tags, err := s.client.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: sub.JobArn})
		if err != nil {
			t.Fatalf("%s ListTagsForResource: %v", s.name, err)
		}
		record(s, "jobTags", tags.Tags)
		if _, err := s.client.TagResource(ctx, &batch.TagResourceInput{ResourceArn: q.JobQueueArn, Tags: map[string]string{"q": "v"}}); err != nil {
			t.Fatalf("%s TagResource(queue): %v", s.name, err)
		}
		qtags, err := s.client.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: q.JobQueueArn})
		if err != nil {
			t.Fatalf("%s ListTagsForResource(queue): %v", s.name, err)
		}
		record(s, "queueTags", qtags.Tags)

		_, err = s.client.TerminateJob(ctx, &batch.TerminateJobInput{JobId: sub.JobId, Reason: aws.String("differential test")})
		record(s, "terminate", err == nil)

		_, err = s.client.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("unknown-queue-job"), JobQueue: aws.String("bwsim-no-such-queue-" + id), JobDefinition: aws.String(defName)})
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%s SubmitJob to an unknown queue: %v", s.name, err)
		}
		t.Logf("%s: unknown queue: %s: %s", s.name, ae.ErrorCode(), ae.ErrorMessage())
		record(s, "unknownQueue", ae.ErrorCode())

		// Clean up (moto is shared).
		for _, step := range []func() error{
			func() error {
				_, err := s.client.UpdateJobQueue(ctx, &batch.UpdateJobQueueInput{JobQueue: aws.String(queueName), State: types.JQStateDisabled})
				return err
			},
			func() error {
				_, err := s.client.DeleteJobQueue(ctx, &batch.DeleteJobQueueInput{JobQueue: aws.String(queueName)})
				return err
			},
			func() error {
				_, err := s.client.UpdateComputeEnvironment(ctx, &batch.UpdateComputeEnvironmentInput{ComputeEnvironment: aws.String(ceName), State: types.CEStateDisabled})
				return err
			},
			func() error {
				_, err := s.client.DeleteComputeEnvironment(ctx, &batch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String(ceName)})
				return err
			},
		} {
			if err := step(); err != nil {
				t.Errorf("%s cleanup: %v", s.name, err)
			}
		}
		left, err := s.client.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{queueName}})
		if err != nil {
			t.Fatalf("%s DescribeJobQueues after delete: %v", s.name, err)
		}
		record(s, "queuesAfterDelete", len(left.JobQueues))
	}

	keys := make([]string, 0, len(results["moto"]))
	for k := range results["moto"] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		same(t, k, results["moto"][k], results["sim"][k])
	}
}

// TestExternalDeliveryToMoto delivers events through the SDK to moto: SQS
// SendMessageBatch to a queue URL, and EventBridge PutEvents to moto's
// default bus, whose rule forwards them to a queue.
func TestExternalDeliveryToMoto(t *testing.T) {
	if _, err := http.Get(motoURL() + "/moto-api/"); err != nil {
		t.Fatalf("moto is not reachable at %s (scripts/services.sh start moto): %v", motoURL(), err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ac := &awsclient.Config{Region: "us-east-1", EndpointURL: motoURL(), MaxAttempts: 3}
	awsCfg, err := awsclient.Load(ctx, ac)
	if err != nil {
		t.Fatal(err)
	}
	sqsc := ac.SQS(awsCfg, awsclient.Options{})
	ebc := ac.EventBridge(awsCfg, awsclient.Options{})
	direct, err := sqsc.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("bwsim-direct-" + id)})
	if err != nil {
		t.Fatal(err)
	}
	viaBus, err := sqsc.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("bwsim-bus-" + id)})
	if err != nil {
		t.Fatal(err)
	}
	source := "bwsim.test-" + id
	rule := "bwsim-rule-" + id
	if _, err := ebc.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventPattern: aws.String(`{"source":["` + source + `"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ebc.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{
		{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:bwsim-bus-" + id)}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = ebc.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), Ids: []string{"q"}})
		_, _ = ebc.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(rule)})
		_, _ = sqsc.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: direct.QueueUrl})
		_, _ = sqsc.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: viaBus.QueueUrl})
	})

	h := newHarness(t, func(c *Config) {
		c.Scenario.Delivery = []DeliverySpec{
			{Type: "external-sqs", EndpointURL: motoURL(), Region: "us-east-1", QueueURL: *direct.QueueUrl, SNSWrap: true, TopicARN: "arn:aws:sns:us-east-1:123456789012:t"},
			{Type: "external-eventbridge", EndpointURL: motoURL(), Region: "us-east-1", Bus: "default", Source: source},
		}
	})
	h.submit(jobIn("external", "t-high", "t-job"))
	h.submit(jobIn("external-fail", "t-high", "t-fail"))
	h.settle()
	events := h.events()

	count := func(u *string) int {
		out, err := sqsc.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: u,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
		return n
	}
	if n := count(direct.QueueUrl); n != len(events) {
		t.Fatalf("moto's queue got %d of %d events", n, len(events))
	}
	if n := count(viaBus.QueueUrl); n != len(events) {
		t.Fatalf("moto's bus forwarded %d of %d events", n, len(events))
	}
	msg, err := sqsc.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: viaBus.QueueUrl})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("receive from moto: %v", err)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(*msg.Messages[0].Body), &env); err != nil {
		t.Fatal(err)
	}
	d, _ := env["detail"].(map[string]any)
	if env["detail-type"] != "Batch Job State Change" || env["source"] != source || d == nil || d["jobQueue"] == nil {
		t.Fatalf("event through moto's EventBridge: %s", *msg.Messages[0].Body)
	}
}
