package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

func loadSample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sampleJob submits a job like the one of AWS's samples: a definition with
// an image, "sleep 600", 2 vCPUs, 256 MiB and two attempts.
func sampleJob(t *testing.T, h *harness, memory string) string {
	t.Helper()
	ctx := context.Background()
	_, err := h.batch.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("first-run-job-definition"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{
			Image:   aws.String("137112412989.dkr.ecr.us-east-1.amazonaws.com/amazonlinux:latest"),
			Command: []string{"sleep", "600"},
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("2")}, {Type: types.ResourceTypeMemory, Value: aws.String("256")}},
		},
		RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(2)},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := jobIn("event-test", "t-high", "first-run-job-definition")
	in.Tags = map[string]string{"resourceArn": "tagged"}
	if memory != "" {
		in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{
			{Type: types.ResourceTypeMemory, Value: aws.String(memory)}}}
	}
	return h.submit(in)
}

var (
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	timeRE    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	jobArnRE  = regexp.MustCompile(`^arn:aws:batch:eu-west-1:111122223333:job/[0-9a-f-]{36}$`)
	taskArnRE = regexp.MustCompile(`^arn:aws:ecs:eu-west-1:111122223333:task/AWSBatch-t-ondemand-[0-9a-f-]{36}/[0-9a-f]{32}$`)
)

// compareToSample checks an emitted event field by field against AWS's
// documented sample: the same envelope keys, every detail key of the
// sample with the same JSON type, and equal values where the job is the
// same.
func compareToSample(t *testing.T, got, sample map[string]any, same []string) {
	t.Helper()
	if !reflect.DeepEqual(keys(got), keys(sample)) {
		t.Fatalf("envelope keys %v, AWS has %v", keys(got), keys(sample))
	}
	for _, k := range []string{"version", "detail-type", "source"} {
		if got[k] != sample[k] {
			t.Errorf("%s = %v, AWS has %v", k, got[k], sample[k])
		}
	}
	if !uuidRE.MatchString(got["id"].(string)) || !timeRE.MatchString(got["time"].(string)) ||
		got["account"] != "111122223333" || got["region"] != "eu-west-1" {
		t.Errorf("envelope id/time/account/region: %v %v %v %v", got["id"], got["time"], got["account"], got["region"])
	}
	gd, sd := got["detail"].(map[string]any), sample["detail"].(map[string]any)
	for _, k := range keys(sd) {
		v, ok := gd[k]
		if !ok {
			t.Errorf("detail.%s missing (AWS: %v)", k, sd[k])
			continue
		}
		if kind(v) != kind(sd[k]) {
			t.Errorf("detail.%s is %s, AWS has %s", k, kind(v), kind(sd[k]))
		}
	}
	for _, k := range same {
		if !reflect.DeepEqual(gd[k], sd[k]) {
			a, _ := json.Marshal(gd[k])
			b, _ := json.Marshal(sd[k])
			t.Errorf("detail.%s = %s, AWS has %s", k, a, b)
		}
	}
	if !jobArnRE.MatchString(gd["jobArn"].(string)) || gd["jobArn"] != "arn:aws:batch:eu-west-1:111122223333:job/"+gd["jobId"].(string) {
		t.Errorf("jobArn %v for jobId %v", gd["jobArn"], gd["jobId"])
	}
	if c := gd["createdAt"].(float64); c != float64(int64(c)) || c < 1e12 {
		t.Errorf("createdAt %v is not epoch milliseconds", c)
	}
	if gd["jobQueue"] != "arn:aws:batch:eu-west-1:111122223333:job-queue/t-high" ||
		gd["jobDefinition"] != "arn:aws:batch:eu-west-1:111122223333:job-definition/first-run-job-definition:1" {
		t.Errorf("jobQueue %v jobDefinition %v", gd["jobQueue"], gd["jobDefinition"])
	}
}

func TestEventShapeMatchesAWSSample(t *testing.T) {
	h := newHarness(t, nil)
	id := sampleJob(t, h, "")
	h.settle()
	var runnable, failedOrDone map[string]any
	for _, e := range h.events() {
		d := e["detail"].(map[string]any)
		if d["jobId"] != id {
			continue
		}
		switch d["status"] {
		case "RUNNABLE":
			runnable = e
		case "SUCCEEDED":
			failedOrDone = e
		}
	}
	if runnable == nil || failedOrDone == nil {
		t.Fatalf("events of the job: %v", h.statuses(id))
	}
	sample := loadSample(t, "aws-batch-job-state-change.json")
	compareToSample(t, runnable, sample, []string{"jobName", "status", "attempts", "retryStrategy", "dependsOn",
		"parameters", "container", "propagateTags", "platformCapabilities"})
	if res := runnable["resources"].([]any); len(res) != 1 || res[0] != runnable["detail"].(map[string]any)["jobArn"] {
		t.Errorf("resources %v", res)
	}
	if _, ok := runnable["detail"].(map[string]any)["startedAt"]; ok {
		t.Error("a RUNNABLE job has startedAt")
	}

	// The final event: attempts with the container's exit code, log
	// stream, task and container instance, AWS's status reason, times in
	// epoch milliseconds consistent with the envelope time.
	d := failedOrDone["detail"].(map[string]any)
	atts := d["attempts"].([]any)
	if len(atts) != 1 {
		t.Fatalf("attempts %v", atts)
	}
	a := atts[0].(map[string]any)
	c := a["container"].(map[string]any)
	if c["exitCode"] != 0.0 || !strings.HasPrefix(c["logStreamName"].(string), "first-run-job-definition/default/") ||
		!taskArnRE.MatchString(c["taskArn"].(string)) ||
		!strings.HasPrefix(c["containerInstanceArn"].(string), "arn:aws:ecs:eu-west-1:111122223333:container-instance/AWSBatch-t-ondemand-") ||
		a["statusReason"] != "Essential container in task exited" {
		t.Fatalf("attempt %v", a)
	}
	if strings.TrimPrefix(c["logStreamName"].(string), "first-run-job-definition/default/") != c["taskArn"].(string)[len(c["taskArn"].(string))-32:] {
		t.Errorf("log stream %v does not name task %v", c["logStreamName"], c["taskArn"])
	}
	stopped := int64(d["stoppedAt"].(float64))
	if int64(a["stoppedAt"].(float64)) != stopped || d["startedAt"] != a["startedAt"] {
		t.Errorf("job and attempt times differ: %v", d)
	}
	if tm, _ := time.Parse(time.RFC3339, failedOrDone["time"].(string)); tm.Unix() != stopped/1000 {
		t.Errorf("envelope time %v, stoppedAt %d", failedOrDone["time"], stopped)
	}
	if cont := d["container"].(map[string]any); cont["exitCode"] != 0.0 || cont["taskArn"] != c["taskArn"] {
		t.Errorf("job container %v", cont)
	}
}

