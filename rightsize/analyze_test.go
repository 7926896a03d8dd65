package rightsize

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// need is a true need: lognormal with a median and a sigma.
type need struct{ median, sigma float64 }

func (n need) p95() float64                         { return n.median * math.Exp(1.6448536*n.sigma) }
func (n need) draw(r *rand.Rand) float64            { return n.median * math.Exp(n.sigma*r.NormFloat64()) }
func gen(r *rand.Rand, n need, cap float64) float64 { return math.Min(n.draw(r), cap) }

// A history whose true needs are known: every recommendation is at least the
// true p95 and at most that times (1+headroom) plus one accepted step.
func TestRecommendationBracketsTheTrueNeed(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	defs := []struct {
		def, tier, platform string
		req                 Request
		mem, cpu            need
	}{
		{"model-build", "small", "EC2", Request{2, 4096}, need{1100, 0.25}, need{0.6, 0.3}},
		{"model-build", "medium", "EC2", Request{4, 16384}, need{4000, 0.25}, need{1.5, 0.2}},
		{"model-build", "large", "EC2", Request{8, 32768}, need{20000, 0.15}, need{5, 0.15}},
		{"etl", "", "FARGATE", Request{2, 8192}, need{1500, 0.3}, need{0.3, 0.2}},
		{"report", "", "EC2", Request{1, 2048}, need{1700, 0.08}, need{0.9, 0.05}}, // tight: few OOMs
	}
	var hist []Attempt
	for _, d := range defs {
		for range 400 {
			m := d.mem.draw(r)
			a := Attempt{Definition: d.def, Tier: d.tier, Platform: d.platform, Requested: d.req,
				PeakMiB: m, CPUP95: gen(r, d.cpu, d.req.VCPUs), WallSeconds: 600}
			if m > float64(d.req.MemoryMiB) {
				a.PeakMiB, a.OOMKilled = float64(d.req.MemoryMiB), true
			}
			hist = append(hist, a)
		}
	}
	c := Config{Headroom: 0.2, MinAttempts: 20, PriceVCPUHour: 0.04, PriceGiBHour: 0.0045, WindowDays: 1}
	rows, err := Analyze(hist, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(defs) {
		t.Fatalf("%d rows, want %d", len(rows), len(defs))
	}
	for _, d := range defs {
		var row *Row
		for i := range rows {
			if rows[i].Definition == d.def && rows[i].Tier == d.tier {
				row = &rows[i]
			}
		}
		if row == nil {
			t.Fatalf("no row for %s/%s", d.def, d.tier)
		}
		rec := row.Recommended
		memLo, memHi := d.mem.p95(), d.mem.p95()*1.2+float64(MemoryStepMiB(d.platform == "FARGATE", rec))
		if float64(rec.MemoryMiB) < memLo || float64(rec.MemoryMiB) > memHi {
			t.Errorf("%s/%s: %d MiB recommended, want %.0f to %.0f", d.def, d.tier, rec.MemoryMiB, memLo, memHi)
		}
		cpuLo, cpuHi := math.Min(d.cpu.p95(), d.req.VCPUs), d.cpu.p95()*1.2+1
		if rec.VCPUs < cpuLo || rec.VCPUs > cpuHi {
			t.Errorf("%s/%s: %.2f vCPUs recommended, want %.2f to %.2f", d.def, d.tier, rec.VCPUs, cpuLo, cpuHi)
		}
		if row.Attempts != 400 || row.Requested != d.req || row.Platform != d.platform {
			t.Errorf("%s/%s: %+v", d.def, d.tier, row)
		}
	}
	// Largest saving first.
	for i := 1; i < len(rows); i++ {
		if rows[i].MonthlySaving > rows[i-1].MonthlySaving {
			t.Errorf("row %d saves %.2f, more than the row before (%.2f)", i, rows[i].MonthlySaving, rows[i-1].MonthlySaving)
		}
	}
}

func TestAnalyzeSavingAndBound(t *testing.T) {
	var hist []Attempt
	for i := range 20 {
		hist = append(hist, Attempt{Definition: "d", Requested: Request{4, 16384}, PeakMiB: 3000 + float64(i), CPUP95: 0.4, WallSeconds: 3600})
	}
	rows, err := Analyze(hist, Config{Headroom: 0.2, MinAttempts: 10, PriceVCPUHour: 0.04, PriceGiBHour: 0.005, WindowDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	// p95 3018 MiB × 1.2 = 3621.6 → 3840; 0.4 × 1.2 → 1 vCPU.
	if r.Recommended != (Request{1, 3840}) {
		t.Fatalf("recommended %+v", r.Recommended)
	}
	// 20 hours in 3 days → 200 hours a month; (3 × 0.04 + 12.25 × 0.005) × 200.
	if want := (3*0.04 + (16384-3840)/1024.0*0.005) * 200; math.Abs(r.MonthlySaving-want) > 1e-9 {
		t.Errorf("saving %.4f, want %.4f", r.MonthlySaving, want)
	}
	if r.Bound != "memory" || r.Family != "r" || r.MemoryMiB.Max != 3019 || r.MemoryMiB.P50 != 3009 {
		t.Errorf("bound %s %s, memory %+v", r.Bound, r.Family, r.MemoryMiB)
	}
	if b, f := bound(2048, 2); b != "cpu" || f != "c" {
		t.Errorf("1 GiB per vCPU: %s %s", b, f)
	}
	if b, f := bound(4096, 1); b != "balanced" || f != "m" {
		t.Errorf("4 GiB per vCPU: %s %s", b, f)
	}
}

func TestAnalyzeNotes(t *testing.T) {
	few := []Attempt{{Definition: "few", Requested: Request{1, 2048}, PeakMiB: 100, CPUP95: 0.1, WallSeconds: 60}}
	var oom []Attempt
	for i := range 20 {
		oom = append(oom, Attempt{Definition: "oom", Requested: Request{1, 2048}, PeakMiB: 2048, CPUP95: 0.5, WallSeconds: 60, OOMKilled: i%4 == 0})
	}
	rows, err := Analyze(append(few, oom...), Config{Headroom: 0.25, MinAttempts: 5, WindowDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		switch r.Definition {
		case "few":
			if r.Recommended != (Request{}) || !strings.Contains(r.Note, "fewer than 5") {
				t.Errorf("few: %+v", r)
			}
		case "oom":
			// 25 % killed: at least the request plus headroom, and a saving
			// that is negative (it costs more).
			if r.OOMRate != 0.25 || r.Recommended.MemoryMiB < 2560 || !strings.Contains(r.Note, "killed for memory") || r.MonthlySaving > 0 {
				t.Errorf("oom: %+v", r)
			}
		}
	}
	for _, c := range []Config{{Headroom: -1, MinAttempts: 1, WindowDays: 1}, {MinAttempts: 0, WindowDays: 1}, {MinAttempts: 1}, {MinAttempts: 1, WindowDays: 1, PriceGiBHour: -1}} {
		if _, err := Analyze(nil, c); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
}
