package submitter

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SizingHistory is what earlier runs of a product used, from the journal
// joined with the usage of jobs wrapped in batchwatch-run (docs/usage.md):
// each item key's largest memory peak, and a fit of peak against size for
// keys never run before.
type SizingHistory struct {
	// Peaks maps an item key to the largest peak of its jobs, in MiB.
	Peaks map[string]float64
	// log(peak MiB) = A + B·log(size), fitted on every (size, peak) of the
	// history; Fitted is false with fewer than two distinct sizes.
	A, B   float64
	Fitted bool
}

// sizingQuery joins the journal's item submissions of one product (%[1]s)
// with the usage of their jobs (%[2]s): one row per item key and size.
const sizingQuery = `SELECT s.item_key, s.size, max(u.memory_peak_bytes) / 1048576 AS peak_mib
FROM (
    SELECT item_key, size, job_id FROM %[1]s FINAL
    WHERE product = ? AND kind = 'item' AND job_id != '' AND run_started_at >= toDateTime(?)
) AS s
INNER JOIN (SELECT job_id, memory_peak_bytes FROM %[2]s FINAL WHERE started_at >= toDateTime(?)) AS u USING (job_id)
GROUP BY s.item_key, s.size`

// LoadSizingHistory reads the history of product since since from the
// submissions and usage tables (full names).
func LoadSizingHistory(ctx context.Context, conn driver.Conn, submissions, usage, product string, since time.Time) (SizingHistory, error) {
	at := uint32(since.Unix())
	rows, err := conn.Query(ctx, fmt.Sprintf(sizingQuery, submissions, usage), product, at, at)
	if err != nil {
		return SizingHistory{}, fmt.Errorf("query sizing history: %w", err)
	}
	defer rows.Close()
	h := SizingHistory{Peaks: map[string]float64{}}
	var sizes, peaks []float64
	for rows.Next() {
		var key string
		var size, peak float64
		if err := rows.Scan(&key, &size, &peak); err != nil {
			return SizingHistory{}, fmt.Errorf("read sizing history: %w", err)
		}
		h.Peaks[key] = math.Max(h.Peaks[key], peak)
		sizes, peaks = append(sizes, size), append(peaks, peak)
	}
	if err := rows.Err(); err != nil {
		return SizingHistory{}, fmt.Errorf("read sizing history: %w", err)
	}
	h.A, h.B, h.Fitted = fitLogLog(sizes, peaks)
	return h, nil
}

// fitLogLog fits log(y) = a + b·log(x) by least squares over the positive
// pairs.
func fitLogLog(xs, ys []float64) (a, b float64, ok bool) {
	var n, sx, sy, sxx, sxy float64
	for i := range xs {
		if xs[i] <= 0 || ys[i] <= 0 {
			continue
		}
		lx, ly := math.Log(xs[i]), math.Log(ys[i])
		n++
		sx, sy, sxx, sxy = sx+lx, sy+ly, sxx+lx*lx, sxy+lx*ly
	}
	den := n*sxx - sx*sx
	if n < 2 || den <= 1e-12 {
		return 0, 0, false
	}
	b = (n*sxy - sx*sy) / den
	return (sy - b*sx) / n, b, true
}

// Need is the memory an item needs, in MiB: its key's measured peak, else
// the fit at its size; false when the history says nothing.
func (h SizingHistory) Need(it Item) (float64, bool) {
	if p, ok := h.Peaks[it.Key]; ok {
		return p, true
	}
	if h.Fitted && it.Size > 0 {
		return math.Exp(h.A + h.B*math.Log(it.Size)), true
	}
	return 0, false
}

// SizingResult is what sizing by history changed.
type SizingResult struct {
	// Changed items moved to another tier; FromKey of all sized items used
	// their key's own history, FromFit the size fit.
	Changed int `json:"changed_tier"`
	FromKey int `json:"sized_from_own_history"`
	FromFit int `json:"sized_from_fit"`
	// SavingUSD is the expected cost of the size-range tiers minus that of
	// the chosen ones, at the plan's prices and tier durations.
	SavingUSD float64 `json:"expected_saving_usd"`
}

// WriteText writes the one summary line.
func (r SizingResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "  sizing by history: %d items changed tier (%d sized from their own runs, %d from the size fit); expected saving USD %.2f\n",
		r.Changed, r.FromKey, r.FromFit, r.SavingUSD)
}

// ResizeByHistory moves each item without a forced tier to the smallest
// tier whose memory holds its need plus headroom (the largest when none
// does), keeping its priority. OOM escalation still starts from there.
func ResizeByHistory(p *Plan, as []Assignment, h SizingHistory, headroom float64) (SizingResult, error) {
	var res SizingResult
	for i := range as {
		a := &as[i]
		if a.Item.Tier != "" {
			continue
		}
		need, ok := h.Need(a.Item)
		if !ok {
			continue
		}
		if _, own := h.Peaks[a.Item.Key]; own {
			res.FromKey++
		} else {
			res.FromFit++
		}
		t := tierFor(p, need*(1+headroom))
		if t == a.Tier {
			continue
		}
		q, ok := p.Queue(p.Tiers[t].Name, a.Priority)
		if !ok {
			return res, fmt.Errorf("key %q: no queue for tier %q at priority %q", a.Item.Key, p.Tiers[t].Name, a.Priority)
		}
		res.SavingUSD += tierCost(p, a.Tier) - tierCost(p, t)
		a.Tier, a.Queue = t, q
		res.Changed++
	}
	return res, nil
}

// tierFor is the tier of least memory with at least mib, else the largest.
func tierFor(p *Plan, mib float64) int {
	best, largest := -1, 0
	for i, t := range p.Tiers {
		if t.MemoryMiB > p.Tiers[largest].MemoryMiB {
			largest = i
		}
		if float64(t.MemoryMiB) >= mib && (best < 0 || t.MemoryMiB < p.Tiers[best].MemoryMiB) {
			best = i
		}
	}
	if best < 0 {
		return largest
	}
	return best
}

// tierCost is one item's expected cost in tier i.
func tierCost(p *Plan, i int) float64 {
	t := p.Tiers[i]
	perHour := t.VCPUs*p.Prices.VCPUHour + float64(t.MemoryMiB)/1024*p.Prices.MemoryGiBHour + float64(t.GPUs)*p.Prices.GPUHour
	return perHour * t.Estimate().Hours()
}
