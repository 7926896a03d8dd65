package rightsize

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Attempt is one measured attempt: what it asked for and what it used.
type Attempt struct {
	Definition string
	// Tier is the job's tier tag (the submitter's tier), "" when untagged.
	Tier        string
	Platform    string // EC2, FARGATE or EKS (rounded as EC2)
	Requested   Request
	PeakMiB     float64
	CPUP95      float64 // the attempt's own p95, vCPUs
	CPUMean     float64 // vCPUs
	WallSeconds float64
	OOMKilled   bool
	StartedAtMs int64
}

// WindowDays is the span of a history from its first attempt to now, at
// least an hour and at most limit: the hours it holds scale to a month by it.
func WindowDays(as []Attempt, now time.Time, limit time.Duration) float64 {
	first := now
	for _, a := range as {
		if t := time.UnixMilli(a.StartedAtMs); a.StartedAtMs > 0 && t.Before(first) {
			first = t
		}
	}
	span := min(max(now.Sub(first), time.Hour), limit)
	return span.Hours() / 24
}

// Config sets the recommendation and the prices.
type Config struct {
	// Headroom above the p95 (0.2: 20 %).
	Headroom float64
	// MinAttempts below which a group gets no recommendation.
	MinAttempts int
	// PriceVCPUHour and PriceGiBHour value a vCPU-hour and a GiB-hour.
	PriceVCPUHour, PriceGiBHour float64
	// WindowDays is the span of the history, to scale its hours to a month
	// of 30 days.
	WindowDays float64
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Headroom < 0 || c.Headroom > 10 {
		errs = append(errs, fmt.Errorf("headroom %.2f: want 0 to 10", c.Headroom))
	}
	if c.MinAttempts < 1 {
		errs = append(errs, fmt.Errorf("min attempts %d: want at least 1", c.MinAttempts))
	}
	if c.PriceVCPUHour < 0 || c.PriceGiBHour < 0 {
		errs = append(errs, errors.New("prices must not be negative"))
	}
	if c.WindowDays <= 0 {
		errs = append(errs, fmt.Errorf("window %.2f days: must be positive", c.WindowDays))
	}
	return errors.Join(errs...)
}

// Spread is the p50, p95 and max of a figure over a group's attempts.
type Spread struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// Row is the recommendation for one job definition, tier and platform.
type Row struct {
	Definition string `json:"job_definition"`
	Tier       string `json:"tier"`
	Platform   string `json:"platform"`
	Attempts   int    `json:"attempts"`
	// Requested is the request most attempts made.
	Requested Request `json:"requested"`
	MemoryMiB Spread  `json:"memory_mib"`
	VCPUs     Spread  `json:"vcpus"`
	OOMRate   float64 `json:"oom_rate"`
	// Recommended is empty (zero) when Note says why there is none.
	Recommended Request `json:"recommended"`
	// Bound is memory, cpu or balanced: GiB per vCPU of what was used
	// against the instance families (r: 8, m: 4, c: 2 GiB per vCPU).
	Bound         string  `json:"bound"`
	Family        string  `json:"instance_family"`
	RunHours      float64 `json:"run_hours"`
	MonthlySaving float64 `json:"monthly_saving"`
	Note          string  `json:"note,omitempty"`
}

// oomCensored is the OOM rate above which the p95 of the peaks is below the
// true need (killed attempts report the limit, not what they wanted).
const oomCensored = 0.05

type groupKey struct{ def, tier, platform string }

// Analyze groups attempts by job definition, tier and platform and
// recommends a request for each group; rows come by monthly saving, largest
// first.
func Analyze(attempts []Attempt, c Config) ([]Row, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	groups := map[groupKey][]Attempt{}
	for _, a := range attempts {
		p := a.Platform
		if p != "FARGATE" {
			p = "EC2"
		}
		k := groupKey{a.Definition, a.Tier, p}
		groups[k] = append(groups[k], a)
	}
	rows := make([]Row, 0, len(groups))
	for k, as := range groups {
		rows = append(rows, analyzeGroup(k, as, c))
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].MonthlySaving != rows[j].MonthlySaving {
			return rows[i].MonthlySaving > rows[j].MonthlySaving
		}
		return rows[i].Definition+"\x00"+rows[i].Tier < rows[j].Definition+"\x00"+rows[j].Tier
	})
	return rows, nil
}

func analyzeGroup(k groupKey, as []Attempt, c Config) Row {
	mem, cpu := make([]float64, len(as)), make([]float64, len(as))
	var ooms int
	var hours float64
	for i, a := range as {
		mem[i], cpu[i] = a.PeakMiB, a.CPUP95
		if a.OOMKilled {
			ooms++
		}
		hours += a.WallSeconds / 3600
	}
	r := Row{
		Definition: k.def, Tier: k.tier, Platform: k.platform, Attempts: len(as),
		Requested: mostCommon(as), MemoryMiB: spread(mem), VCPUs: spread(cpu),
		OOMRate: float64(ooms) / float64(len(as)), RunHours: hours,
	}
	r.Bound, r.Family = bound(r.MemoryMiB.P95, r.VCPUs.P95)
	if len(as) < c.MinAttempts {
		r.Note = fmt.Sprintf("%d attempts, fewer than %d", len(as), c.MinAttempts)
		return r
	}
	memNeed := r.MemoryMiB.P95 * (1 + c.Headroom)
	if r.OOMRate > oomCensored {
		// The peaks of killed attempts are the limit, not the need: at
		// least the request plus headroom.
		memNeed = math.Max(memNeed, float64(r.Requested.MemoryMiB)*(1+c.Headroom))
		r.Note = fmt.Sprintf("%.0f%% of attempts killed for memory: the need above the request is unknown", 100*r.OOMRate)
	}
	cpuNeed := r.VCPUs.P95 * (1 + c.Headroom)
	if k.platform == "FARGATE" {
		rec, err := RoundFargate(cpuNeed, memNeed)
		if err != nil {
			r.Note = err.Error()
			return r
		}
		r.Recommended = rec
	} else {
		r.Recommended = RoundEC2(cpuNeed, memNeed)
	}
	perHour := (r.Requested.VCPUs-r.Recommended.VCPUs)*c.PriceVCPUHour +
		float64(r.Requested.MemoryMiB-r.Recommended.MemoryMiB)/1024*c.PriceGiBHour
	r.MonthlySaving = perHour * hours * 30 / c.WindowDays
	return r
}

// mostCommon is the request most attempts of a group made (the larger on a
// tie, so that a saving is never overstated).
func mostCommon(as []Attempt) Request {
	n := map[Request]int{}
	var best Request
	for _, a := range as {
		n[a.Requested]++
		c := n[a.Requested]
		if c > n[best] || (c == n[best] && (a.Requested.MemoryMiB > best.MemoryMiB || a.Requested.VCPUs > best.VCPUs)) {
			best = a.Requested
		}
	}
	return best
}

func spread(xs []float64) Spread {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return Spread{P50: q(0.5), P95: q(0.95), Max: s[len(s)-1]}
}

// bound compares GiB per vCPU used with the instance families' ratios.
func bound(memMiB, vcpus float64) (string, string) {
	ratio := memMiB / 1024 / math.Max(vcpus, 0.05)
	switch {
	case ratio >= 6:
		return "memory", "r"
	case ratio <= 3:
		return "cpu", "c"
	}
	return "balanced", "m"
}
