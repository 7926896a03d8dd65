//go:build integration

package ingest

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// slowForms are the queries of docs/sql.md as they were before the lookup
// tables, daily tables and rollups (they read jobs, attempts and events
// with FINAL across all history), in the order of docs/sql.md, plus the
// slow forms of the queries added with them (14-17).
func slowForms() []string {
	return []string{
		`SELECT failure_class, status_reason, count() AS jobs
FROM batchwatch.jobs FINAL
WHERE status = 'FAILED'
  AND toDate(toDateTime(intDiv(stopped_at_ms, 1000))) = yesterday()
GROUP BY failure_class, status_reason
ORDER BY jobs DESC`,
		`SELECT job_id, job_name, job_queue, status, failure_class, created_at, log_stream
FROM batchwatch.jobs FINAL
WHERE param_values[indexOf(param_keys, 'accountId')] = 'acct-003'
ORDER BY created_at DESC
LIMIT 100`,
		`SELECT job_queue,
       toStartOfHour(created_at) AS hour,
       round(quantile(0.95)(queue_wait_ms) / 1000, 1) AS p95_wait_seconds,
       count() AS jobs
FROM batchwatch.jobs FINAL
WHERE queue_wait_ms >= 0 AND created_at >= now() - INTERVAL 7 DAY
GROUP BY job_queue, hour
ORDER BY job_queue, hour`,
		`SELECT job_definition,
       sum(attempts - 1) AS retries,
       countIf(attempts > 1) AS jobs_retried,
       count() AS jobs
FROM batchwatch.jobs FINAL
WHERE attempts > 0 AND is_array_parent = 0
GROUP BY job_definition
ORDER BY retries DESC`,
		`SELECT toDate(started_at) AS day, job_queue, count() AS reclaimed_attempts
FROM batchwatch.attempts FINAL
WHERE failure_class = 'spot_reclaimed'
GROUP BY day, job_queue
ORDER BY day, job_queue`,
		`SELECT job_id, job_name, job_queue, job_definition,
       round(run_time_ms / 1000) AS run_seconds,
       round(queue_wait_ms / 1000) AS wait_seconds,
       attempts
FROM batchwatch.jobs FINAL
WHERE status = 'SUCCEEDED' AND run_time_ms > 0 AND created_at >= now() - INTERVAL 7 DAY
ORDER BY run_time_ms DESC
LIMIT 20`,
		`SELECT job_id, job_name, job_queue, status_reason,
       created_at, last_event_time,
       intDiv(toUInt32(now()) - toUInt32(created_at), 60) AS minutes_since_created
FROM batchwatch.jobs FINAL
WHERE status = 'RUNNABLE' AND created_at < now() - INTERVAL 30 MINUTE
ORDER BY created_at`,
		`SELECT tag_values[indexOf(tag_keys, 'product')] AS product,
       tag_values[indexOf(tag_keys, 'tier')] AS tier,
       round(sum(vcpus * duration_ms) / 3600000, 2) AS vcpu_hours,
       round(sum(memory_mib / 1024 * duration_ms) / 3600000, 2) AS gib_hours,
       count() AS attempts
FROM batchwatch.attempts FINAL
WHERE finished = 1 AND duration_ms > 0
GROUP BY product, tier
ORDER BY vcpu_hours DESC`,
		`SELECT status, count() AS children, min(created_at) AS first_created, max(stopped_at_ms) AS last_stopped_ms
FROM batchwatch.jobs FINAL
WHERE array_parent_id = '3f0d2c1a-5b6e-4f7a-8c9d-0e1f2a3b4c5d'
GROUP BY status
ORDER BY status`,
		`SELECT event_time, detail_type, status, status_reason, attempts, exit_code, log_stream, source
FROM batchwatch.events FINAL
WHERE job_id = '4c7599ae-0a82-49aa-ba5a-4727fcce14a8'
ORDER BY event_time_ms, version`,
		`SELECT attempt, started_at, round(duration_ms / 1000) AS seconds, exit_code,
       failure_class, reason, status_reason, log_stream
FROM batchwatch.attempts FINAL
WHERE job_id = '4c7599ae-0a82-49aa-ba5a-4727fcce14a8'
ORDER BY attempt`,
		`SELECT job_queue,
       countIf(status = 'FAILED') AS failed,
       count() AS finished,
       round(100 * failed / finished, 1) AS failed_percent
FROM batchwatch.jobs FINAL
WHERE status IN ('SUCCEEDED', 'FAILED') AND is_array_parent = 0
  AND stopped_at_ms >= (toUInt64(toUInt32(now())) - 86400) * 1000
GROUP BY job_queue
ORDER BY failed_percent DESC`,
		`SELECT toStartOfHour(received_at) AS hour, source, error, count() AS messages, any(body) AS example
FROM batchwatch.quarantine FINAL
GROUP BY hour, source, error
ORDER BY hour DESC, messages DESC`,
		`SELECT toStartOfMonth(toDate(created_at)) AS month, account, region, job_queue,
       count() AS created,
       countIf(status = 'FAILED') AS failed,
       arrayMap(q -> round(q / 1000, 1), quantilesTDigestIf(0.5, 0.95, 0.99)(queue_wait_ms, queue_wait_ms >= 0)) AS wait_p50_p95_p99_seconds
FROM batchwatch.jobs FINAL
WHERE is_array_parent = 0
GROUP BY month, account, region, job_queue
ORDER BY month, account, region, job_queue`,
		`SELECT toStartOfMonth(toDate(started_at)) AS month, tag_values[indexOf(tag_keys, 'team')] AS team,
       round(sum(vcpus * duration_ms) / 3600000, 2) AS vcpu_hours,
       round(sum(memory_mib * duration_ms) / 1024 / 3600000, 2) AS gib_hours,
       round(sum(gpus * duration_ms) / 3600000, 2) AS gpu_hours
FROM batchwatch.attempts FINAL
WHERE finished = 1 AND duration_ms > 0
GROUP BY month, team
ORDER BY month, vcpu_hours DESC`,
		`SELECT job_id, job_name, job_queue, status, created_at
FROM batchwatch.jobs FINAL
WHERE created_at >= now() - INTERVAL 1 DAY AND tag_values[indexOf(tag_keys, 'team')] = 'ml-platform'
ORDER BY created_at DESC
LIMIT 100`,
		`SELECT job_id, job_name, job_queue, job_definition, status, status_reason, failure_class,
       attempts, exit_code, created_at, queue_wait_ms, run_time_ms, log_stream
FROM batchwatch.jobs FINAL
WHERE job_id = '4c7599ae-0a82-49aa-ba5a-4727fcce14a8'`,
		// 18-20, the usage queries, read attempts and usage with FINAL:
		// they are their own slow form ("").
		"", "", "",
	}
}

