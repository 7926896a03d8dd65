//go:build integration

package submitter

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/testenv"
)

// LoadSizingHistory on real ClickHouse: an item's peak is the largest of
// its jobs' (an OOM-killed small attempt and its escalated retry), other
// products and jobs without usage are left out, and the fit follows the
// (size, peak) pairs.
func TestLoadSizingHistory(t *testing.T) {
	st := testenv.Store(t)
	ctx := context.Background()
	run := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	type sub struct {
		run, key, product string
		attempt           uint16
		job               string
		size              float64
		peakMiB           uint64 // 0: no usage row
	}
	subs := []sub{
		{"r1", "a", "builds", 0, "j-a0", 100, 2048}, // killed at its 2 GiB limit …
		{"r1", "a", "builds", 1, "j-a1", 100, 3000}, // … then used 3000 MiB one tier up
		{"r1", "b", "builds", 0, "arr:4", 400, 60},
		{"r2", "b", "builds", 0, "j-b2", 400, 60}, // a later run of the same key
		{"r1", "c", "builds", 0, "j-c", 1600, 0},  // not wrapped
		{"r1", "z", "other", 0, "j-z", 100, 9999}, // another product
	}
	b, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+st.Table("submissions")+" (run_id, item_key, kind, attempt, run_started_at, product, job_id, size, version)")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+st.Table("usage")+" (job_id, attempt, started_at, memory_peak_bytes, version)")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if err := b.Append(s.run, s.key, "item", s.attempt, run, s.product, s.job, s.size, uint64(1)); err != nil {
			t.Fatal(err)
		}
		if s.peakMiB > 0 {
			if err := u.Append(s.job, uint16(0), run.Add(time.Minute), s.peakMiB<<20, uint64(1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := u.Send(); err != nil {
		t.Fatal(err)
	}
	h, err := LoadSizingHistory(ctx, st.Conn(), st.Table("submissions"), st.Table("usage"), "builds", run.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Peaks) != 2 || h.Peaks["a"] != 3000 || h.Peaks["b"] != 60 {
		t.Fatalf("peaks %v", h.Peaks)
	}
	// Pairs (100, 3000) and (400, 60): the fit goes through both.
	if !h.Fitted {
		t.Fatal("no fit")
	}
	if got := math.Exp(h.A + h.B*math.Log(400)); math.Abs(got-60) > 1e-6 {
		t.Errorf("fit at 400: %v, want 60", got)
	}
	if need, ok := h.Need(Item{Key: "c", Size: 100}); !ok || math.Abs(need-3000) > 1e-6 {
		t.Errorf("need of a new key of size 100: %v %v", need, ok)
	}
}
