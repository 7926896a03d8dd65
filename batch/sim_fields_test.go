package batch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/sim"
)

// TestParsesSimulatedFields (an external test package: sim imports
// awsclient, which imports batch) parses every event of the simulator's
// published-fields scenario (log configuration, roles, a legacy
// definition, Fargate, a fair-share queue): no event fails, the fastjson
// parser agrees with the encoding/json reading, and the fields those
// features carry arrive in the job.
func TestParsesSimulatedFields(t *testing.T) {
	sc, err := sim.LoadScenario("published-fields")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := sim.Events(ctx, sc, 3, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	p := batch.NewParser()
	lines := bufio.NewScanner(bytes.NewReader(out))
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		body := lines.Bytes()
		ev, err := p.Parse(body)
		if err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		ref, err := batch.ReferenceParse(body)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(ev.Summary())
		rj, _ := json.Marshal(ref.Summary())
		if !bytes.Equal(gj, rj) {
			t.Fatalf("fastjson and reference differ:\n%s\n%s", gj, rj)
		}
		checkSimulatedJob(t, &ev.Job, seen)
	}
	for _, want := range []string{"legacy", "fargate", "fair-share", "log prefix"} {
		if !seen[want] {
			t.Errorf("no %s job among the events", want)
		}
	}
}

func checkSimulatedJob(t *testing.T, j *batch.Job, seen map[string]bool) {
	t.Helper()
	switch {
	case strings.HasPrefix(j.Queue, "pf-legacy"):
		if j.VCPUs == nil || *j.VCPUs != 2 || j.MemoryMiB == nil || *j.MemoryMiB != 1024 {
			t.Fatalf("legacy job %s: vcpus %v memory %v", j.ID, j.VCPUs, j.MemoryMiB)
		}
		seen["legacy"] = true
	case j.Queue == "pf-fargate":
		if j.Platform != batch.PlatformFargate {
			t.Fatalf("Fargate job %s: platform %s", j.ID, j.Platform)
		}
		seen["fargate"] = true
	case j.Queue == "pf-shared":
		if !strings.HasPrefix(j.ShareIdentifier, "team-") || j.SchedulingPriority == nil {
			t.Fatalf("fair-share job %s: share %q priority %v", j.ID, j.ShareIdentifier, j.SchedulingPriority)
		}
		seen["fair-share"] = true
	}
	if j.LogStream != "" && j.Queue == "pf-shared" {
		if !strings.HasPrefix(j.LogStream, "model-build/default/") {
			t.Fatalf("log stream %q does not carry the awslogs-stream-prefix", j.LogStream)
		}
		seen["log prefix"] = true
	}
}
