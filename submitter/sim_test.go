package submitter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
)

func zendeskPlan(t testing.TB, edit func(string) string) *Plan {
	t.Helper()
	data, err := os.ReadFile("testdata/zendesk-day/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	p, err := ParsePlan("plan.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func noFanIn(s string) string { return s[:strings.Index(s, "fan_in:")] }

func assign(t testing.TB, p *Plan, items []Item) ([]Assignment, []string) {
	t.Helper()
	as, bad := Assign(p, "items.jsonl", items)
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	keys := make([]string, len(as))
	for i, a := range as {
		keys[i] = a.Item.Key
	}
	return as, keys
}

// TestArrayModeZendesk: the zendesk-day distribution lands on the tiers and
// queues the plan says, in at most 10 SubmitJob calls for 50,000 items,
// and every child finds its own item in its manifest.
func TestArrayModeZendesk(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 5000
	}
	e := newSimEnv(t, simConfig{})
	p := zendeskPlan(t, nil)
	as, keys := assign(t, p, zendeskItems(n))
	j := NewMemoryJournal()
	o := e.options(t, p, "zd-array", ModeArray, j)
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Submit(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	// The arrays plus the fan-in job.
	if arrays := e.faults.submits.Load() - 1; arrays > 10 || sum.SubmitJobCalls != arrays+1 {
		t.Errorf("%d SubmitJob calls for the arrays (summary %d), want at most 10", arrays, sum.SubmitJobCalls)
	}
	if sum.Submitted != int64(n) || sum.Failed+sum.Rejected+sum.Pending != 0 || !strings.HasPrefix(sum.FanIn, "submitted ") {
		t.Errorf("summary %+v", sum)
	}
	checkExactlyOnce(t, e, p, "zd-array", j, keys)

	recs, _ := j.Load(context.Background(), "zd-array")
	byID := map[string]int{}
	for i, tj := range e.sim.Truth() {
		byID[tj.JobID] = i
	}
	truth := e.sim.Truth()
	got := map[[2]string]int{}
	manifests := map[string][]byte{}
	for _, rec := range latest(recs) {
		if rec.Kind != KindItem {
			continue
		}
		child := truth[byID[rec.JobID]]
		parent := truth[byID[rec.ArrayJobID]]
		tier := parent.Tags[TagTier]
		got[[2]string{tier, child.JobQueue}]++
		if tier != rec.Tier || child.MemoryMiB != p.Tiers[p.TierIndex(tier)].MemoryMiB {
			t.Fatalf("item %s: tier %s, job %s tagged %s with %d MiB", rec.ItemKey, rec.Tier, child.JobID, tier, child.MemoryMiB)
		}
		m, ok := manifests[rec.Manifest]
		if !ok {
			path := strings.TrimPrefix(rec.Manifest, "file://")
			if m, err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
			manifests[rec.Manifest] = m
			if parent.Parameters[ParamManifest] != rec.Manifest {
				t.Errorf("array %s does not carry its manifest: %v", parent.JobID, parent.Parameters)
			}
		}
		if rec.ArrayIndex%97 == 0 { // a sample: reading a line is linear
			entry, err := ReadManifestEntry(strings.NewReader(string(m)), rec.ArrayIndex)
			if err != nil || entry.Key != rec.ItemKey || entry.Tier != rec.Tier {
				t.Errorf("manifest line %d of %s: %+v %v, want item %s", rec.ArrayIndex, rec.Manifest, entry, err, rec.ItemKey)
			}
		}
	}
	for k, want := range zendeskCounts(n) {
		if got[k] != want {
			t.Errorf("tier %s queue %s: %d jobs, want %d", k[0], k[1], got[k], want)
		}
	}
	t.Logf("%d items: %d arrays; %s", n, e.faults.submits.Load()-1, sumLine(sum))
}

func sumLine(s Summary) string {
	return fmt.Sprintf("%d requests in %.2fs (%.1f/s), %d throttled", s.Requests, s.SubmitSeconds, s.RequestsPerSecond, s.Throttles)
}

// TestDescribeJobsShowsPlan: jobs carry the tags, overrides and retry
// strategy of the plan, as DescribeJobs reports them.
func TestDescribeJobsShowsPlan(t *testing.T) {
	e := newSimEnv(t, simConfig{})
	p := zendeskPlan(t, noFanIn)
	items := []Item{
		{Key: "acct-1", Size: 50, Params: map[string]string{"accountId": "1"}, Line: 1},
		{Key: "acct-2", Size: 60, Params: map[string]string{"accountId": "2"}, Line: 2},
		{Key: "acct-3", Size: 500000, Priority: "high", Params: map[string]string{"accountId": "3"}, Line: 3},
	}
	as, _ := assign(t, p, items)
	j := NewMemoryJournal()
	r, _ := New(e.options(t, p, "describe", ModeArray, j))
	if _, err := r.Submit(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	small, _ := r.record(KindItem, "acct-1")
	large, _ := r.record(KindItem, "acct-3")
	out, err := e.batch.DescribeJobs(context.Background(), &awsbatch.DescribeJobsInput{Jobs: []string{small.ArrayJobID, small.JobID, large.JobID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Jobs) != 3 {
		t.Fatalf("%d jobs described", len(out.Jobs))
	}
	for i, d := range out.Jobs {
		tier, queue := "small", "zd-low"
		if i == 2 {
			tier, queue = "large", "zd-high"
		}
		pt := p.Tiers[p.TierIndex(tier)]
		want := map[string]string{"team": "ml-platform", "cost-center": "4711", "product": "model-builds", "tier": tier, "run_id": "describe"}
		for k, v := range want {
			if d.Tags[k] != v {
				t.Errorf("%s: tag %s = %q, want %q (%v)", aws.ToString(d.JobId), k, d.Tags[k], v, d.Tags)
			}
		}
		if !aws.ToBool(d.PropagateTags) || !strings.HasSuffix(aws.ToString(d.JobQueue), "/"+queue) ||
			!strings.Contains(aws.ToString(d.JobDefinition), "/"+pt.JobDefinition+":") {
			t.Errorf("%s: propagate %v queue %s definition %s", aws.ToString(d.JobId), aws.ToBool(d.PropagateTags), aws.ToString(d.JobQueue), aws.ToString(d.JobDefinition))
		}
		rs := d.RetryStrategy
		if rs == nil || aws.ToInt32(rs.Attempts) != 3 || len(rs.EvaluateOnExit) != 3 ||
			aws.ToString(rs.EvaluateOnExit[0].OnStatusReason) != "Host EC2*" || string(rs.EvaluateOnExit[0].Action) != "RETRY" ||
			aws.ToString(rs.EvaluateOnExit[2].OnReason) != "*" || string(rs.EvaluateOnExit[2].Action) != "EXIT" {
			t.Errorf("%s: retry strategy %+v", aws.ToString(d.JobId), rs)
		}
		if d.Timeout == nil || time.Duration(aws.ToInt32(d.Timeout.AttemptDurationSeconds))*time.Second != pt.Timeout {
			t.Errorf("%s: timeout %+v, want %s", aws.ToString(d.JobId), d.Timeout, pt.Timeout)
		}
		if d.Container == nil || reqs(d.Container.ResourceRequirements) != fmt.Sprintf("VCPU=%g MEMORY=%d", pt.VCPUs, pt.MemoryMiB) {
			t.Errorf("%s: resources %+v", aws.ToString(d.JobId), d.Container)
		}
	}
	if out.Jobs[0].ArrayProperties == nil || aws.ToInt32(out.Jobs[0].ArrayProperties.Size) != 2 {
		t.Errorf("array properties %+v", out.Jobs[0].ArrayProperties)
	}
	if got := out.Jobs[2].Parameters; got["accountId"] != "3" || got["records"] != "500000" {
		t.Errorf("single job parameters %v", got)
	}
}

// TestSingleModeThrottled: asking for twice the account's budget, the
// simulator throttles; no item is lost and no 429 surfaces as a failure.
func TestSingleModeThrottled(t *testing.T) {
	e := newSimEnv(t, simConfig{rate: 100})
	p := zendeskPlan(t, noFanIn)
	as, keys := assign(t, p, zendeskItems(200))
	j := NewMemoryJournal()
	o := e.options(t, p, "throttled", ModeSingle, j)
	o.Concurrency = 16
	r, _ := New(o)
	sum, err := r.Submit(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Submitted != 200 || sum.Failed+sum.Rejected+sum.Pending != 0 || len(sum.Errors) > 0 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Throttles == 0 {
		t.Error("the simulator never throttled: the test does not test throttling")
	}
	if e.limiter.Backoffs() == 0 {
		t.Error("the limiter never backed off")
	}
	checkExactlyOnce(t, e, p, "throttled", j, keys)
	t.Logf("%s", sumLine(sum))
}

// TestLostAnswers: Batch creates the job but the answer is lost; the
// submitter finds the job by name instead of submitting it twice.
func TestLostAnswers(t *testing.T) {
	for _, mode := range []Mode{ModeSingle, ModeArray} {
		t.Run(string(mode), func(t *testing.T) {
			e := newSimEnv(t, simConfig{apiRate: -1})
			e.faults.setLose(func(n int64) bool { return n%7 == 1 })
			p := zendeskPlan(t, noFanIn)
			as, keys := assign(t, p, zendeskItems(60))
			j := NewMemoryJournal()
			o := e.options(t, p, "lost-"+string(mode), mode, j)
			o.ArraySize = 10
			r, _ := New(o)
			sum, err := r.Submit(context.Background(), as)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Submitted != 60 || sum.Failed+sum.Rejected != 0 || sum.ListJobsCalls == 0 {
				t.Errorf("summary %+v", sum)
			}
			checkExactlyOnce(t, e, p, "lost-"+string(mode), j, keys)
		})
	}
}

// TestKillAndRerun: the run dies at a random SubmitJob, right after Batch
// created the job and before the answer arrives (nothing more is
// journaled); a re-run with the same run id submits every item exactly
// once.
func TestKillAndRerun(t *testing.T) {
	for _, c := range []struct {
		mode  Mode
		items int
		size  int
	}{{ModeSingle, 120, 0}, {ModeArray, 400, 50}} {
		t.Run(string(c.mode), func(t *testing.T) {
			killAt := randomKillPoint(t, c.mode, c.items, c.size, 7)

			e := newSimEnv(t, simConfig{apiRate: -1})
			p := zendeskPlan(t, nil)
			if c.mode == ModeSingle {
				p = zendeskPlan(t, noFanIn)
			}
			as, keys := assign(t, p, zendeskItems(c.items))
			j := NewMemoryJournal()
			ctx, kill := context.WithCancel(context.Background())
			var once sync.Once
			e.faults.setLose(func(n int64) bool {
				if n != killAt {
					return false
				}
				once.Do(kill)
				return true
			})
			runID := "kill-" + string(c.mode)
			o := e.options(t, p, runID, c.mode, j)
			o.ArraySize = c.size
			o.IntentBatch = 25
			r1, _ := New(o)
			sum1, err := r1.Submit(ctx, as)
			if err == nil {
				t.Fatalf("the killed run reported success: %+v", sum1)
			}
			if sum1.Pending == 0 {
				t.Errorf("the kill left no pending row: %+v", sum1)
			}
			e.faults.setLose(nil)
			e.faults.settle()

			r2, _ := New(o)
			sum2, err := r2.Submit(context.Background(), as)
			if err != nil {
				t.Fatal(err)
			}
			if sum2.Failed+sum2.Rejected+sum2.Pending != 0 || sum2.Recovered == 0 ||
				sum2.Submitted+sum2.Recovered+sum2.Skipped != int64(len(as)) {
				t.Errorf("re-run summary %+v", sum2)
			}
			checkExactlyOnce(t, e, p, runID, j, keys)
			t.Logf("first run: %d submitted, %d pending; re-run: %d skipped, %d recovered, %d submitted, %d ListJobs",
				sum1.Submitted, sum1.Pending, sum2.Skipped, sum2.Recovered, sum2.Submitted, sum2.ListJobsCalls)

			// A third run finds everything done.
			r3, _ := New(o)
			sum3, err := r3.Submit(context.Background(), as)
			if err != nil || sum3.Skipped != int64(len(as)) || sum3.SubmitJobCalls != 0 || sum3.ListJobsCalls != 0 {
				t.Errorf("third run %+v %v", sum3, err)
			}
		})
	}
}

// TestRerunRetriesFailed: items Batch rejected are submitted by the
// re-run; items already submitted are skipped.
func TestRerunRetriesFailed(t *testing.T) {
	e := newSimEnv(t, simConfig{apiRate: -1})
	bad := zendeskPlan(t, func(s string) string {
		return strings.Replace(noFanIn(s), "job_definition: model-build-large", "job_definition: no-such-definition", 1)
	})
	good := zendeskPlan(t, noFanIn)
	as, keys := assign(t, bad, zendeskItems(100))
	large := 0
	for _, a := range as {
		if bad.Tiers[a.Tier].Name == "large" {
			large++
		}
	}
	j := NewMemoryJournal()
	o := e.options(t, bad, "retry-failed", ModeSingle, j)
	r1, _ := New(o)
	sum1, err := r1.Submit(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	if large == 0 || sum1.Rejected != int64(large) || sum1.Submitted != int64(len(as)-large) || len(sum1.Errors) == 0 {
		t.Fatalf("first run %+v (large %d)", sum1, large)
	}
	o.Plan = good
	r2, _ := New(o)
	sum2, err := r2.Submit(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Submitted != int64(large) || sum2.Skipped != int64(len(as)-large) || sum2.ListJobsCalls != 0 {
		t.Errorf("re-run %+v", sum2)
	}
	checkExactlyOnce(t, e, good, "retry-failed", j, keys)
}

func escalationPlan(t testing.TB) *Plan {
	t.Helper()
	data, err := os.ReadFile("testdata/escalation-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan("escalation-plan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEscalation: items that run out of memory in small succeed in medium;
// an item too big for every tier stops at the largest; the journal keeps
// every attempt; the deferred fan-in waits for the watch.
func TestEscalation(t *testing.T) {
	e := newSimEnv(t, simConfig{scenario: "testdata/sim-escalation.yaml", run: true, apiRate: -1})
	p := escalationPlan(t)
	// Real memory need = records MiB: small has 2048, medium 8192, large 16384.
	items := []Item{
		{Key: "fits-small", Size: 1500, Line: 1},
		{Key: "oom-small-1", Size: 3000, Line: 2},
		{Key: "oom-small-2", Size: 7000, Line: 3},
		{Key: "fits-medium", Size: 8000, Line: 4, Tier: "medium"},
	}
	for _, tc := range []struct {
		name      string
		items     []Item
		mode      Mode
		wantFanIn bool
	}{
		{"small-to-medium", items, ModeSingle, true},
		// Needs 20,000 MiB: out of memory in small, medium and large.
		{"beyond-largest", append(items[:1:1], Item{Key: "too-big", Size: 20000, Tier: "small", Line: 9}), ModeSingle, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, keys := assign(t, p, tc.items)
			j := NewMemoryJournal()
			runID := "escalate-" + tc.name
			o := e.options(t, p, runID, tc.mode, j)
			o.DeferFanIn = true
			r, _ := New(o)
			if _, err := r.Submit(context.Background(), as); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err := r.Watch(ctx, WatchOptions{Queue: e.sqs, QueueURL: e.queueURL(t, "submitter-events"), Escalate: true, WaitSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			sum := r.Summary()
			if sum.Submitted != int64(len(as)) {
				t.Errorf("submitted %d items, want %d (escalations are counted apart)", sum.Submitted, len(as))
			}
			w := sum.Watch
			if w == nil || w.Running() != 0 {
				t.Fatalf("watch did not finish: %+v", sum)
			}
			recs, _ := j.Load(context.Background(), runID)
			states := map[string][]string{}
			for _, rec := range recs {
				if rec.Kind == KindItem {
					states[rec.ItemKey] = append(states[rec.ItemKey], fmt.Sprintf("%d:%s:%s", rec.Attempt, rec.Tier, rec.State))
				}
			}
			truth := e.sim.Truth()
			status := map[string]string{}
			for _, tj := range truth {
				status[tj.JobID] = tj.Status + " " + tj.StatusReason
			}
			last := latest(recs)
			switch tc.name {
			case "small-to-medium":
				want := map[string]string{
					"fits-small": "0:small:submitted", "fits-medium": "0:medium:submitted",
					"oom-small-1": "0:small:escalated 1:medium:submitted", "oom-small-2": "0:small:escalated 1:medium:submitted",
				}
				for _, k := range keys {
					if got := strings.Join(states[k], " "); got != want[k] {
						t.Errorf("%s: journal %s, want %s", k, got, want[k])
					}
					if st := status[last[recKey(KindItem, k)].JobID]; !strings.HasPrefix(st, "SUCCEEDED") {
						t.Errorf("%s: last job %s", k, st)
					}
				}
				if w.Succeeded != 4 || w.Escalated != 2 || w.Failed != 0 || sum.Escalated != 2 {
					t.Errorf("watch %+v", w)
				}
			case "beyond-largest":
				if got := strings.Join(states["too-big"], " "); got != "0:small:escalated 1:medium:escalated 2:large:submitted" {
					t.Errorf("too-big: journal %s", got)
				}
				if st := status[last[recKey(KindItem, "too-big")].JobID]; !strings.Contains(st, "OutOfMemoryError") {
					t.Errorf("too-big: last job %s", st)
				}
				if w.Failed != 1 || w.FailedBy["oom"] != 1 || w.Succeeded != 1 {
					t.Errorf("watch %+v", w)
				}
			}
			fan, ok := r.record(KindFanIn, "report")
			if tc.wantFanIn != (ok && fan.State == StateSubmitted) {
				t.Errorf("fan-in %+v, summary %q", fan, sum.FanIn)
			}
			// Items must be submitted exactly once per attempt.
			names := map[string]int{}
			for _, tj := range truth {
				names[tj.JobName]++
			}
			for _, rec := range recs {
				if rec.Kind == KindItem && names[rec.JobName] != 1 {
					t.Errorf("%s attempt %d: %d jobs named %s", rec.ItemKey, rec.Attempt, names[rec.JobName], rec.JobName)
				}
			}
		})
	}
}

// randomKillPoint picks the SubmitJob call (1-based, never the first) at
// which a kill test interrupts a run of items, logging the seed to replay it.
func randomKillPoint(t *testing.T, mode Mode, items, size int, stream uint64) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), stream))
	calls := items
	if mode == ModeArray {
		calls = items / size
	}
	killAt := int64(1 + rng.IntN(calls-1))
	t.Logf("seed %d: killed at SubmitJob %d", seed, killAt)
	return killAt
}
