package submitter

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and the sample items")

// zendeskPart is one part of the zendesk-day workload (sim/scenarios/
// zendesk-day.yaml): how many of the 50,000 builds, their priority and the
// log-normal distribution of their record counts.
type zendeskPart struct {
	name                     string
	count                    int
	priority                 string
	median, sigma, min, maxv float64
	tier                     string
}

var zendeskParts = []zendeskPart{
	{"nightly-small", 35000, "low", 3000, 0.8, 50, 9999, "small"},
	{"adhoc-small", 3000, "medium", 3000, 0.8, 50, 9999, "small"},
	{"nightly-medium", 9000, "low", 40000, 0.5, 10000, 99999, "medium"},
	{"priority-medium", 1000, "high", 40000, 0.5, 10000, 99999, "medium"},
	{"nightly-large", 2000, "low", 400000, 0.6, 100000, 5000000, "large"},
}

// zendeskItems returns n items distributed like the zendesk-day workload
// (scaled down proportionally), reproducibly.
func zendeskItems(n int) []Item {
	rng := rand.New(rand.NewPCG(2026, 11))
	var out []Item
	total := 0
	for _, p := range zendeskParts {
		total += p.count
	}
	left := n
	for i, p := range zendeskParts {
		c := int(math.Round(float64(p.count) * float64(n) / float64(total)))
		if i == len(zendeskParts)-1 || c > left {
			c = left
		}
		left -= c
		for range c {
			v := p.median * math.Exp(p.sigma*rng.NormFloat64())
			v = math.Round(min(max(v, p.min), p.maxv))
			id := 1000000 + len(out)
			out = append(out, Item{
				Key: "acct-" + strconv.Itoa(id), Size: v, Priority: p.priority,
				Params: map[string]string{"accountId": strconv.Itoa(id), "batch": p.name},
				Line:   len(out) + 1,
			})
		}
	}
	return out
}

// zendeskCounts is how many of n items each (tier, queue) should get.
func zendeskCounts(n int) map[[2]string]int {
	out := map[[2]string]int{}
	queue := map[string]string{"low": "zd-low", "medium": "zd-medium", "high": "zd-high"}
	for _, it := range zendeskItems(n) {
		var tier string
		for _, p := range zendeskParts {
			if it.Params["batch"] == p.name {
				tier = p.tier
			}
		}
		out[[2]string{tier, queue[it.Priority]}]++
	}
	return out
}

func encodeItems(items []Item) []byte {
	var b bytes.Buffer
	for _, it := range items {
		line, _ := json.Marshal(map[string]any{"key": it.Key, "size": it.Size, "priority": it.Priority, "params": it.Params})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

const sampleItems = "testdata/zendesk-day/items.jsonl"

// TestSampleItems keeps the demo's sample (1,000 items distributed like
// zendesk-day) in step with the generator; -update rewrites it.
func TestSampleItems(t *testing.T) {
	want := encodeItems(zendeskItems(1000))
	if *update {
		if err := os.WriteFile(sampleItems, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(sampleItems)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: go test ./submitter -run TestSampleItems -update", sampleItems)
	}
	data, _ := os.ReadFile("testdata/zendesk-day/plan.yaml")
	prep, err := Prepare("plan.yaml", data, sampleItems, bytes.NewReader(got), "", false)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[[2]string]int{}
	for _, a := range prep.Assignments {
		counts[[2]string{prep.Plan.Tiers[a.Tier].Name, a.Queue}]++
	}
	for k, n := range zendeskCounts(1000) {
		if counts[k] != n {
			t.Errorf("%v: %d items, want %d", k, counts[k], n)
		}
	}
}
