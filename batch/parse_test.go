package batch

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func mustParse(t *testing.T, body string) *Event {
	t.Helper()
	ev, err := Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return ev
}

func TestParseBenchEvent(t *testing.T) {
	body, err := os.ReadFile("testdata/bench_succeeded.json")
	if err != nil {
		t.Fatal(err)
	}
	ev := mustParse(t, string(body))
	j := ev.Job
	checks := []struct {
		name      string
		got, want any
	}{
		{"queue", j.Queue, "builds-medium"},
		{"definition", j.Definition, "model-build"},
		{"revision", j.DefinitionRevision, 12},
		{"status", j.Status, StatusSucceeded},
		{"failure", j.FailureClass, FailureNone},
		{"platform", j.Platform, PlatformEC2},
		{"parent", j.ArrayParentID, "3f0d2c1a-5b6e-4f7a-8c9d-0e1f2a3b4c5d"},
		{"index", *j.ArrayIndex, 17},
		{"vcpus", *j.VCPUs, 4.0},
		{"memory", *j.MemoryMiB, int64(8192)},
		{"gpus nil", j.GPUs == nil, true},
		{"attempts", len(j.Attempts), 1},
		{"exit", *j.ExitCode, 0},
		{"log", j.LogStream, "model-build/default/9a8b7c6d5e4f30211203f4e5d6c7b8a9"},
		{"queue wait", j.QueueWaitMs(), int64(1763647012345 - 1763646702000)},
		{"run time", j.RunTimeMs(), int64(1763647331234 - 1763647012345)},
		{"tag", j.Tags[0], KV{"product", "models"}},
		{"param", j.Parameters[0], KV{"accountId", "acct-004211"}},
		{"retry", j.RetryAttempts, 3},
		{"time", ev.Time.Format("15:04:05"), "14:02:11"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseSNSWrapped(t *testing.T) {
	inner := `{"version":"0","id":"e1","detail-type":"Batch Job State Change","source":"aws.batch","account":"111122223333","time":"2026-01-02T03:04:05Z","region":"eu-west-1","resources":[],"detail":{"jobId":"j1","jobName":"n","jobQueue":"arn:aws:batch:eu-west-1:111122223333:job-queue/q1","status":"RUNNABLE","createdAt":1}}`
	b, _ := json.Marshal(inner)
	wrapped := `{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:eu-west-1:111122223333:batch","Message":` + string(b) + `,"Timestamp":"2026-01-02T03:04:06.000Z","SignatureVersion":"1"}`
	ev := mustParse(t, wrapped)
	if ev.ID != "e1" || ev.SNSMessageID != "m-1" || ev.Job.Queue != "q1" || string(ev.Raw) != inner {
		t.Fatalf("unexpected %+v", ev)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
		notBatch         bool
	}{
		{"empty", "  ", "empty message", false},
		{"not object", "[1,2]", "not a JSON object", false},
		{"bad json", `{"id": `, "invalid JSON", false},
		{"other type", `{"id":"x","detail-type":"EC2 Instance State-change Notification","detail":{}}`, `event "x": detail-type`, true},
		{"no detail", `{"id":"x","detail-type":"Batch Job State Change"}`, "no detail", true},
		{"no job id", `{"id":"x","detail-type":"Batch Job State Change","detail":{"status":"RUNNING"}}`, "no jobId", true},
		{"no id", `{"detail-type":"Batch Job State Change","detail":{"jobId":"j"}}`, "job j: event has no id", false},
		{"bad time", `{"id":"x","time":"yesterday","detail-type":"Batch Job State Change","detail":{"jobId":"j"}}`, `time "yesterday"`, false},
		{"sns of garbage", `{"Type":"Notification","MessageId":"m9","Message":"oops"}`, "SNS message m9", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want containing %q", err, c.want)
			}
			if errors.Is(err, ErrNotBatchEvent) != c.notBatch {
				t.Fatalf("errors.Is(ErrNotBatchEvent) = %v", !c.notBatch)
			}
		})
	}
}

func TestParseLenientTypes(t *testing.T) {
	// A field of an unexpected type is skipped, the rest is kept.
	ev := mustParse(t, `{"id":"x","detail-type":"Batch Job State Change","time":"2026-01-01T00:00:00Z","detail":{"jobId":"j","status":"FAILED","createdAt":"soon","attempts":{"weird":true},"jobQueue":"q","newField":{"a":[1,2]}}}`)
	if ev.Job.ID != "j" || ev.Job.Queue != "q" || ev.Job.CreatedAtMs != 0 || len(ev.Job.Attempts) != 0 {
		t.Fatalf("unexpected %+v", ev.Job)
	}
}

func TestClassify(t *testing.T) {
	ec := func(v int) *int { return &v }
	cases := []struct {
		status          Status
		reason, cReason string
		exit            *int
		ran             bool
		want            FailureClass
	}{
		{StatusSucceeded, "Essential container in task exited", "", ec(0), true, FailureNone},
		{StatusFailed, "Essential container in task exited", "", ec(1), true, FailureAppError},
		{StatusFailed, "Essential container in task exited", "OutOfMemoryError: Container killed due to memory usage", ec(137), true, FailureOOM},
		{StatusFailed, "Host EC2 (instance i-0123456789abcdef0) terminated.", "", nil, true, FailureSpotReclaimed},
		{StatusFailed, "", "CannotPullContainerError: pull image manifest has been retried 5 time(s)", nil, true, FailureImagePull},
		{StatusFailed, "", "ResourceInitializationError: unable to pull secrets", nil, true, FailureResourceInit},
		{StatusFailed, "Job attempt duration exceeded timeout", "", nil, true, FailureTimeout},
		{StatusFailed, "Dependent Job failed", "", nil, false, FailureDependency},
		{StatusFailed, "Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "", nil, false, FailureStateTimeLimit},
		{StatusFailed, "Terminated by user", "", ec(143), true, FailureTerminated},
		{StatusFailed, "superseded by build 42", "", nil, false, FailureCancelled},
		{StatusFailed, "superseded by build 42", "", nil, true, FailureTerminated},
		{StatusFailed, "", "", nil, true, FailureOther},
	}
	for _, c := range cases {
		if got := Classify(c.status, c.reason, c.cReason, c.exit, c.ran); got != c.want {
			t.Errorf("Classify(%s, %q, %q) = %q, want %q", c.status, c.reason, c.cReason, got, c.want)
		}
	}
}

func TestVersionOrdersLatestState(t *testing.T) {
	// Observations of one job with a retry, in lifecycle order.
	seq := []uint64{
		Version(0, StatusRunnable, 1000),
		Version(0, StatusStarting, 2000),
		Version(0, StatusRunning, 3000),
		Version(1, StatusRunnable, 4000), // first attempt failed, retrying
		Version(1, StatusStarting, 5000),
		Version(1, StatusRunning, 6000),
		Version(2, StatusSucceeded, 7000),
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] <= seq[i-1] {
			t.Fatalf("version %d (%x) not above %d (%x)", i, seq[i], i-1, seq[i-1])
		}
	}
	// A late RUNNING event with a later timestamp never beats SUCCEEDED.
	if Version(0, StatusRunning, 9000) > Version(1, StatusSucceeded, 5000) {
		t.Fatal("late RUNNING beat SUCCEEDED")
	}
}

func TestKubernetesQuantities(t *testing.T) {
	cpu := map[string]float64{"2": 2, "500m": 0.5, "0.25": 0.25}
	for in, want := range cpu {
		if got, ok := cpuQuantity(in); !ok || got != want {
			t.Errorf("cpu %q = %v %v", in, got, ok)
		}
	}
	mem := map[string]float64{"1024Mi": 1024, "2Gi": 2048, "1048576": 1, "1M": 1e6 / (1 << 20)}
	for in, want := range mem {
		if got, ok := memoryQuantityMiB(in); !ok || got != want {
			t.Errorf("mem %q = %v %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "x", "-1", "NaN", "1e400"} {
		if _, ok := cpuQuantity(bad); ok {
			t.Errorf("cpu %q accepted", bad)
		}
	}
}

func TestSplitDefinition(t *testing.T) {
	cases := map[string]struct {
		name string
		rev  int
	}{
		"arn:aws:batch:us-east-1:123456789012:job-definition/first-run-job-definition:1": {"first-run-job-definition", 1},
		"my-def:7":      {"my-def", 7},
		"my-def":        {"my-def", 0},
		"arn:aws:batch": {"arn:aws:batch", 0},
	}
	for in, want := range cases {
		n, r := splitDefinition(in)
		if n != want.name || r != want.rev {
			t.Errorf("splitDefinition(%q) = %q %d", in, n, r)
		}
	}
}

// Cancellations and terminations by a person or a program, and failures
// that only follow another job's, do not page; everything else does.
func TestFailureClassActionable(t *testing.T) {
	quiet := map[FailureClass]bool{FailureCancelled: true, FailureTerminated: true, FailureDependency: true}
	for _, c := range FailureClasses {
		if got := c.Actionable(); got == quiet[c] {
			t.Errorf("%s.Actionable() = %v", c, got)
		}
	}
	if FailureNone.Actionable() {
		t.Error("FailureNone must not be actionable")
	}
}

// TestLogConfiguration: the CloudWatch Logs group and region a job's
// streams are in, from each place and shape the log configuration comes in,
// read alike by the fast parser and the encoding/json reference.
func TestLogConfiguration(t *testing.T) {
	const env = `{"id":"e","detail-type":"Batch Job State Change","region":"eu-west-1","detail":{"jobId":"j",`
	cases := []struct {
		name, detail          string
		driver, group, region string
	}{
		{"no configuration", `"container":{"image":"i"}}}`, "", DefaultLogGroup, "eu-west-1"},
		{"no container", `"status":"SUBMITTED"}}`, "", DefaultLogGroup, "eu-west-1"},
		{"awslogs group and region", `"container":{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/team/a","awslogs-region":"us-east-2","awslogs-stream-prefix":"p"}}}}}`, "awslogs", "/team/a", "us-east-2"},
		{"awslogs without group", `"container":{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-stream-prefix":"p"}}}}}`, "awslogs", DefaultLogGroup, "eu-west-1"},
		{"awslogs without options", `"container":{"logConfiguration":{"logDriver":"awslogs"}}}}`, "awslogs", DefaultLogGroup, "eu-west-1"},
		{"other driver", `"container":{"logConfiguration":{"logDriver":"splunk","options":{"awslogs-group":"/ignored"}}}}}`, "splunk", "", ""},
		{"fargate", `"platformCapabilities":["FARGATE"],"container":{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/f"}}}}}`, "awslogs", "/ecs/f", "eu-west-1"},
		{"ecsProperties second container", `"ecsProperties":{"taskProperties":[{"containers":[{"name":"a"},{"name":"b","logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/multi"}}}]}]}}}`, "awslogs", "/multi", "eu-west-1"},
		{"container wins over ecsProperties", `"container":{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/c"}}},"ecsProperties":{"taskProperties":[{"containers":[{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/e"}}}]}]}}}`, "awslogs", "/c", "eu-west-1"},
		{"eks", `"eksProperties":{"podProperties":{"containers":[{"name":"c"}]}}}}`, "", "", ""},
		{"mistyped", `"container":{"logConfiguration":{"logDriver":5,"options":[]}}}}`, "", DefaultLogGroup, "eu-west-1"},
		{"escaped group", `"container":{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"\/a\/b"}}}}}`, "awslogs", "/a/b", "eu-west-1"},
	}
	for _, c := range cases {
		body := env + c.detail
		ref, err := referenceParse([]byte(body))
		if err != nil {
			t.Fatalf("%s: reference: %v", c.name, err)
		}
		for reader, ev := range map[string]*Event{"fast": mustParse(t, body), "reference": ref} {
			j := &ev.Job
			if j.Log.Driver != c.driver || j.LogGroup() != c.group || j.LogRegion(ev.Region) != c.region {
				t.Errorf("%s (%s): driver %q group %q region %q, want %q %q %q", c.name, reader,
					j.Log.Driver, j.LogGroup(), j.LogRegion(ev.Region), c.driver, c.group, c.region)
			}
		}
	}
}
