package sim

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"
)

// rng draws every random choice of a run from one seeded source, so a seed
// reproduces a run (at --speed 0, where no wall clock leaks in).
type rng struct{ r *rand.Rand }

func newRNG(seed uint64) *rng {
	return &rng{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// uuid returns a random (version 4) UUID string, as AWS uses for job ids and
// event ids.
func (g *rng) uuid() string {
	var b [16]byte
	binaryPutUint64(b[:8], g.r.Uint64())
	binaryPutUint64(b[8:], g.r.Uint64())
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// hex32 returns 32 hex digits (ECS task ids).
func (g *rng) hex32() string {
	var b [16]byte
	binaryPutUint64(b[:8], g.r.Uint64())
	binaryPutUint64(b[8:], g.r.Uint64())
	return hex.EncodeToString(b[:])
}

// instanceID returns an EC2 instance id (i- and 17 hex digits).
func (g *rng) instanceID() string {
	var b [9]byte
	binaryPutUint64(b[:8], g.r.Uint64())
	b[8] = byte(g.r.Uint32())
	return "i-0" + hex.EncodeToString(b[:])[:16]
}

func binaryPutUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

func (g *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return g.r.IntN(n)
}

// chance reports true with probability p.
func (g *rng) chance(p float64) bool { return p > 0 && g.r.Float64() < p }

// between draws uniformly from [lo, hi].
func (g *rng) between(lo, hi float64) float64 {
	if hi <= lo {
		return lo
	}
	return lo + g.r.Float64()*(hi-lo)
}

// durMS draws a duration from a Range, in milliseconds.
func (g *rng) durMS(r Range) int64 {
	return int64(g.between(float64(r.Min/time.Millisecond), float64(r.Max/time.Millisecond)))
}

// dist draws from a log-normal Dist.
func (g *rng) dist(d Dist) float64 {
	if d.Median <= 0 {
		return 0
	}
	v := d.Median
	if d.Sigma > 0 {
		v = d.Median * math.Exp(d.Sigma*g.r.NormFloat64())
	}
	if d.Min > 0 && v < d.Min {
		v = d.Min
	}
	if d.Max > 0 && v > d.Max {
		v = d.Max
	}
	return v
}

// exp draws an exponential waiting time in hours for a rate per hour;
// +Inf for rate 0.
func (g *rng) exp(ratePerHour float64) float64 {
	if ratePerHour <= 0 {
		return math.Inf(1)
	}
	return g.r.ExpFloat64() / ratePerHour
}
