package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// rollup is one daily rollup table, recomputed one partition (a day of job
// creation) at a time from a source table partitioned the same way.
type rollup struct {
	table  string
	source string
	// query selects the rollup's rows of one day; {db} is the database,
	// {from} and {to} the day's bounds as DateTime literals.
	query string
}

// dayWhere bounds a source table to one day of creation.
const dayWhere = "created_at >= {from} AND created_at < {to}"

// rollupTables are the daily rollup tables (migration 013). Each reads its
// source with FINAL, so a job counts once, in its latest state, whatever the
// redeliveries, late events or re-runs.
func rollupTables() []rollup {
	return []rollup{
		{
			table:  "jobs_daily",
			source: "jobs_by_day",
			query: "SELECT toDate(created_at) AS created_day," +
				" if(stopped_at_ms > 0, toDate(toDateTime(intDiv(stopped_at_ms, 1000), 'UTC')), toDate(0)) AS stopped_day," +
				" account, region, job_queue, job_definition, tag_keys, tag_values, status, failure_class, is_array_parent," +
				" count() AS n_jobs, countIf(attempts > 0) AS n_jobs_started, sum(attempts) AS n_attempts, sum(if(attempts > 0, attempts - 1, 0)) AS n_retries," +
				" countIf(attempts > 1) AS n_jobs_retried," +
				" quantilesTDigestIfState(0.5, 0.95, 0.99)(queue_wait_ms, queue_wait_ms >= 0) AS queue_wait," +
				" quantilesTDigestIfState(0.5, 0.95, 0.99)(run_time_ms, run_time_ms >= 0) AS run_time" +
				" FROM {db}.jobs_by_day FINAL WHERE " + dayWhere +
				" GROUP BY created_day, stopped_day, account, region, job_queue, job_definition, tag_keys, tag_values," +
				" status, failure_class, is_array_parent",
		},
		{
			table:  "usage_daily",
			source: "attempts_by_day",
			query: "SELECT toDate(created_at) AS created_day, toDate(started_at) AS started_day, account, region," +
				" job_queue, job_definition, tag_keys, tag_values, failure_class, finished," +
				" count() AS attempts, countIf(duration_ms > 0) AS timed_attempts, countIf(failure_class = 'spot_reclaimed') AS spot_reclaims," +
				" sumIf(vcpus * duration_ms, duration_ms > 0) AS vcpu_ms," +
				" sumIf(memory_mib * duration_ms, duration_ms > 0) AS memory_mib_ms," +
				" sumIf(gpus * duration_ms, duration_ms > 0) AS gpu_ms" +
				" FROM (SELECT job_queue, job_id, job_definition, finished, created_at, started_at, duration_ms, failure_class," +
				" vcpus, memory_mib, gpus, tag_keys, tag_values FROM {db}.attempts_by_day FINAL WHERE " + dayWhere + ")" +
				" ANY LEFT JOIN (SELECT job_queue, job_id, account, region FROM {db}.jobs_by_day FINAL WHERE " + dayWhere + ")" +
				" USING (job_queue, job_id)" +
				" GROUP BY created_day, started_day, account, region, job_queue, job_definition, tag_keys, tag_values," +
				" failure_class, finished",
		},
	}
}

// rollupSQL is r's query for the days of partitions first to last
// (YYYYMMDD), both included.
func (s *Store) rollupSQL(r rollup, first, last string) (string, error) {
	from, err := time.Parse("20060102", first)
	if err != nil {
		return "", fmt.Errorf("rollup %s: partition %q is not a day", r.table, first)
	}
	to, err := time.Parse("20060102", last)
	if err != nil {
		return "", fmt.Errorf("rollup %s: partition %q is not a day", r.table, last)
	}
	return strings.NewReplacer(
		"{db}", s.db,
		"{from}", "toDateTime('"+from.Format("2006-01-02 15:04:05")+"', 'UTC')",
		"{to}", "toDateTime('"+to.AddDate(0, 0, 1).Format("2006-01-02 15:04:05")+"', 'UTC')",
	).Replace(r.query), nil
}

// dayRuns splits day partitions (YYYYMMDD) into runs of consecutive days
// of at most maxRun days, each sorted.
func dayRuns(parts []string, maxRun int) [][]string {
	sorted := append([]string(nil), parts...)
	sort.Strings(sorted)
	var runs [][]string
	for _, p := range sorted {
		if n := len(runs); n > 0 && len(runs[n-1]) < maxRun {
			prev, err1 := time.Parse("20060102", runs[n-1][len(runs[n-1])-1])
			cur, err2 := time.Parse("20060102", p)
			if err1 == nil && err2 == nil && cur.Equal(prev.AddDate(0, 0, 1)) {
				runs[n-1] = append(runs[n-1], p)
				continue
			}
		}
		runs = append(runs, []string{p})
	}
	return runs
}

// partState is what RefreshRollups knows of one source partition.
type partState struct {
	seenMax time.Time // newest part of the source when last refreshed
	started time.Time // when that refresh began (server time)
}

// dirty tells whether a partition whose newest part is newest needs a
// refresh: a part came after the last refresh saw the partition, or the part
// it saw was written in the second that refresh began, so parts written in
// that same second may have been missed.
func (st partState) dirty(newest time.Time) bool {
	return newest.After(st.seenMax) || !st.seenMax.Before(st.started.Add(-time.Second))
}