// TestFastFormsMatchSlowForms loads history through the pipeline with
// redelivered events (the same event id in other batches), late events (a
// RUNNABLE event of finished jobs, after the active-jobs table was pruned),
// a job re-run after SUCCEEDED (a second attempt that fails), jobs from 400
// days ago, and rollups refreshed between the loads; then every query of
// docs/sql.md must answer exactly what its slow form answers.
func TestFastFormsMatchSlowForms(t *testing.T) {
	doc, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	slow := slowForms()
	if len(blocks) != len(slow) {
		t.Fatalf("docs/sql.md has %d queries, the test knows the slow forms of %d", len(blocks), len(slow))
	}
	st := testenv.Store(t)
	ctx := context.Background()
	rerun, late := loadDocsHistory(t, st, true)
	loadUsage(t, st, time.Now().UTC())
	if err := st.PruneActive(ctx); err != nil {
		t.Fatal(err)
	}

	// Second load: the re-run, late events, and every event of the re-run
	// job and of the late jobs delivered again.
	var second []mixEvent
	for _, j := range late {
		last := j.Events[len(j.Events)-1]
		d := map[string]any{}
		for k, v := range last.Detail {
			d[k] = v
		}
		d["status"] = "RUNNABLE"
		d["attempts"] = []any{}
		second = append(second, mixEvent{DetailType: last.DetailType, Time: last.Time.Add(-time.Hour), Detail: d})
		second = append(second, j.Events...)
	}
	second = append(second, rerunEvents(rerun)...)
	second = append(second, rerun.Events...)
	submitEvents(t, st, second, "second")
	if _, err := st.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if n := queryUint(t, st, "SELECT count() FROM "+st.Table("jobs")+" FINAL WHERE job_id = '"+rerun.ID+"' AND status = 'FAILED' AND attempts = 2"); n != 1 {
		t.Fatalf("the re-run job is not FAILED with 2 attempts in jobs FINAL")
	}

	for i, b := range blocks {
		fast := strings.ReplaceAll(b[1], "batchwatch.", st.Database()+".")
		slowSQL := slow[i]
		if slowSQL == "" {
			slowSQL = blocks[i][1]
		}
		slowQ := strings.ReplaceAll(slowSQL, "batchwatch.", st.Database()+".")
		want, got := queryRows(t, st, slowQ), queryRows(t, st, fast)
		if len(want) == 0 {
			t.Errorf("query %d: the slow form returns no rows: the data does not exercise it", i+1)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("query %d: fast form differs from slow form\nslow: %v\nfast: %v\n%s", i+1, want, got, b[1])
		}
	}
}

// docJob and docArray are the ids docs/sql.md uses as examples.
const (
	docJob   = "4c7599ae-0a82-49aa-ba5a-4727fcce14a8"
	docArray = "3f0d2c1a-5b6e-4f7a-8c9d-0e1f2a3b4c5d"
)