func TestQueueBlockedEventMatchesAWSSample(t *testing.T) {
	h := newHarness(t, nil)
	id := sampleJob(t, h, "900000")
	h.advance(time.Minute)
	var blocked map[string]any
	for _, e := range h.events() {
		if e["detail-type"] == detailTypeBlocked && e["detail"].(map[string]any)["jobId"] == id {
			blocked = e
		}
	}
	if blocked == nil {
		t.Fatal("no Batch Job Queue Blocked event")
	}
	sample := loadSample(t, "aws-batch-job-queue-blocked.json")
	compareToSample(t, blocked, sample, []string{"jobName", "status", "attempts", "retryStrategy", "dependsOn",
		"parameters", "propagateTags", "platformCapabilities"})
	d := blocked["detail"].(map[string]any)
	if !strings.HasPrefix(d["statusReason"].(string), "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - ") {
		t.Errorf("statusReason %v", d["statusReason"])
	}
	if _, ok := d["tags"]; ok {
		t.Error("AWS's blocked event carries no tags")
	}
	res := blocked["resources"].([]any)
	if len(res) != 2 || res[0] != d["jobArn"] || res[1] != d["jobQueue"] {
		t.Errorf("resources %v", res)
	}
}

// TestEventsMatchDescribeJobs: the event's detail is the JobDetail
// DescribeJobs returns at the same moment.
func TestEventsMatchDescribeJobs(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(jobIn("same", "t-high", "t-fail"))
	h.settle()
	evs := h.events()
	last := evs[len(evs)-1]["detail"].(map[string]any)
	resp, err := h.srv.Client().Post(h.url+"/v1/describejobs", "application/json", strings.NewReader(`{"jobs":["`+id+`"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Jobs []map[string]any `json:"jobs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Jobs[0], last) {
		a, _ := json.Marshal(out.Jobs[0])
		b, _ := json.Marshal(last)
		t.Fatalf("DescribeJobs:\n%s\nlast event:\n%s", a, b)
	}
}

func runScenario(t *testing.T, name string, scale float64, seed uint64) []byte {
	t.Helper()
	sc, err := LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := Events(ctx, sc.Scaled(scale), seed, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministicWithSeed(t *testing.T) {
	a := runScenario(t, "smoke", 1, 42)
	b := runScenario(t, "smoke", 1, 42)
	c := runScenario(t, "smoke", 1, 43)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed emitted different events")
	}
	if bytes.Equal(a, c) {
		t.Fatal("runs with different seeds emitted the same events")
	}
}

// A definition registered with an awslogs log configuration: the job
// detail's container reports it as registered, and the attempts' log
// streams are named after its stream prefix (<prefix>/default/<task id>).
func TestEventsReportLogConfiguration(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	_, err := h.batch.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("logs-own-group"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{
			Image: aws.String("img:1"),
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("256")}},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs,
				Options: map[string]string{"awslogs-group": "/team/a", "awslogs-stream-prefix": "pfx"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.batch.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("logs-no-driver"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("img:1"),
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("256")}},
			LogConfiguration: &types.LogConfiguration{}},
	}); err == nil {
		t.Error("a log configuration without a driver was accepted")
	}
	id := h.submit(jobIn("logs", "t-high", "logs-own-group"))
	h.settle()
	seen := 0
	for _, e := range h.events() {
		d := e["detail"].(map[string]any)
		if d["jobId"] != id {
			continue
		}
		seen++
		lc, _ := d["container"].(map[string]any)["logConfiguration"].(map[string]any)
		opts, _ := lc["options"].(map[string]any)
		if lc["logDriver"] != "awslogs" || opts["awslogs-group"] != "/team/a" || opts["awslogs-stream-prefix"] != "pfx" {
			t.Errorf("%v event: logConfiguration %v", d["status"], lc)
		}
		for _, a := range d["attempts"].([]any) {
			c := a.(map[string]any)["container"].(map[string]any)
			if s, _ := c["logStreamName"].(string); !strings.HasPrefix(s, "pfx/default/") {
				t.Errorf("log stream %q, want pfx/default/<task id>", s)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no events of the job")
	}
}
