package usage

import (
	"math"
	"sort"
	"time"
)

// Sample is one reading of a source: cumulative CPU time and throttled time
// since the source began, and memory in use now.
type Sample struct {
	At            time.Time
	CPUSeconds    float64
	ThrottledSecs float64
	MemoryBytes   uint64
}

// Stats accumulates samples into the figures of a Record. The CPU rate of each
// interval between two samples is one observation for the mean and p95.
//
// An interval shorter than MinInterval (the last one, cut short by the
// command's end) gives no rate of its own: /proc counts CPU time in 10 ms
// ticks, and 10 ms over a 2 ms interval would read as 5 vCPUs.
type Stats struct {
	MinInterval time.Duration

	first, last, base Sample
	n                 int
	rates             []float64
	memPeak           uint64
}

// Add takes one sample; samples come in time order.
func (s *Stats) Add(x Sample) {
	if s.n == 0 {
		s.first, s.base = x, x
	} else if dt := x.At.Sub(s.base.At); dt > 0 && dt >= s.MinInterval {
		// A process of the tree that exits between samples takes its CPU time
		// with it until it is reaped: the sum may dip, never a negative rate.
		s.rates = append(s.rates, math.Max(0, (x.CPUSeconds-s.base.CPUSeconds)/dt.Seconds()))
		s.base = x
	}
	s.last = x
	s.n++
	if x.MemoryBytes > s.memPeak {
		s.memPeak = x.MemoryBytes
	}
}

// Samples is the number of samples taken.
func (s *Stats) Samples() int { return s.n }

// MemoryPeak is the largest memory reading.
func (s *Stats) MemoryPeak() uint64 { return s.memPeak }

// CPUSeconds is the CPU time between the first and the last sample.
func (s *Stats) CPUSeconds() float64 {
	if s.n == 0 {
		return 0
	}
	return math.Max(0, s.last.CPUSeconds-s.first.CPUSeconds)
}

// ThrottledSeconds is the throttled time between the first and last sample.
func (s *Stats) ThrottledSeconds() float64 {
	if s.n == 0 {
		return 0
	}
	return math.Max(0, s.last.ThrottledSecs-s.first.ThrottledSecs)
}

// RateQuantile is the q-quantile (nearest rank) of the interval CPU rates in
// vCPUs, or fallback when there was no interval.
func (s *Stats) RateQuantile(q, fallback float64) float64 {
	return quantile(s.rates, q, fallback)
}

func quantile(xs []float64, q, fallback float64) float64 {
	if len(xs) == 0 {
		return fallback
	}
	c := append([]float64(nil), xs...)
	sort.Float64s(c)
	i := int(math.Ceil(q*float64(len(c)))) - 1
	if i < 0 {
		i = 0
	}
	return c[i]
}
