package rightsize

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// loadQuery joins each finished attempt (what it asked for) with its usage
// (what it used). %[1]s and %[2]s are the attempts and usage tables.
const loadQuery = `SELECT a.job_definition, a.tag_values[indexOf(a.tag_keys, ?)] AS tier, a.platform, a.started_at_ms,
       a.vcpus, a.memory_mib, u.memory_peak_bytes, u.cpu_p95_vcpus, u.cpu_mean_vcpus, u.wall_seconds, u.oom_killed
FROM %[1]s AS a FINAL
INNER JOIN (
    SELECT job_id, attempt, memory_peak_bytes, cpu_p95_vcpus, cpu_mean_vcpus, wall_seconds, oom_killed
    FROM %[2]s FINAL
    WHERE started_at >= toDateTime(?)
) AS u USING (job_id, attempt)
WHERE a.started_at >= toDateTime(?) AND a.finished = 1`

// Load reads the attempts started since since that have a usage row, with
// the job definition, the tierTag tag, the request and the usage. attempts
// and usage are the tables' full names (database.table).
func Load(ctx context.Context, conn driver.Conn, attempts, usage, tierTag string, since time.Time) ([]Attempt, error) {
	at := uint32(since.Unix())
	rows, err := conn.Query(ctx, fmt.Sprintf(loadQuery, attempts, usage), tierTag, at, at)
	if err != nil {
		return nil, fmt.Errorf("query usage history: %w", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var vcpus, p95, mean float32
		var mib uint32
		var peak uint64
		var oom uint8
		if err := rows.Scan(&a.Definition, &a.Tier, &a.Platform, &a.StartedAtMs, &vcpus, &mib, &peak, &p95, &mean, &a.WallSeconds, &oom); err != nil {
			return nil, fmt.Errorf("read usage history: %w", err)
		}
		a.Requested = Request{VCPUs: float64(vcpus), MemoryMiB: int64(mib)}
		a.PeakMiB, a.CPUP95, a.CPUMean, a.OOMKilled = float64(peak)/(1<<20), float64(p95), float64(mean), oom == 1
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read usage history: %w", err)
	}
	return out, nil
}
