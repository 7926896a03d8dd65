//go:build integration

package rightsize

import (
	"context"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/testenv"
)

// Load on real ClickHouse: attempts joined with their usage (FINAL: a usage
// row delivered twice counts once), the tier from the tag, attempts without
// usage or before the window left out.
func TestLoadJoinsAttemptsWithUsage(t *testing.T) {
	st := testenv.Store(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	recent, old := now.Add(-time.Hour), now.Add(-40*24*time.Hour)
	type att struct {
		job      string
		attempt  uint16
		def      string
		tier     string
		platform string
		at       time.Time
		usage    int // rows of usage: 0, 1 or 2 (a redelivery)
		peak     uint64
		oom      uint8
	}
	atts := []att{
		{"j1", 0, "build", "small", "EC2", recent, 1, 1 << 30, 0},
		{"j2", 0, "build", "small", "EC2", recent, 2, 2 << 30, 0},
		{"j2", 1, "build", "small", "EC2", recent, 1, 3 << 30, 1},
		{"j3", 0, "build", "large", "FARGATE", recent, 1, 5 << 30, 0},
		{"j4", 0, "build", "small", "EC2", recent, 0, 0, 0}, // not wrapped
		{"j5", 0, "build", "small", "EC2", old, 1, 1 << 30, 0},
	}
	b, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+st.Table("attempts")+
		" (job_id, attempt, job_definition, tag_keys, tag_values, platform, vcpus, memory_mib, created_at, started_at, started_at_ms, finished, version)")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		if err := b.Append(a.job, a.attempt, a.def, []string{"tier", "app"}, []string{a.tier, "x"}, a.platform, float32(2), uint32(4096), a.at, a.at, a.at.UnixMilli(), uint8(1), uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	u, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+st.Table("usage")+
		" (job_id, attempt, started_at, started_at_ms, wall_seconds, cpu_mean_vcpus, cpu_p95_vcpus, memory_peak_bytes, oom_killed, version)")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		for range a.usage {
			if err := u.Append(a.job, a.attempt, a.at, a.at.UnixMilli(), float64(600), float32(0.5), float32(0.9), a.peak, a.oom, uint64(a.at.UnixMilli())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := u.Send(); err != nil {
		t.Fatal(err)
	}

	got, err := Load(ctx, st.Conn(), st.Table("attempts"), st.Table("usage"), "tier", now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d attempts loaded, want 4: %+v", len(got), got)
	}
	var small, large, ooms int
	for _, a := range got {
		switch {
		case a.Tier == "small" && a.Platform == "EC2":
			small++
		case a.Tier == "large" && a.Platform == "FARGATE" && a.PeakMiB == 5120:
			large++
		}
		if a.OOMKilled {
			ooms++
		}
		if a.Requested != (Request{2, 4096}) || a.CPUP95 != float64(float32(0.9)) || a.WallSeconds != 600 || a.Definition != "build" {
			t.Errorf("attempt %+v", a)
		}
	}
	if small != 3 || large != 1 || ooms != 1 {
		t.Errorf("small %d, large %d, oom %d; want 3, 1, 1", small, large, ooms)
	}
	if d := WindowDays(got, now, 30*24*time.Hour); d < 0.9/24 || d > 1.1/24 {
		t.Errorf("window %.3f days, want about an hour", d)
	}
}