// loadDocsHistory loads yesterday's jobs (including the ids docs/sql.md
// uses), jobs of the last two hours, jobs of 400 days ago and a broken
// message through the pipeline, every event delivered twice when dup is
// set, and refreshes the rollups. It returns a job that SUCCEEDED (to be
// re-run) and a few finished jobs (to get late events).
func loadDocsHistory(t *testing.T, st *store.Store, dup bool) (*mixJob, []*mixJob) {
	t.Helper()
	now := time.Now().UTC()
	y := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	mix := newMix(3, y.Add(6*time.Hour))
	mix.standard(40)
	mix.arrayJob(docArray, "builds-medium", 4)
	j := mix.job("spot_retry", "builds-high", nil)
	for _, ev := range j.Events {
		ev.Detail["jobId"] = docJob
		ev.Detail["jobArn"] = "arn:aws:batch:us-east-1:123456789012:job/" + docJob
	}
	j.ID = docJob
	rerun := mix.job("ok", "builds-low", nil)
	// Jobs of the last two hours, for the queries over the last 24 hours,
	// which yesterday's jobs have left by the afternoon (UTC).
	recent := newMix(4, now.Add(-2*time.Hour))
	recent.standard(10)
	old := newMix(5, now.AddDate(0, 0, -400))
	old.standard(16)
	var evs []mixEvent
	for _, m := range []*mixBuilder{mix, recent, old} {
		evs = append(evs, m.events()...)
	}
	if dup {
		// Redeliveries: the same events again, in other batches.
		for i := len(evs) - 1; i >= 0; i -= 2 {
			evs = append(evs, evs[i])
		}
	}
	submitEvents(t, st, evs, "doc")
	if _, err := st.RefreshRollups(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rerun, []*mixJob{mix.jobs[0], mix.jobs[3], mix.jobs[6]}
}

// submitEvents runs a pipeline over evs (event ids are prefix and the
// event's index in its job, so a redelivered event keeps its id) and a
// broken message, in batches of 100.
func submitEvents(t *testing.T, st *store.Store, evs []mixEvent, prefix string) {
	t.Helper()
	now := time.Now().UTC()
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 100, FlushInterval: 50 * time.Millisecond}, m, logging.Discard().WithField("t", 1), time.Now)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	for _, ev := range evs {
		id := fmt.Sprintf("%s-%s-%s-%d", prefix, ev.Detail["jobId"], ev.Detail["status"], ev.Time.UnixMilli())
		if err := p.Submit(context.Background(), Message{Body: ev.Envelope(id), Source: "replay", ReceivedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	_ = p.Submit(context.Background(), Message{Body: []byte("{broken"), ID: prefix + ":1", Source: "replay", ReceivedAt: now})
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// rerunEvents re-runs a job that SUCCEEDED: a second attempt starts after
// its end and fails.
func rerunEvents(j *mixJob) []mixEvent {
	last := j.Events[len(j.Events)-1]
	first := last.Detail["attempts"].([]any)
	start, stop := last.Time.Add(time.Hour), last.Time.Add(2*time.Hour)
	mk := func(status string, at time.Time, attempts []any, extra map[string]any) mixEvent {
		d := map[string]any{}
		for k, v := range last.Detail {
			d[k] = v
		}
		d["status"], d["attempts"] = status, attempts
		for k, v := range extra {
			d[k] = v
		}
		return mixEvent{DetailType: last.DetailType, Time: at, Detail: d}
	}
	second := map[string]any{"container": map[string]any{"exitCode": 1, "logStreamName": "model-build/default/rerun"},
		"startedAt": ms(start), "stoppedAt": ms(stop), "statusReason": "Essential container in task exited"}
	both := append(append([]any(nil), first...), second)
	return []mixEvent{
		mk("RUNNING", start, first, map[string]any{"startedAt": ms(start)}),
		mk("FAILED", stop, both, map[string]any{"startedAt": ms(start), "stoppedAt": ms(stop)}),
	}
}

// queryRows returns a query's rows as sorted strings (floats to 6
// significant digits), so that two forms of a query compare as sets.
func queryRows(t *testing.T, st *store.Store, q string) []string {
	t.Helper()
	rows, err := st.Conn().Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out []string
	types := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("scan: %v\n%s", err, q)
		}
		var b strings.Builder
		for _, v := range vals {
			rv := reflect.ValueOf(v).Elem()
			for rv.Kind() == reflect.Pointer && !rv.IsNil() {
				rv = rv.Elem()
			}
			x := rv.Interface()
			switch f := x.(type) {
			case float64:
				fmt.Fprintf(&b, "%.6g|", f)
			case float32:
				fmt.Fprintf(&b, "%.6g|", f)
			case []float64:
				fmt.Fprintf(&b, "%.6g|", f)
			default:
				fmt.Fprintf(&b, "%v|", x)
			}
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
