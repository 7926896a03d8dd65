package submitter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
)

func TestZendeskTiersAndQueues(t *testing.T) {
	data, err := os.ReadFile("testdata/zendesk-day/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan("plan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	items := zendeskItems(50000)
	as, bad := Assign(p, "items.jsonl", items)
	if len(bad) > 0 || len(as) != 50000 {
		t.Fatalf("%d assigned, errors %v", len(as), bad)
	}
	got := map[[2]string]int{}
	for _, a := range as {
		got[[2]string{p.Tiers[a.Tier].Name, a.Queue}]++
	}
	want := map[[2]string]int{
		{"small", "zd-low"}: 35000, {"small", "zd-medium"}: 3000,
		{"medium", "zd-low"}: 9000, {"medium", "zd-high"}: 1000, {"large", "zd-low"}: 2000,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tiers and queues: %v\nwant %v", got, want)
	}
	// Array mode: one array per 10,000 items of a tier and queue.
	calls := 0
	for _, g := range GroupItems(as, 0) {
		for _, c := range Chunks(g.Items, MaxArraySize) {
			if len(c) > MaxArraySize {
				t.Errorf("array of %d", len(c))
			}
			calls++
		}
	}
	if calls > 10 {
		t.Errorf("%d SubmitJob calls in array mode, want at most 10", calls)
	}
	d := PlanDryRun(p, as, ModeArray, 0)
	if d.Total.Calls != calls || d.Total.Items != 50000 {
		t.Errorf("dry run total %+v, want %d calls", d.Total, calls)
	}
}

func TestChunks(t *testing.T) {
	mk := func(n int) []Assignment {
		out := make([]Assignment, n)
		for i := range out {
			out[i].Item.Key = strings.Repeat("k", 1) + string(rune('a'+i%26))
		}
		return out
	}
	for _, c := range []struct {
		n, size int
		want    []int
	}{
		{0, 10, nil}, {1, 10, []int{1}}, {10, 10, []int{10}}, {11, 10, []int{6, 5}},
		{25000, 10000, []int{8334, 8333, 8333}}, {35000, 10000, []int{8750, 8750, 8750, 8750}},
		{5, 0, []int{5}}, {20001, 20000, []int{6667, 6667, 6667}},
	} {
		var got []int
		total := 0
		for _, ch := range Chunks(mk(c.n), c.size) {
			got = append(got, len(ch))
			total += len(ch)
		}
		if !reflect.DeepEqual(got, c.want) || total != c.n {
			t.Errorf("Chunks(%d, %d) = %v, want %v", c.n, c.size, got, c.want)
		}
	}
}

func TestGroupItemsKeepsOrder(t *testing.T) {
	as := []Assignment{
		{Item: Item{Key: "a"}, Tier: 0, Queue: "q1"}, {Item: Item{Key: "b"}, Tier: 1, Queue: "q1"},
		{Item: Item{Key: "c"}, Tier: 0, Queue: "q1"}, {Item: Item{Key: "d"}, Tier: 0, Queue: "q2"},
	}
	var got []string
	for _, g := range GroupItems(as, 2) {
		keys := ""
		for _, a := range g.Items {
			keys += a.Item.Key
		}
		got = append(got, g.Key.Queue+":"+keys)
		if g.Key.Attempt != 2 {
			t.Errorf("attempt %d", g.Key.Attempt)
		}
	}
	if !reflect.DeepEqual(got, []string{"q1:ac", "q1:b", "q2:d"}) {
		t.Errorf("groups %v", got)
	}
}

func TestJobNames(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	long := strings.Repeat("x/ä", 100)
	names := []string{
		ItemJobName("model-builds", "run-1", "small", "acct-42", 0),
		ItemJobName("model-builds", "run-1", "small", "acct-42", 1),
		ItemJobName("model-builds", "run-1", "small", "acct-43", 0),
		ItemJobName("model-builds", "run-2", "small", "acct-42", 0),
		ItemJobName(long, "run-1", long, long, 0),
		ItemJobName("--", "run-1", "small", "///", 0),
		ArrayJobName("model-builds", "run-1", "small", 0, "acct-42", 10000),
		AuxJobName("model-builds", "run-1", KindFanIn, "nightly-report", "nightly-report"),
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !valid.MatchString(n) {
			t.Errorf("invalid job name %q", n)
		}
		if seen[n] {
			t.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
	if names[0] != ItemJobName("model-builds", "run-1", "small", "acct-42", 0) {
		t.Error("names are not deterministic")
	}
	prefix := RunNamePrefix("model-builds", "run-1")
	for _, n := range []string{names[0], names[1], names[2], names[6], names[7]} {
		if !strings.HasPrefix(n, prefix) {
			t.Errorf("%q does not start with the run prefix %q", n, prefix)
		}
	}
	if strings.HasPrefix(names[3], prefix) {
		t.Error("another run shares the prefix")
	}
	for _, id := range []string{"", "-x", "a/b", strings.Repeat("a", 65)} {
		if ValidRunID(id) == nil {
			t.Errorf("run id %q accepted", id)
		}
	}
	if err := ValidRunID("2026-11-22_nightly.1"); err != nil {
		t.Error(err)
	}
}

func TestManifest(t *testing.T) {
	entries := []ManifestEntry{
		{Index: 0, Key: "a", Size: 1, Tier: "small", Priority: "low", Params: map[string]string{"x": "<&>"}},
		{Index: 1, Key: "b", Size: 2.5, Tier: "small", Priority: "low"},
	}
	data := EncodeManifest(entries)
	if !bytes.Contains(data, []byte(`"x":"<&>"`)) || bytes.Count(data, []byte("\n")) != 2 {
		t.Errorf("manifest:\n%s", data)
	}
	for i, want := range entries {
		got, err := ReadManifestEntry(bytes.NewReader(data), i)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("entry %d = %+v, %v", i, got, err)
		}
	}
	if _, err := ReadManifestEntry(bytes.NewReader(data), 2); err == nil {
		t.Error("index past the end accepted")
	}

	dir := t.TempDir()
	m, err := OpenManifests("file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	url, err := m.Put(context.Background(), "run-1/job.jsonl", data)
	if err != nil {
		t.Fatal(err)
	}
	if url != "file://"+filepath.Join(dir, "run-1", "job.jsonl") {
		t.Errorf("url %s", url)
	}
	back, err := os.ReadFile(filepath.Join(dir, "run-1", "job.jsonl"))
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("file content %q %v", back, err)
	}
	for _, bad := range []string{"http://x/y", "file://relative/x", "file:relative", "s3:///prefix", "s3://bucket/p"} {
		if _, err := OpenManifests(bad, nil); err == nil {
			t.Errorf("destination %q accepted", bad)
		}
	}
}

func TestSubmitJobInput(t *testing.T) {
	p := mustPlan(t, minimalPlan+`size_parameter: records
tags: {team: ml, cost-center: "42"}
parameters: {image_tag: v1, accountId: plan-default}
fan_in:
  name: report
  job_definition: report-def
  queue: q-default
  parameters: {kind: nightly}
  memory_mib: 4096
`)
	a := Assignment{Item: Item{Key: "acct-1", Size: 1500, Params: map[string]string{"accountId": "1"}}, Tier: 2, Priority: "low", Queue: "q-large"}
	r := &Runner{opts: Options{Plan: p, RunID: "run-7"}}
	u := r.singleUnit(a, 0)
	in := p.input("run-7", u)
	if aws.ToString(in.JobName) != ItemJobName("builds", "run-7", "large", "acct-1", 0) ||
		aws.ToString(in.JobQueue) != "q-large" || aws.ToString(in.JobDefinition) != "build" {
		t.Errorf("name/queue/definition: %s %s %s", aws.ToString(in.JobName), aws.ToString(in.JobQueue), aws.ToString(in.JobDefinition))
	}
	wantTags := map[string]string{"team": "ml", "cost-center": "42", "product": "builds", "tier": "large", "run_id": "run-7"}
	if !reflect.DeepEqual(in.Tags, wantTags) || !aws.ToBool(in.PropagateTags) {
		t.Errorf("tags %v propagate %v", in.Tags, in.PropagateTags)
	}
	wantParams := map[string]string{"image_tag": "v1", "accountId": "1", "records": "1500"}
	if !reflect.DeepEqual(in.Parameters, wantParams) {
		t.Errorf("parameters %v", in.Parameters)
	}
	if got := reqs(in.ContainerOverrides.ResourceRequirements); got != "VCPU=4 MEMORY=30720 GPU=1" {
		t.Errorf("resources %s", got)
	}
	if envs(in.ContainerOverrides.Environment) != "BATCHWATCH_ITEM_KEY=acct-1 BATCHWATCH_RUN_ID=run-7 BATCHWATCH_TIER=large" {
		t.Errorf("environment %s", envs(in.ContainerOverrides.Environment))
	}
	if aws.ToInt32(in.RetryStrategy.Attempts) != 3 || len(in.RetryStrategy.EvaluateOnExit) != 2 ||
		aws.ToString(in.RetryStrategy.EvaluateOnExit[0].OnStatusReason) != "Host EC2*" ||
		in.RetryStrategy.EvaluateOnExit[0].Action != batchtypes.RetryActionRetry ||
		aws.ToString(in.RetryStrategy.EvaluateOnExit[1].OnReason) != "*" ||
		in.RetryStrategy.EvaluateOnExit[1].Action != batchtypes.RetryActionExit {
		t.Errorf("retry strategy %+v", in.RetryStrategy)
	}
	if in.Timeout != nil || in.ArrayProperties != nil || in.DependsOn != nil {
		t.Errorf("unexpected timeout/array/deps: %+v %+v %+v", in.Timeout, in.ArrayProperties, in.DependsOn)
	}

	// An array of the small tier: timeout, array size, manifest.
	items := []Assignment{
		{Item: Item{Key: "a", Size: 1}, Tier: 0, Priority: "low", Queue: "q-default"},
		{Item: Item{Key: "b", Size: 2}, Tier: 0, Priority: "low", Queue: "q-default"},
	}
	au := r.arrayUnit(items, GroupKey{Tier: 0, Queue: "q-default"})
	au.manifest = "s3://bucket/run-7/x.jsonl"
	in = p.input("run-7", au)
	if aws.ToInt32(in.ArrayProperties.Size) != 2 || aws.ToInt32(in.Timeout.AttemptDurationSeconds) != 1800 {
		t.Errorf("array %+v timeout %+v", in.ArrayProperties, in.Timeout)
	}
	if in.Parameters[ParamManifest] != au.manifest || in.Parameters["records"] != "" || in.Tags["tier"] != "small" {
		t.Errorf("array parameters %v tags %v", in.Parameters, in.Tags)
	}
	if envs(in.ContainerOverrides.Environment) != "BATCHWATCH_MANIFEST=s3://bucket/run-7/x.jsonl BATCHWATCH_RUN_ID=run-7 BATCHWATCH_TIER=small" {
		t.Errorf("array environment %s", envs(in.ContainerOverrides.Environment))
	}
	if au.recs[1].ArrayIndex != 1 || au.recs[1].ArraySize != 2 || au.recs[1].JobName != au.name {
		t.Errorf("array records %+v", au.recs[1])
	}

	// The fan-in depends on its jobs.
	fu := &unit{kind: KindFanIn, name: "n", queue: "q-default", tier: -1, deps: []string{"j1", "j2"}}
	in = p.input("run-7", fu)
	var deps []string
	for _, d := range in.DependsOn {
		deps = append(deps, aws.ToString(d.JobId))
	}
	if !reflect.DeepEqual(deps, []string{"j1", "j2"}) || aws.ToString(in.JobDefinition) != "report-def" ||
		in.Parameters["kind"] != "nightly" || in.Parameters["image_tag"] != "v1" || in.Tags["run_id"] != "run-7" ||
		reqs(in.ContainerOverrides.ResourceRequirements) != "MEMORY=4096" {
		t.Errorf("fan-in input %+v", in)
	}
}

func reqs(rr []batchtypes.ResourceRequirement) string {
	var parts []string
	for _, r := range rr {
		parts = append(parts, string(r.Type)+"="+aws.ToString(r.Value))
	}
	return strings.Join(parts, " ")
}

func envs(kv []batchtypes.KeyValuePair) string {
	var parts []string
	for _, e := range kv {
		parts = append(parts, aws.ToString(e.Name)+"="+aws.ToString(e.Value))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func TestAdaptiveLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	a := NewAdaptiveLimiter(40, clock)
	if a.Limit() != 40 || float64(a.Limiter().Limit()) != 40 || a.Limiter().Burst() != 1 {
		t.Fatalf("start: %v %v burst %d", a.Limit(), a.Limiter().Limit(), a.Limiter().Burst())
	}
	a.Throttled()
	a.Throttled() // same second: one signal
	if a.Limit() != 30 {
		t.Errorf("after a throttled second: %v, want 30", a.Limit())
	}
	for range 5 {
		now = now.Add(time.Second)
		a.Throttled()
	}
	if a.Limit() < 2 || a.Limit() > 30*0.75*0.75 {
		t.Errorf("after sustained throttling: %v", a.Limit())
	}
	low := a.Limit()
	a.Succeeded() // within a second of the last throttle: no climb
	if a.Limit() != low {
		t.Errorf("climbed right after a throttle: %v", a.Limit())
	}
	for range 100 {
		now = now.Add(time.Second)
		a.Succeeded()
		a.Succeeded() // once per second
	}
	if a.Limit() != 40 || float64(a.Limiter().Limit()) != 40 {
		t.Errorf("recovered to %v, want 40", a.Limit())
	}
	for i := 0; i < 20; i++ {
		now = now.Add(time.Second)
		a.Succeeded()
	}
	if a.Limit() != 40 {
		t.Errorf("above the maximum: %v", a.Limit())
	}
	for range 100 {
		now = now.Add(time.Second)
		a.Throttled()
	}
	if a.Limit() != 2 || a.Backoffs() != 106 {
		t.Errorf("floor %v (want 2, a 20th), backoffs %d", a.Limit(), a.Backoffs())
	}
	// The limiter hands out tokens at its rate: count them, not seconds.
	lim := NewAdaptiveLimiter(10, clock).Limiter()
	start := now
	n := 0
	for at := start; at.Before(start.Add(10 * time.Second)); at = at.Add(time.Millisecond) {
		if lim.AllowN(at, 1) {
			n++
		}
	}
	if n < 100 || n > 101 {
		t.Errorf("%d tokens in 10 s at 10/s", n)
	}
}

func TestDryRunOutput(t *testing.T) {
	p := mustPlan(t, minimalPlan+"prices: {vcpu_hour: 0.05, memory_gib_hour: 0.005, gpu_hour: 1}\n")
	var items []Item
	for i := range 25 {
		items = append(items, Item{Key: "s" + string(rune('a'+i)), Size: 10, Line: i + 1})
	}
	items = append(items, Item{Key: "big", Size: 1e6, Line: 26}, Item{Key: "urgent", Size: 5, Priority: "high", Line: 27})
	as, bad := Assign(p, "items.jsonl", items)
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	d := PlanDryRun(p, as, ModeArray, 10)
	var b bytes.Buffer
	d.WriteText(&b)
	golden := filepath.Join("testdata", "dryrun.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("dry run output differs from %s (-update to rewrite):\n%s", golden, b.String())
	}
	// small: 25 items × 0.5 h × (1 vCPU × 0.05 + 2 GiB × 0.005) = 0.75 USD.
	if r := d.Rows[0]; r.Tier != "small" || r.Calls != 3 || r.Items != 25 || r.VCPUHours != 12.5 || abs(r.CostUSD-0.75) > 1e-9 {
		t.Errorf("small row %+v", r)
	}
	single := PlanDryRun(p, as, ModeSingle, 10)
	if single.Total.Calls != 27 || single.Total.CostUSD != d.Total.CostUSD {
		t.Errorf("single mode %+v", single.Total)
	}
}

func abs(v float64) float64 { return max(v, -v) }