// RefreshRollups recomputes every rollup partition whose source partition
// changed since it was last computed, and returns how many it recomputed.
// A day is computed into the rollup's stage table and swapped in with
// REPLACE PARTITION, so readers see the old day or the new one, never half.
// Run it from one process at a time (ingest's maintenance does).
func (s *Store) RefreshRollups(ctx context.Context) (int, error) {
	n := 0
	for _, r := range rollupTables() {
		dirty, err := s.dirtyPartitions(ctx, r)
		if err != nil {
			return n, err
		}
		parts := make([]string, 0, len(dirty))
		for p := range dirty {
			parts = append(parts, p)
		}
		// One query computes a run of up to a week (a back-fill's two
		// years in about 105 queries, each well within the read timeout
		// on a busy server); each day is then swapped in on its own.
		for _, run := range dayRuns(parts, 7) {
			if err := s.refreshRun(ctx, r, run, dirty); err != nil {
				return n, err
			}
			n += len(run)
		}
	}
	return n, nil
}

// dirtyPartitions returns the source partitions of r whose newest part is
// newer than what the last refresh saw, with that newest part's time. A part
// written in the second a refresh began may have been missed by it, so such
// a partition is refreshed once more.
func (s *Store) dirtyPartitions(ctx context.Context, r rollup) (map[string]time.Time, error) {
	known := map[string]partState{}
	rows, err := s.conn.Query(ctx, "SELECT partition, argMax(seen_max, refreshed_at), argMax(started_at, refreshed_at) FROM "+
		s.Table("rollup_state")+" WHERE rollup = ? GROUP BY partition", r.table)
	if err != nil {
		return nil, fmt.Errorf("read rollup_state of %s: %w", r.table, err)
	}
	for rows.Next() {
		var p string
		var st partState
		if err := rows.Scan(&p, &st.seenMax, &st.started); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan rollup_state: %w", err)
		}
		known[p] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollup_state of %s: %w", r.table, err)
	}
	rows, err = s.conn.Query(ctx, "SELECT partition, max(modification_time) FROM system.parts"+
		" WHERE database = ? AND table = ? AND active GROUP BY partition", s.db, r.source)
	if err != nil {
		return nil, fmt.Errorf("list parts of %s: %w", r.source, err)
	}
	defer rows.Close()
	dirty := map[string]time.Time{}
	for rows.Next() {
		var p string
		var newest time.Time
		if err := rows.Scan(&p, &newest); err != nil {
			return nil, fmt.Errorf("scan parts of %s: %w", r.source, err)
		}
		if st, ok := known[p]; !ok || st.dirty(newest) {
			dirty[p] = newest
		}
	}
	return dirty, rows.Err()
}

// refreshRun recomputes the consecutive days run of r; seen holds the
// newest source part of each day.
func (s *Store) refreshRun(ctx context.Context, r rollup, run []string, seen map[string]time.Time) error {
	q, err := s.rollupSQL(r, run[0], run[len(run)-1])
	if err != nil {
		return err
	}
	var started time.Time
	if err := s.conn.QueryRow(ctx, "SELECT now()").Scan(&started); err != nil {
		return fmt.Errorf("rollup %s: server time: %w", r.table, err)
	}
	stage := s.Table(r.table + "_stage")
	exec := func(stmt string) error {
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("rollup %s days %s-%s: %w", r.table, run[0], run[len(run)-1], err)
		}
		return nil
	}
	for _, p := range run {
		if err := exec("ALTER TABLE " + stage + " DROP PARTITION " + p); err != nil {
			return err
		}
	}
	if err := exec("INSERT INTO " + stage + " " + q); err != nil {
		return err
	}
	for _, p := range run {
		if err := exec("ALTER TABLE " + s.Table(r.table) + " REPLACE PARTITION " + p + " FROM " + stage); err != nil {
			return err
		}
		if err := exec("ALTER TABLE " + stage + " DROP PARTITION " + p); err != nil {
			return err
		}
		if err := s.conn.Exec(ctx, "INSERT INTO "+s.Table("rollup_state")+" (rollup, partition, seen_max, started_at, refreshed_at)"+
			" SELECT ?, ?, toDateTime(?, 'UTC'), toDateTime(?, 'UTC'), now()", r.table, p, seen[p].Unix(), started.Unix()); err != nil {
			return fmt.Errorf("record rollup %s partition %s: %w", r.table, p, err)
		}
	}
	s.log.WithField("rollup", r.table).WithField("from", run[0]).WithField("days", len(run)).Debug("rollup days refreshed")
	return nil
}

// PruneActive keeps jobs_active small: it merges the table, so each job
// keeps only its latest row, then deletes the jobs that finished more than
// an hour ago (by then their earlier rows have been merged away). The
// delete is a mutation that ClickHouse applies in the background.
func (s *Store) PruneActive(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "OPTIMIZE TABLE "+s.Table("jobs_active")+" FINAL"); err != nil {
		return fmt.Errorf("merge jobs_active: %w", err)
	}
	if err := s.conn.Exec(ctx, "ALTER TABLE "+s.Table("jobs_active")+
		" DELETE WHERE status IN ('SUCCEEDED', 'FAILED') AND last_event_time < now() - INTERVAL 1 HOUR"); err != nil {
		return fmt.Errorf("prune jobs_active: %w", err)
	}
	return nil
}

// Maintain refreshes the rollups and prunes jobs_active: what ingest runs
// every --history.refresh-interval.
func (s *Store) Maintain(ctx context.Context) error {
	n, err := s.RefreshRollups(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.WithField("partitions", n).Info("rollups refreshed")
	}
	return s.PruneActive(ctx)
}
