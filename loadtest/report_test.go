//go:build integration

package loadtest

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// lagStats are freshness percentiles, in seconds.
type lagStats struct {
	n             int
	p50, p99, max float64
	unreached     int // events never seen downstream during sampling
}

// countLags measures how long the k-th event took from up to down, for
// every k: the first sample at which down reached k minus the first
// sample at which up reached k (a cumulative flow diagram read
// horizontally). Both curves must be counts of the same events; the
// resolution is the sampling period. Samples with down < 0 are skipped.
func countLags(at []time.Duration, up, down []float64) (lags []float64, emittedAt []time.Duration, unreached int) {
	total := 0
	if len(up) > 0 {
		total = int(up[len(up)-1])
	}
	upAt := make([]time.Duration, total+1)
	k := 1
	for i, v := range up {
		for ; k <= total && float64(k) <= v; k++ {
			upAt[k] = at[i]
		}
	}
	k = 1
	for i, v := range down {
		if v < 0 {
			continue
		}
		for ; k <= total && float64(k) <= v; k++ {
			lags = append(lags, (at[i] - upAt[k]).Seconds())
			emittedAt = append(emittedAt, upAt[k])
		}
	}
	return lags, emittedAt, total - (k - 1)
}

func percentiles(lags []float64) lagStats {
	s := lagStats{n: len(lags)}
	if len(lags) == 0 {
		return s
	}
	c := append([]float64(nil), lags...)
	sort.Float64s(c)
	q := func(p float64) float64 { return c[min(len(c)-1, int(math.Ceil(p*float64(len(c))))-1)] }
	s.p50, s.p99, s.max = q(0.5), q(0.99), c[len(c)-1]
	return s
}

// freshness computes both freshness figures of a run: emission →
// queryable in ClickHouse, emission → applied by the exporter.
func freshness(samples []sample) (clickhouse, exporter lagStats, chLags, expLags []float64, chAt, expAt []time.Duration) {
	at := make([]time.Duration, len(samples))
	up := make([]float64, len(samples))
	stored := make([]float64, len(samples))
	applied := make([]float64, len(samples))
	for i, s := range samples {
		at[i], up[i], stored[i], applied[i] = s.at, s.emitted, s.stored, s.exporterApplied
	}
	var un int
	chLags, chAt, un = countLags(at, up, stored)
	clickhouse = percentiles(chLags)
	clickhouse.unreached = un
	expLags, expAt, un = countLags(at, up, applied)
	exporter = percentiles(expLags)
	exporter.unreached = un
	return clickhouse, exporter, chLags, expLags, chAt, expAt
}

