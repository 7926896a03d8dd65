package batch

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseUsageEvent(t *testing.T) {
	body, err := os.ReadFile("testdata/usage_event.json")
	if err != nil {
		t.Fatal(err)
	}
	note, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m-1", "Message": string(body)})
	for name, b := range map[string][]byte{"bare": body, "sns": note} {
		t.Run(name, func(t *testing.T) {
			ev, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			want := Usage{
				JobAttempt: 2, ArrayIndex: 12, JobQueue: "zd-high", ComputeEnvironment: "zd-spot", Source: "cgroup-v2",
				StartedAtMs: 1796649827481, StoppedAtMs: 1796650427481, WallSeconds: 600, CPUSeconds: 420.5,
				CPUMeanVCPUs: 0.7008, CPUP95VCPUs: 1.9, CPUMaxVCPUs: 2, CPUThrottledSeconds: 12.25, CPULimitVCPUs: 2,
				MemoryPeakBytes: 3 << 30, MemoryLimitBytes: 8 << 30, ExitCode: 0, Samples: 121,
				GPUCount: 1, GPUMemoryPeakBytes: 15835594752, GPUUtilMeanPercent: 71.5, GPUUtilP95Percent: 95,
			}
			if ev.Usage == nil || *ev.Usage != want {
				t.Fatalf("usage %+v\nwant  %+v", ev.Usage, want)
			}
			if ev.Usage.AttemptIndex() != 1 || ev.Job.ID != "4c1bd8f2-61c5-4b3b-9d1b-2a0f7c9e5a10:12" || ev.Job.Queue != "zd-high" ||
				ev.Job.Status != "" || len(ev.Job.Attempts) != 0 || ev.DetailType != DetailTypeAttemptUsage {
				t.Errorf("event %+v", ev)
			}
			ref, err := referenceParse(b)
			if err != nil {
				t.Fatal(err)
			}
			rj, _ := json.Marshal(ref.Summary())
			gj, _ := json.Marshal(ev.Summary())
			if string(rj) != string(gj) || !strings.Contains(string(gj), `"usage":{"job_attempt":2,`) {
				t.Errorf("summary %s\nreference %s", gj, rj)
			}
		})
	}
}

func TestParseUsageEventRefused(t *testing.T) {
	body, err := os.ReadFile("testdata/usage_event.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		// Only batchwatch-run's source may say it: a state change's
		// detail-type under it, or the usage detail-type under another, is
		// not a usage event.
		"other source":    {`"source": "batchwatch.usage"`, `"source": "batchwatch.test"`},
		"negative times":  {`"stoppedAt": 1796650427481`, `"stoppedAt": 1`},
		"negative cpu":    {`"cpuSeconds": 420.5`, `"cpuSeconds": -1`},
		"detail a string": {`"detail": {`, `"detail": "x", "d": {`},
	} {
		b := strings.Replace(string(body), edit[0], edit[1], 1)
		if b == string(body) {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := Parse([]byte(b)); !errors.Is(err, ErrNotBatchEvent) {
			t.Errorf("%s: err %v, want ErrNotBatchEvent", name, err)
		}
	}
	// A state change from the usage source keeps being a state change to
	// nobody: the rule never routes it, and it has no usage.
	b := strings.Replace(string(body), `"detail-type": "Batch Job Attempt Usage"`, `"detail-type": "Batch Job State Change"`, 1)
	if ev, err := Parse([]byte(b)); err == nil && ev.Usage != nil {
		t.Errorf("state change read as usage: %+v", ev.Usage)
	}
	// Absent array index: not an array child.
	b = strings.Replace(string(body), `"arrayIndex": 12,`, ``, 1)
	if ev, err := Parse([]byte(b)); err != nil || ev.Usage.ArrayIndex != -1 {
		t.Errorf("no arrayIndex: %v %+v", err, ev)
	}
}
