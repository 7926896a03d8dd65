//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/rightsize"
	"github.com/batchwatch/batchwatch/testenv"
)

// batchwatch rightsize as the command runs it: flags, ClickHouse, table and
// JSON.
func TestRightsizeCommand(t *testing.T) {
	st := testenv.Store(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(-2 * time.Hour)
	b, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+st.Table("attempts")+
		" (job_id, attempt, job_definition, tag_keys, tag_values, platform, vcpus, memory_mib, created_at, started_at, started_at_ms, finished, version)")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.Conn().PrepareBatch(ctx, "INSERT INTO "+st.Table("usage")+
		" (job_id, attempt, started_at, started_at_ms, wall_seconds, cpu_mean_vcpus, cpu_p95_vcpus, memory_peak_bytes, version)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		id := "job-" + string(rune('a'+i))
		if err := b.Append(id, uint16(0), "train", []string{"tier"}, []string{"large"}, "EC2", float32(8), uint32(32768), at, at, at.UnixMilli(), uint8(1), uint64(1)); err != nil {
			t.Fatal(err)
		}
		if err := u.Append(id, uint16(0), at, at.UnixMilli(), float64(3600), float32(1.5), float32(1.8), uint64(6000+i)<<20, uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := u.Send(); err != nil {
		t.Fatal(err)
	}
	for _, output := range []string{"table", "json"} {
		var out bytes.Buffer
		app := kingpin.New("batchwatch", "")
		c := rightsizeCommand(app, &out)
		if _, err := app.Parse([]string{"rightsize", "--clickhouse.addr", testenv.ClickHouseAddr(), "--clickhouse.database", st.Database(),
			"--min-attempts", "10", "--output", output}); err != nil {
			t.Fatal(err)
		}
		if err := c.run(ctx, logging.Discard()); err != nil {
			t.Fatal(err)
		}
		switch output {
		case "table":
			// p95 6011 MiB × 1.2 → 7424 MiB; 1.8 × 1.2 → 3 vCPUs.
			if !strings.Contains(out.String(), "train") || !strings.Contains(out.String(), "7424") {
				t.Errorf("table:\n%s", out.String())
			}
		case "json":
			var rows []rightsize.Row
			if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 1 ||
				rows[0].Recommended != (rightsize.Request{VCPUs: 3, MemoryMiB: 7424}) || rows[0].Tier != "large" || rows[0].MonthlySaving <= 0 {
				t.Errorf("json %s: %v", out.String(), err)
			}
		}
	}
}