// savePlot writes p as a PNG of the usual size.
func savePlot(p *plot.Plot, path string) error {
	if err := p.Save(20*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

func newPlot(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the start"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 140, G: 86, B: 75, A: 255},
}

func addLine(p *plot.Plot, name string, pts plotter.XYs, i int, dashed bool) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("line %s: %w", name, err)
	}
	l.Color = palette[i%len(palette)]
	l.Width = vg.Points(1.2)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// rates turns a cumulative count into a per-second rate over windows of w.
func rates(samples []sample, value func(sample) float64, w time.Duration) plotter.XYs {
	var out plotter.XYs
	j := 0
	for i, s := range samples {
		for j < i && s.at-samples[j].at > w {
			j++
		}
		if i == j || value(s) < 0 || value(samples[j]) < 0 {
			continue
		}
		dt := (s.at - samples[j].at).Seconds()
		out = append(out, plotter.XY{X: s.at.Seconds(), Y: math.Max(0, (value(s)-value(samples[j]))/dt)})
	}
	return out
}

// lagOverTime gives p50 and p99 of the lags of the events emitted in each
// window of w.
func lagOverTime(lags []float64, at []time.Duration, w time.Duration) (p50, p99 plotter.XYs) {
	buckets := map[int][]float64{}
	for i, l := range lags {
		buckets[int(at[i]/w)] = append(buckets[int(at[i]/w)], l)
	}
	keys := make([]int, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		s := percentiles(buckets[k])
		x := (time.Duration(k)*w + w/2).Seconds()
		p50 = append(p50, plotter.XY{X: x, Y: s.p50})
		p99 = append(p99, plotter.XY{X: x, Y: s.p99})
	}
	return p50, p99
}

// writePlots draws the four plots of the report into dir.
func writePlots(dir string, samples []sample, chLags, expLags []float64, chAt, expAt []time.Duration) error {
	p := newPlot("Events per second (10 s windows)", "events/s")
	for i, c := range []struct {
		name string
		v    func(sample) float64
	}{
		{"emitted by the simulator", func(s sample) float64 { return s.emitted }},
		{"queryable in ClickHouse", func(s sample) float64 { return s.stored }},
		{"applied by the exporter", func(s sample) float64 { return s.exporterApplied }},
	} {
		if err := addLine(p, c.name, rates(samples, c.v, 10*time.Second), i, false); err != nil {
			return err
		}
	}
	if err := savePlot(p, dir+"/events-per-second.png"); err != nil {
		return err
	}

	p = newPlot("Freshness by emission time (10 s windows)", "seconds from emission")
	a50, a99 := lagOverTime(chLags, chAt, 10*time.Second)
	b50, b99 := lagOverTime(expLags, expAt, 10*time.Second)
	for i, l := range []struct {
		name   string
		pts    plotter.XYs
		dashed bool
	}{{"ClickHouse p50", a50, false}, {"ClickHouse p99", a99, true}, {"exporter p50", b50, false}, {"exporter p99", b99, true}} {
		if err := addLine(p, l.name, l.pts, i/2, l.dashed); err != nil {
			return err
		}
	}
	if err := savePlot(p, dir+"/freshness.png"); err != nil {
		return err
	}

	p = newPlot("Queue depth: exported vs true (all queues, array children included)", "jobs")
	for i, st := range []string{"RUNNABLE", "RUNNING"} {
		var truth, exported plotter.XYs
		for _, s := range samples {
			truth = append(truth, plotter.XY{X: s.at.Seconds(), Y: s.trueDepth[st]})
			exported = append(exported, plotter.XY{X: s.at.Seconds(), Y: s.exportedDepth[st]})
		}
		if err := addLine(p, st+" true (simulator)", truth, i, false); err != nil {
			return err
		}
		if err := addLine(p, st+" exported", exported, i, true); err != nil {
			return err
		}
	}
	if err := savePlot(p, dir+"/queue-depth.png"); err != nil {
		return err
	}

	p = newPlot("Resident memory per process", "MiB")
	for i, name := range []string{"sim", "ingest", "exporter", "clickhouse"} {
		var pts plotter.XYs
		for _, s := range samples {
			if v, ok := s.rss[name]; ok {
				pts = append(pts, plotter.XY{X: s.at.Seconds(), Y: float64(v) / (1 << 20)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		if err := addLine(p, name, pts, i, false); err != nil {
			return err
		}
	}
	return savePlot(p, dir+"/memory.png")
}

func TestCountLags(t *testing.T) {
	s := time.Second
	at := []time.Duration{0, s, 2 * s, 3 * s, 4 * s}
	up := []float64{0, 2, 4, 4, 4}
	down := []float64{0, 0, 1, -1, 4}
	lags, emitted, unreached := countLags(at, up, down)
	want := []float64{1, 3, 2, 2}
	if unreached != 0 || len(lags) != len(want) {
		t.Fatalf("lags %v, unreached %d", lags, unreached)
	}
	for i := range want {
		if lags[i] != want[i] {
			t.Fatalf("lags %v, want %v", lags, want)
		}
	}
	if emitted[2] != 2*s {
		t.Fatalf("emission times %v", emitted)
	}
	if _, _, un := countLags(at, up, []float64{0, 0, 1, 1, 3}); un != 1 {
		t.Fatalf("unreached %d, want 1", un)
	}
	p := percentiles([]float64{5, 1, 3, 2, 4})
	if p.p50 != 3 || p.p99 != 5 || p.max != 5 {
		t.Fatalf("percentiles %+v", p)
	}
}
