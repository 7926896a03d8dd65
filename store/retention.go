package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/batchwatch/batchwatch/flags"
)

// Retention is how long each table keeps data, in days. Data goes by whole
// partitions: events and quarantine are partitioned by day, jobs, attempts
// and usage by month (a month is dropped once its last day is older than the
// retention); usage goes with attempts, which it joins. Zero keeps forever.
type Retention struct {
	EventsDays     int
	JobsDays       int
	AttemptsDays   int
	QuarantineDays int
}

// AddRetentionFlags registers the --retention.* flags.
func AddRetentionFlags(fg flags.Group) *Retention {
	r := &Retention{}
	fg.Flag("retention.events-days", "Days of raw events to keep (daily partitions); 0 keeps forever.").Default("90").IntVar(&r.EventsDays)
	fg.Flag("retention.jobs-days", "Days of job history to keep (monthly partitions by creation time); 0 keeps forever.").Default("730").IntVar(&r.JobsDays)
	fg.Flag("retention.attempts-days", "Days of attempts, and of their usage (batchwatch-run), to keep (monthly partitions); 0 keeps forever.").Default("730").IntVar(&r.AttemptsDays)
	fg.Flag("retention.quarantine-days", "Days of quarantined messages to keep (daily partitions); 0 keeps forever.").Default("30").IntVar(&r.QuarantineDays)
	return r
}

// Validate checks that job history outlives raw events, as documented.
func (r Retention) Validate() error {
	for name, d := range map[string]int{"events": r.EventsDays, "jobs": r.JobsDays, "attempts": r.AttemptsDays, "quarantine": r.QuarantineDays} {
		if d < 0 {
			return fmt.Errorf("retention of %s: %d days is negative", name, d)
		}
	}
	if r.JobsDays != 0 && (r.EventsDays == 0 || r.JobsDays < r.EventsDays) {
		return fmt.Errorf("retention: jobs (%d days) must be kept at least as long as events (%d days)", r.JobsDays, r.EventsDays)
	}
	return nil
}

// retainedTable is a table and the days retention keeps of it.
type retainedTable struct {
	table string
	days  int
}

// retainedTables lists every partitioned table with its retention. Tables
// derived from jobs or attempts (migrations 010-013: lookups, daily copies,
// rollups) follow the retention of what they derive from.
func retainedTables(r Retention) []retainedTable {
	out := []retainedTable{{"events", r.EventsDays}, {"quarantine", r.QuarantineDays}}
	for _, t := range []string{"jobs", "job_keys", "array_children", "job_params", "job_tags", "jobs_by_day", "jobs_active", "jobs_daily"} {
		out = append(out, retainedTable{t, r.JobsDays})
	}
	for _, t := range []string{"attempts", "attempts_by_day", "usage", "usage_daily"} {
		out = append(out, retainedTable{t, r.AttemptsDays})
	}
	return out
}

// DroppedPartition is one partition retention removed.
type DroppedPartition struct {
	Table     string
	Partition string
}

// EnforceRetention drops every partition whose data is entirely older than
// the table's retention at now. In cluster mode it lists the partitions of
// every shard (one replica of each) and drops them from the local tables
// ON CLUSTER.
func (s *Store) EnforceRetention(ctx context.Context, r Retention, now time.Time) ([]DroppedPartition, error) {
	var dropped []DroppedPartition
	for _, t := range retainedTables(r) {
		if t.days <= 0 {
			continue
		}
		cutoff := now.UTC().AddDate(0, 0, -t.days)
		parts, err := s.partitions(ctx, t.table)
		if err != nil {
			return dropped, err
		}
		for _, p := range parts {
			end, ok := partitionEnd(p)
			if !ok || !end.Before(cutoff) {
				continue
			}
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.LocalTable(t.table)+s.OnCluster()+" DROP PARTITION "+p); err != nil {
				return dropped, fmt.Errorf("drop partition %s of %s: %w", p, t.table, err)
			}
			s.log.WithField("table", t.table).WithField("partition", p).Info("retention dropped partition")
			dropped = append(dropped, DroppedPartition{Table: t.table, Partition: p})
		}
	}
	return dropped, nil
}

func (s *Store) partitions(ctx context.Context, table string) ([]string, error) {
	local := table
	if s.cluster != "" {
		local += "_local"
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM "+s.SystemTable("parts")+" WHERE database = ? AND table = ? AND active", s.db, local)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("scan partition: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// partitionEnd returns the first instant after a YYYYMMDD or YYYYMM
// partition.
func partitionEnd(p string) (time.Time, bool) {
	if _, err := strconv.Atoi(p); err != nil {
		return time.Time{}, false
	}
	switch len(p) {
	case 8:
		t, err := time.Parse("20060102", p)
		return t.AddDate(0, 0, 1), err == nil
	case 6:
		t, err := time.Parse("200601", p)
		return t.AddDate(0, 1, 0), err == nil
	}
	return time.Time{}, false
}
