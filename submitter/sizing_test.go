package submitter

import (
	"math"
	"os"
	"testing"
)

func sizingPlan(t *testing.T) *Plan {
	t.Helper()
	data, err := os.ReadFile("testdata/zendesk-day/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan("plan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFitLogLog(t *testing.T) {
	// peak = 3 · size^0.5 exactly.
	var xs, ys []float64
	for _, x := range []float64{100, 400, 2500, 10000} {
		xs, ys = append(xs, x), append(ys, 3*math.Sqrt(x))
	}
	a, b, ok := fitLogLog(append(xs, -1, 5), append(ys, 7, 0)) // non-positive pairs are left out
	if !ok || math.Abs(b-0.5) > 1e-9 || math.Abs(math.Exp(a)-3) > 1e-9 {
		t.Errorf("fit a=%v b=%v ok=%v", a, b, ok)
	}
	if _, _, ok := fitLogLog([]float64{10, 10}, []float64{1, 2}); ok {
		t.Error("one distinct size fitted")
	}
}

// Items move to the smallest tier whose memory holds their measured (or
// fitted) need plus headroom; forced tiers and items the history says
// nothing of stay; the saving is the tiers' cost difference.
func TestResizeByHistory(t *testing.T) {
	p := sizingPlan(t)
	small, medium, large := p.TierIndex("small"), p.TierIndex("medium"), p.TierIndex("large")
	as := []Assignment{
		{Item: Item{Key: "big-but-light", Size: 200000}, Tier: large, Priority: p.DefaultPriority}, // measured 3000 MiB → medium
		{Item: Item{Key: "small-but-heavy", Size: 500}, Tier: small, Priority: p.DefaultPriority},  // measured 2000 MiB → medium (2400 > 2048)
		{Item: Item{Key: "forced", Size: 200000, Tier: "large"}, Tier: large, Priority: p.DefaultPriority},
		{Item: Item{Key: "new", Size: 40000}, Tier: medium, Priority: p.DefaultPriority},    // fit: 10·sqrt(40000) = 2000 → medium, unchanged
		{Item: Item{Key: "new-small", Size: 100}, Tier: small, Priority: p.DefaultPriority}, // fit: 100 → small
	}
	for i := range as {
		q, _ := p.Queue(p.Tiers[as[i].Tier].Name, as[i].Priority)
		as[i].Queue = q
	}
	h := SizingHistory{Peaks: map[string]float64{"big-but-light": 3000, "small-but-heavy": 2000, "forced": 100}, A: math.Log(10), B: 0.5, Fitted: true}
	res, err := ResizeByHistory(p, as, h, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{medium, medium, large, medium, small}
	for i, a := range as {
		if a.Tier != want[i] {
			t.Errorf("%s: tier %s, want %s", a.Item.Key, p.Tiers[a.Tier].Name, p.Tiers[want[i]].Name)
		}
		if q, _ := p.Queue(p.Tiers[a.Tier].Name, a.Priority); a.Queue != q {
			t.Errorf("%s: queue %s, want %s", a.Item.Key, a.Queue, q)
		}
	}
	if res.Changed != 2 || res.FromKey != 2 || res.FromFit != 2 {
		t.Errorf("result %+v", res)
	}
	wantSaving := tierCost(p, large) - tierCost(p, medium) + tierCost(p, small) - tierCost(p, medium)
	if math.Abs(res.SavingUSD-wantSaving) > 1e-12 || tierCost(p, large) <= tierCost(p, medium) {
		t.Errorf("saving %v, want %v", res.SavingUSD, wantSaving)
	}
	// A need above every tier goes to the largest.
	if got := tierFor(p, 1e9); got != large {
		t.Errorf("huge need: tier %d", got)
	}
}
