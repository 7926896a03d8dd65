package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// notSimulated are the corpus's event paths the simulator does not emit,
// each for a reason: job kinds it does not simulate (README "Not
// simulated"), container settings its scenarios cannot express, and the
// oddities of published samples.
var notSimulated = []struct{ prefix, why string }{
	{".Message", "SNS notification fields: sim/sns wraps events on delivery, --out holds the bare event"},
	{".MessageId", "SNS notification"},
	{".Signature", "SNS notification"},
	{".SigningCertURL", "SNS notification"},
	{".Timestamp", "SNS notification"},
	{".TopicArn", "SNS notification"},
	{".Type", "SNS notification"},
	{".UnsubscribeURL", "SNS notification"},
	{".event_time", "a published sample's own envelope key, not AWS's"},
	{".detail.ecsProperties", "ECS-properties (multi-container) jobs are not simulated"},
	{".detail.attempts[].taskProperties", "ECS-properties jobs"},
	{".detail.attempts[].exitCode", "ECS-properties jobs: a container job's exit code is attempts[].container.exitCode"},
	{".detail.eksProperties", "EKS jobs are not simulated"},
	{".detail.eksAttempts", "EKS jobs"},
	{".detail.nodeDetails", "multi-node parallel jobs are not simulated"},
	{".detail.nodeProperties", "multi-node parallel jobs"},
	{".detail.container.linuxParameters", "container settings scenarios do not express"},
	{".detail.container.volumes[]", "container settings scenarios do not express"},
	{".detail.container.mountPoints[]", "container settings scenarios do not express"},
	{".detail.container.ulimits[]", "container settings scenarios do not express"},
	{".detail.container.privileged", "container settings scenarios do not express"},
	{".detail.container.readonlyRootFilesystem", "container settings scenarios do not express"},
	{".detail.container.logConfiguration.secretOptions", "container settings scenarios do not express"},
	{".detail.container.logConfiguration.options.max-", "options of the json-file log driver; scenarios use awslogs"},
}

// TestEventPathsCoverCorpus compares, path by path, the events the
// published-fields scenario emits with the corpus of real published Batch
// events (batch/testdata/corpus, read as files: sim never imports batch):
// every path a real event carries must be emitted, unless notSimulated
// says why not.
func TestEventPathsCoverCorpus(t *testing.T) {
	corpus := corpusPaths(t)
	if len(corpus) < 80 {
		t.Fatalf("only %d paths in the corpus", len(corpus))
	}
	emitted := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(runScenario(t, "published-fields", 1, 1)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		eventPaths("", v, emitted)
	}
	var missing []string
	for p := range corpus {
		if !emitted[p] && !excused(p) {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("real events carry %d paths the simulator never emits:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	for _, want := range []string{
		".detail.container.logConfiguration.options.awslogs-group",
		".detail.container.logConfiguration.options.awslogs-region",
		".detail.container.logConfiguration.options.awslogs-stream-prefix",
		".detail.container.jobRoleArn", ".detail.container.executionRoleArn",
		".detail.container.vcpus", ".detail.container.memory",
		".detail.container.fargatePlatformConfiguration.platformVersion",
		".detail.container.networkConfiguration.assignPublicIp",
		".detail.container.networkInterfaces[].attachmentId",
		".detail.schedulingPriority", ".detail.shareIdentifier",
		".detail.retryStrategy.evaluateOnExit[].onExitCode",
		".detail.attempts[].container.exitCode",
	} {
		if !corpus[want] {
			t.Errorf("%s is no longer in the corpus: the comparison does not check it", want)
		}
	}
}

func excused(p string) bool {
	for _, n := range notSimulated {
		if strings.HasPrefix(p, n.prefix) {
			return true
		}
	}
	return false
}

// corpusPaths reads every published event of batch/testdata/corpus.
func corpusPaths(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../batch/testdata/corpus/*.json")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ".expected.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if msg, ok := v["Message"].(string); ok {
			// SNS-wrapped: the event is the notification's message.
			eventPaths("", v, out)
			v = nil
			if err := json.Unmarshal([]byte(msg), &v); err != nil {
				t.Fatalf("%s: Message: %v", f, err)
			}
		}
		eventPaths("", v, out)
	}
	return out
}

// eventPaths adds the path of every leaf of v to out: ".a.b" for objects,
// "[]" for array elements. The keys of parameters, tags and an array
// parent's statusSummary are the job's own data, so they become "*".
func eventPaths(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			switch prefix {
			case ".detail.parameters", ".detail.tags", ".detail.arrayProperties.statusSummary":
				k = "*"
			}
			eventPaths(prefix+"."+k, c, out)
		}
	case []any:
		for _, c := range x {
			eventPaths(prefix+"[]", c, out)
		}
	default:
		out[prefix] = true
	}
}

func TestFieldSpecsRefused(t *testing.T) {
	base := "name: x\ncompute_environments: [{name: ce, type: EC2, instance_types: [c5], max_vcpus: 8}]\n"
	for name, tc := range map[string]struct{ yaml, want string }{
		"legacy with fractional vCPUs": {
			"job_definitions: [{name: d, vcpus: 0.5, legacy_resources: true}]\n",
			"legacy_resources needs whole vcpus"},
		"log configuration without a driver": {
			"job_definitions: [{name: d, log_configuration: {options: {awslogs-group: g}}}]\n",
			"log_configuration needs a log_driver"},
		"fair-share queue without a share identifier": {
			"job_queues: [{name: q, priority: 1, compute_environments: [ce], scheduling_policy: p}]\n" +
				"job_definitions: [{name: d}]\nworkload: [{name: w, queue: q, definition: d}]\n",
			"share_identifier is required"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseScenario([]byte(base + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFairShareQueue: a queue with a scheduling policy reports its ARN,
// refuses jobs without a share identifier, and its jobs report a
// schedulingPriority.
func TestFairShareQueue(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Scenario.JobQueues = append(c.Scenario.JobQueues, JobQueueSpec{
			Name: "t-fair", Priority: 5, ComputeEnvironments: []string{"t-ondemand"}, State: "ENABLED",
			SchedulingPolicy: "teams",
		})
	})
	qs, err := h.batch.DescribeJobQueues(context.Background(), &batch.DescribeJobQueuesInput{JobQueues: []string{"t-fair"}})
	if err != nil || len(qs.JobQueues) != 1 {
		t.Fatalf("DescribeJobQueues: %v", err)
	}
	if got := aws.ToString(qs.JobQueues[0].SchedulingPolicyArn); got != "arn:aws:batch:eu-west-1:111122223333:scheduling-policy/teams" {
		t.Fatalf("schedulingPolicyArn %q", got)
	}
	if _, err := h.batch.SubmitJob(context.Background(), jobIn("no-share", "t-fair", "t-job")); err == nil ||
		!strings.Contains(err.Error(), "shareIdentifier must be specified") {
		t.Fatalf("a job without a share identifier: %v", err)
	}
	in := jobIn("shared", "t-fair", "t-job")
	in.ShareIdentifier = aws.String("team-a")
	id := h.submit(in)
	h.settle()
	d := h.describe(id)
	if aws.ToString(d.ShareIdentifier) != "team-a" || d.SchedulingPriority == nil || *d.SchedulingPriority != 0 ||
		d.Status != types.JobStatusSucceeded {
		t.Fatalf("share %q, priority %v, %s", aws.ToString(d.ShareIdentifier), d.SchedulingPriority, d.Status)
	}
}
