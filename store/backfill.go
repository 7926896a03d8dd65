package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// backfillCopy fills one derived table from one partition of its source,
// as its materialized view would have (migrations 010-012). {db} is the
// database, {range} bounds the source to the partition.
type backfillCopy struct {
	target string
	query  string
}

// backfillSources are the tables the back-fill reads, by partition, and
// what it copies from each. Copies read without FINAL where every version of
// a row may go in (the targets fold them as the views' rows are folded);
// jobs_active takes only the latest state of unfinished jobs.
func backfillSources() map[string][]backfillCopy {
	return map[string][]backfillCopy{
		"jobs": {
			{"job_keys", "SELECT job_id, job_queue, created_at FROM {db}.jobs WHERE {range}"},
			{"array_children", "SELECT array_parent_id, job_id, job_queue, created_at FROM {db}.jobs WHERE {range} AND array_parent_id != ''"},
			{"job_params", "SELECT key, value, created_at, job_id, job_queue FROM {db}.jobs ARRAY JOIN param_keys AS key, param_values AS value WHERE {range}"},
			{"job_tags", "SELECT key, value, created_at, job_id, job_queue FROM {db}.jobs ARRAY JOIN tag_keys AS key, tag_values AS value WHERE {range}"},
			{"jobs_by_day", "SELECT job_id, job_name, job_queue, job_definition, status, status_reason, failure_class, created_at," +
				" started_at_ms, stopped_at_ms, queue_wait_ms, run_time_ms, attempts, exit_code, vcpus, memory_mib, gpus," +
				" instance_type, is_array_parent, array_parent_id, tag_keys, tag_values, log_stream," +
				" job_definition_revision, image, log_group, log_region, account, region," +
				" last_event_time, version FROM {db}.jobs WHERE {range}"},
			{"jobs_active", "SELECT job_id, job_name, job_queue, job_definition, status, created_at, last_event_time, version" +
				" FROM {db}.jobs FINAL WHERE {range} AND status NOT IN ('SUCCEEDED', 'FAILED')"},
		},
		"attempts": {
			{"attempts_by_day", "SELECT job_id, job_queue, job_definition, attempt, finished, created_at, started_at, duration_ms," +
				" exit_code, failure_class, vcpus, memory_mib, gpus, tag_keys, tag_values, version FROM {db}.attempts WHERE {range}"},
		},
	}
}

// BackfillProgress is reported after each partition.
type BackfillProgress struct {
	Source    string
	Partition string
	Done      int // partitions of this source done, this one included
	Total     int
	Rows      uint64 // rows of the source partition
	Skipped   bool   // done by an earlier run
	Took      time.Duration
}

// Backfill copies the existing jobs and attempts into the tables that
// migrations 010-012 added, one source partition (a month) at a time, and
// records each finished partition in backfill_state, so an interrupted run
// resumes where it stopped. Ingest may keep running: the views feed the new
// tables with everything written since the migration, and rows copied twice
// fold like redeliveries. progress is called after every partition.
func (s *Store) Backfill(ctx context.Context, progress func(BackfillProgress)) error {
	done, err := s.backfilled(ctx)
	if err != nil {
		return err
	}
	sources := backfillSources()
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, src := range names {
		parts, err := s.partitions(ctx, src)
		if err != nil {
			return err
		}
		sort.Strings(parts)
		for i, p := range parts {
			pr := BackfillProgress{Source: src, Partition: p, Done: i + 1, Total: len(parts), Skipped: done[src+"/"+p]}
			if !pr.Skipped {
				start := time.Now()
				if pr.Rows, err = s.backfillPartition(ctx, src, p, sources[src]); err != nil {
					return err
				}
				pr.Took = time.Since(start)
			}
			progress(pr)
		}
	}
	return nil
}

func (s *Store) backfilled(ctx context.Context) (map[string]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT source, partition FROM "+s.Table("backfill_state"))
	if err != nil {
		return nil, fmt.Errorf("read backfill_state: %w", err)
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var src, p string
		if err := rows.Scan(&src, &p); err != nil {
			return nil, fmt.Errorf("scan backfill_state: %w", err)
		}
		done[src+"/"+p] = true
	}
	return done, rows.Err()
}

// backfillPartition copies one monthly partition (YYYYMM) of src.
func (s *Store) backfillPartition(ctx context.Context, src, p string, copies []backfillCopy) (uint64, error) {
	start, err := time.Parse("200601", p)
	if err != nil {
		return 0, fmt.Errorf("backfill %s: partition %q is not a month", src, p)
	}
	rng := fmt.Sprintf("created_at >= toDateTime('%s', 'UTC') AND created_at < toDateTime('%s', 'UTC')",
		start.Format("2006-01-02 15:04:05"), start.AddDate(0, 1, 0).Format("2006-01-02 15:04:05"))
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Table(src)+" WHERE "+rng).Scan(&n); err != nil {
		return 0, fmt.Errorf("backfill %s %s: count: %w", src, p, err)
	}
	for _, c := range copies {
		q := strings.NewReplacer("{db}", s.db, "{range}", rng).Replace(c.query)
		if err := s.conn.Exec(ctx, "INSERT INTO "+s.Table(c.target)+" "+q); err != nil {
			return 0, fmt.Errorf("backfill %s from %s %s: %w", c.target, src, p, err)
		}
	}
	if err := s.conn.Exec(ctx, "INSERT INTO "+s.Table("backfill_state")+" (source, partition, rows, done_at) SELECT ?, ?, toUInt64(?), now()", src, p, n); err != nil {
		return 0, fmt.Errorf("record backfill of %s %s: %w", src, p, err)
	}
	return n, nil
}
