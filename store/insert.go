package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/batchwatch/batchwatch/batch"
)

// Received is one parsed event with where and when it was received.
type Received struct {
	Event      *batch.Event
	Source     string // "sqs", "replay", "reconcile"
	ReceivedAt time.Time
}

// InsertStats counts the rows one Insert wrote.
type InsertStats struct {
	Events, Jobs, Attempts int
	// Usage counts usage events (batchwatch-run's): written to usage only,
	// not to events, jobs or attempts.
	Usage int
}

// Insert writes a batch of events: every event into events, the newest
// observation of each job into jobs, and the newest view of each attempt
// into attempts. Rows are collapsed within the batch first; across batches
// the ReplacingMergeTree versions decide. Insert is idempotent: retrying a
// batch after a partial failure only produces duplicates that FINAL removes.
func (s *Store) Insert(ctx context.Context, recs []Received) (InsertStats, error) {
	w := s.Begin(ctx, len(recs))
	seen := make(map[string]struct{}, len(recs))
	for i := range recs {
		if id := recs[i].Event.ID; id != "" {
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
		}
		w.Add(&recs[i])
	}
	return w.Commit(ctx)
}

// Window is one batch written while it fills: events stream to ClickHouse
// in blocks of chunkRows inside one open INSERT, which the server squashes
// into few large parts (each part costs files, sorting and later merges,
// so part count, not row count, dominates ClickHouse's work), while the
// newest state of each job and attempt is collapsed in memory. Only a
// Commit that returns nil makes the window durable. A window that fails or
// is aborted may leave some of its events behind (ClickHouse keeps blocks
// it received when the connection closes) but no job or attempt row: the
// retry writes those events again and ReplacingMergeTree drops the
// duplicates. A window is used by one goroutine.
type Window struct {
	s   *Store
	ctx context.Context
	err error // first streaming error; Commit reports it

	stream insertStream // events
	chunk  []*Received
	events int

	latest   map[string]*Received
	attempts map[attemptKey]int
	rows     []attemptRow
	usage    []*Received
}

type attemptKey struct {
	job string
	idx int
}

// Begin opens a window for about hint observations (a size hint for its
// maps; any number may be added). The INSERT is prepared with the first
// block.
func (s *Store) Begin(ctx context.Context, hint int) *Window {
	hint = min(max(hint, 16), 1<<17)
	return &Window{s: s, ctx: ctx, stream: insertStream{s: s, table: "events"}, latest: make(map[string]*Received, hint/4), attempts: make(map[attemptKey]int, hint/4)}
}

// Add adds one observation. Observations without an event id (reconcile's
// DescribeJobs answers) update jobs and attempts but are not events. Each
// event id must be added at most once per window (Insert and the ingest
// pipeline drop duplicates first). The Received must stay unchanged until
// Commit.
func (w *Window) Add(r *Received) {
	e := r.Event
	if e.Usage != nil {
		w.usage = append(w.usage, r)
		return
	}
	if cur, ok := w.latest[e.Job.ID]; !ok || e.Version() > cur.Event.Version() {
		w.latest[e.Job.ID] = r
	}
	w.addAttempts(r)
	if e.ID == "" {
		return
	}
	w.events++
	if w.err != nil {
		return
	}
	w.chunk = append(w.chunk, r)
	if len(w.chunk) >= chunkRows {
		w.err = w.flushEvents(true)
	}
}

func (w *Window) addAttempts(rec *Received) {
	j := &rec.Event.Job
	v := rec.Event.Version()
	put := func(r attemptRow) {
		k := attemptKey{j.ID, r.a.Index}
		if i, ok := w.attempts[k]; ok {
			if w.rows[i].version < r.version {
				w.rows[i] = r
			}
			return
		}
		w.attempts[k] = len(w.rows)
		w.rows = append(w.rows, r)
	}
	for _, a := range j.Attempts {
		put(attemptRow{job: j, a: a, finished: true, version: v})
	}
	// The attempt under way, from a RUNNING event.
	if j.Status == batch.StatusRunning && j.StartedAtMs > 0 {
		put(attemptRow{job: j, a: batch.Attempt{Index: len(j.Attempts), StartedAtMs: j.StartedAtMs}, version: v})
	}
}

// flushEvents sends the buffered chunk as one block of the open INSERT.
func (w *Window) flushEvents(more bool) error {
	if len(w.chunk) == 0 {
		return nil
	}
	err := w.stream.block(w.ctx, eventColumns(w.chunk), more)
	clear(w.chunk)
	w.chunk = w.chunk[:0]
	return err
}

// Abort drops the window. Blocks already streamed may stay in events (see
// Window); jobs and attempts are not written.
func (w *Window) Abort() { w.stream.abort() }

// Commit sends the last events block and ends that INSERT, then writes the
// collapsed jobs and attempts (in parallel, on their own connections). The
// window cannot be used afterwards; after an error, write the same
// observations again through a new window.
func (w *Window) Commit(ctx context.Context) (InsertStats, error) {
	defer w.Abort()
	if w.err == nil {
		w.err = w.flushEvents(false)
	}
	if w.err == nil {
		w.err = w.stream.send()
	}
	if w.err != nil {
		return InsertStats{}, w.err
	}
	jobs := make([]*Received, 0, len(w.latest))
	for _, r := range w.latest {
		jobs = append(jobs, r)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.s.insertJobs(gctx, jobs) })
	g.Go(func() error { return w.s.insertAttempts(gctx, w.rows) })
	if len(w.usage) > 0 {
		g.Go(func() error { return w.s.insertUsage(gctx, w.usage) })
	}
	if err := g.Wait(); err != nil {
		return InsertStats{}, err
	}
	return InsertStats{Events: w.events, Jobs: len(jobs), Attempts: len(w.rows), Usage: len(w.usage)}, nil
}

type attemptRow struct {
	job      *batch.Job
	a        batch.Attempt
	finished bool
	version  uint64
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Unix(0, 0).UTC()
	}
	return time.UnixMilli(ms).UTC()
}

func nullableExit(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

func f32(p *float64) float32 {
	if p == nil {
		return 0
	}
	return float32(*p)
}

func u32(p *int64) uint32 {
	if p == nil || *p < 0 {
		return 0
	}
	if *p > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(*p)
}

func u16(p *int64) uint16 {
	if p == nil || *p < 0 {
		return 0
	}
	if *p > 1<<16-1 {
		return 1<<16 - 1
	}
	return uint16(*p)
}

func clampU16(v int) uint16 {
	if v < 0 {
		return 0
	}
	if v > 1<<16-1 {
		return 1<<16 - 1
	}
	return uint16(v)
}

func idx32(p *int) int32 {
	if p == nil {
		return -1
	}
	return int32(*p)
}

func kvs(list []batch.KV) ([]string, []string) {
	k := make([]string, len(list))
	v := make([]string, len(list))
	for i, kv := range list {
		k[i], v[i] = kv.Key, kv.Value
	}
	return k, v
}

// columns collects column slices in the order of an INSERT's column list and
// appends them to a batch in one call each (much cheaper than row appends).
type columns struct {
	names []string
	data  []any
}

func (c *columns) add(name string, data any) {
	c.names = append(c.names, name)
	c.data = append(c.data, data)
}

// chunkRows bounds the rows encoded at once. One INSERT carries the whole
// batch — ClickHouse squashes its blocks into few parts, which keeps merges
// cheap — but the client encodes and flushes it a chunk at a time, reusing
// the column buffers. Small chunks stay in the CPU caches between parsing,
// encoding and the socket: replaying 250,000 events took 5.6-7.0 s with
// chunks of 1,024 rows, 6.7-7.3 s with 4,096 and 7.9-8.4 s with 16,384.
const chunkRows = 1024

// send inserts n rows into table in one INSERT, built chunk by chunk.
func (s *Store) send(ctx context.Context, table string, n int, build func(lo, hi int) *columns) error {
	if n == 0 {
		return nil
	}
	st := insertStream{s: s, table: table}
	defer st.abort()
	for lo := 0; lo < n; lo += chunkRows {
		if err := st.block(ctx, build(lo, min(lo+chunkRows, n)), lo+chunkRows < n); err != nil {
			return err
		}
	}
	return st.send()
}

// insertStream is one INSERT sent block by block: prepared with its first
// block, ended by send.
type insertStream struct {
	s     *Store
	table string
	batch driver.Batch
}

// block appends c to the INSERT; when more blocks follow it is flushed to
// the server now.
func (st *insertStream) block(ctx context.Context, c *columns, more bool) error {
	if st.batch == nil {
		b, err := st.s.conn.PrepareBatch(ctx, "INSERT INTO "+st.s.Table(st.table)+" ("+strings.Join(c.names, ", ")+")")
		if err != nil {
			return fmt.Errorf("prepare %s batch: %w", st.table, err)
		}
		st.batch = b
	}
	if err := appendColumns(st.batch, c, st.table); err != nil {
		return err
	}
	if more {
		if err := st.batch.Flush(); err != nil {
			return fmt.Errorf("flush %s block: %w", st.table, err)
		}
	}
	return nil
}

// send ends the INSERT (nothing to do when no block was added).
func (st *insertStream) send() error {
	if st.batch == nil {
		return nil
	}
	if err := st.batch.Send(); err != nil {
		return fmt.Errorf("send %s batch: %w", st.table, err)
	}
	return nil
}

// abort drops an INSERT that was not sent.
func (st *insertStream) abort() {
	if st.batch != nil && !st.batch.IsSent() {
		_ = st.batch.Abort()
	}
	st.batch = nil
}

func eventColumns(recs []*Received) *columns {
	n := len(recs)
	var (
		eventID, account, jobID, jobName, jobARN, statusReason, arrayParent, logStream, snsID, raw = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		detailType, region, queue, status, failure, definition, platform, source                   = mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n)
		eventTime, receivedAt                                                                      = mk[time.Time](n), mk[time.Time](n)
		eventTimeMs, created, started, stopped                                                     = mk[int64](n), mk[int64](n), mk[int64](n), mk[int64](n)
		rank                                                                                       = mk[uint8](n)
		revision, memory, arraySize                                                                = mk[uint32](n), mk[uint32](n), mk[uint32](n)
		attempts, gpus                                                                             = mk[uint16](n), mk[uint16](n)
		exitCode                                                                                   = mk[*int32](n)
		vcpus                                                                                      = mk[float32](n)
		arrayIndex                                                                                 = mk[int32](n)
		tagK, tagV, paramK, paramV                                                                 = mk[[]string](n), mk[[]string](n), mk[[]string](n), mk[[]string](n)
		version                                                                                    = mk[uint64](n)
	)
	for i, r := range recs {
		e, j := r.Event, &r.Event.Job
		eventID[i], account[i], jobID[i], jobName[i], jobARN[i] = e.ID, e.Account, j.ID, j.Name, j.ARN
		statusReason[i], arrayParent[i], logStream[i], snsID[i], raw[i] = j.StatusReason, j.ArrayParentID, j.LogStream, e.SNSMessageID, bytesString(e.Raw)
		detailType[i], region[i], queue[i], status[i] = e.DetailType, e.Region, j.Queue, string(j.Status)
		failure[i], definition[i], platform[i], source[i] = string(j.FailureClass), j.Definition, string(j.Platform), r.Source
		eventTime[i], receivedAt[i] = e.Time.UTC(), r.ReceivedAt.UTC()
		eventTimeMs[i], created[i], started[i], stopped[i] = e.Time.UnixMilli(), j.CreatedAtMs, j.StartedAtMs, j.StoppedAtMs
		if e.Time.IsZero() {
			eventTime[i], eventTimeMs[i] = msTime(0), 0
		}
		rank[i] = j.Status.Rank()
		revision[i], memory[i], arraySize[i] = uint32(max(j.DefinitionRevision, 0)), u32(j.MemoryMiB), uint32(max(j.ArraySize, 0))
		attempts[i], gpus[i] = clampU16(len(j.Attempts)), u16(j.GPUs)
		exitCode[i] = nullableExit(j.ExitCode)
		vcpus[i] = f32(j.VCPUs)
		arrayIndex[i] = idx32(j.ArrayIndex)
		tagK[i], tagV[i] = kvs(j.Tags)
		paramK[i], paramV[i] = kvs(j.Parameters)
		version[i] = e.Version()
	}
	c := &columns{}
	c.add("event_id", eventID)
	c.add("event_time", eventTime)
	c.add("event_time_ms", eventTimeMs)
	c.add("detail_type", detailType)
	c.add("account", account)
	c.add("region", region)
	c.add("job_id", jobID)
	c.add("job_name", jobName)
	c.add("job_arn", jobARN)
	c.add("job_queue", queue)
	c.add("status", status)
	c.add("status_rank", rank)
	c.add("status_reason", statusReason)
	c.add("failure_class", failure)
	c.add("job_definition", definition)
	c.add("job_definition_revision", revision)
	c.add("attempts", attempts)
	c.add("exit_code", exitCode)
	c.add("created_at_ms", created)
	c.add("started_at_ms", started)
	c.add("stopped_at_ms", stopped)
	c.add("vcpus", vcpus)
	c.add("memory_mib", memory)
	c.add("gpus", gpus)
	c.add("platform", platform)
	c.add("array_parent_id", arrayParent)
	c.add("array_index", arrayIndex)
	c.add("array_size", arraySize)
	c.add("log_stream", logStream)
	c.add("tag_keys", tagK)
	c.add("tag_values", tagV)
	c.add("param_keys", paramK)
	c.add("param_values", paramV)
	c.add("source", source)
	c.add("sns_message_id", snsID)
	c.add("received_at", receivedAt)
	c.add("version", version)
	c.add("raw", raw)
	return c
}

func mk[T any](n int) []T { return make([]T, n) }

// lowCard is the data of a LowCardinality(String) column.
type lowCard []string

func mkLC(n int) lowCard { return make(lowCard, n) }

// appendColumns appends a chunk's columns to an INSERT. Most columns go in
// one call each; LowCardinality and Array columns go row by row with typed
// values, because the driver's slice path for them reflects on every row
// and boxes every element (it was most of our encoding time). A
// LowCardinality value equal to the row before reuses its boxed value:
// consecutive events mostly share queue, status, region and the like.
func appendColumns(b driver.Batch, c *columns, table string) error {
	for i, data := range c.data {
		col := b.Column(i)
		var err error
		switch d := data.(type) {
		case lowCard:
			var last string
			var boxed any
			for j, s := range d {
				if j == 0 || s != last {
					last, boxed = s, s
				}
				if err = col.AppendRow(boxed); err != nil {
					break
				}
			}
		case [][]string:
			err = appendRows(col, d)
		case [][]uint32:
			err = appendRows(col, d)
		default:
			err = col.Append(data)
		}
		if err != nil {
			return fmt.Errorf("append %s.%s: %w", table, c.names[i], err)
		}
	}
	return nil
}

func appendRows[T any](col driver.BatchColumn, rows []T) error {
	for _, r := range rows {
		if err := col.AppendRow(r); err != nil {
			return err
		}
	}
	return nil
}

// bytesString views an event's raw bytes as a string without copying them:
// Raw is never modified after parsing, and the copy into the column buffer
// follows immediately. At 250,000 events of ~2 KB the saved copy matters.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (s *Store) insertJobs(ctx context.Context, recs []*Received) error {
	return s.send(ctx, "jobs", len(recs), func(lo, hi int) *columns { return jobColumns(recs[lo:hi]) })
}

func jobColumns(recs []*Received) *columns {
	n := len(recs)
	var (
		jobID, jobARN, jobName, statusReason, instanceType, image, arrayParent, nodeParent = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		shareID, logStream, account, lastEvent                                             = mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		queue, status, failure, definition, platform, region, lastType, source             = mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n), mkLC(n)
		createdAt, lastEventTime, updatedAt                                                = mk[time.Time](n), mk[time.Time](n), mk[time.Time](n)
		created, started, firstStarted, stopped, wait, run, total                          = mk[int64](n), mk[int64](n), mk[int64](n), mk[int64](n), mk[int64](n), mk[int64](n), mk[int64](n)
		rank, isParent                                                                     = mk[uint8](n), mk[uint8](n)
		revision, memory, arraySize, timeout                                               = mk[uint32](n), mk[uint32](n), mk[uint32](n), mk[uint32](n)
		attempts, gpus, numNodes, retries                                                  = mk[uint16](n), mk[uint16](n), mk[uint16](n), mk[uint16](n)
		exitCode                                                                           = mk[*int32](n)
		vcpus                                                                              = mk[float32](n)
		arrayIndex, nodeIndex, priority                                                    = mk[int32](n), mk[int32](n), mk[int32](n)
		summaryK, dependsOn, tagK, tagV, paramK, paramV                                    = mk[[]string](n), mk[[]string](n), mk[[]string](n), mk[[]string](n), mk[[]string](n), mk[[]string](n)
		summaryV                                                                           = mk[[]uint32](n)
		version                                                                            = mk[uint64](n)
	)
	for i, r := range recs {
		e, j := r.Event, &r.Event.Job
		jobID[i], jobARN[i], jobName[i], statusReason[i] = j.ID, j.ARN, j.Name, j.StatusReason
		instanceType[i], image[i], arrayParent[i], nodeParent[i] = j.InstanceType, j.Image, j.ArrayParentID, j.NodeParentID
		shareID[i], logStream[i], account[i], lastEvent[i] = j.ShareIdentifier, j.LogStream, e.Account, e.ID
		queue[i], status[i], failure[i], definition[i] = j.Queue, string(j.Status), string(j.FailureClass), j.Definition
		platform[i], region[i], lastType[i], source[i] = string(j.Platform), e.Region, e.DetailType, r.Source
		createdMs := j.CreatedAtMs
		if createdMs <= 0 {
			createdMs = e.Time.UnixMilli()
		}
		createdAt[i], lastEventTime[i], updatedAt[i] = msTime(createdMs), e.Time.UTC(), r.ReceivedAt.UTC()
		if e.Time.IsZero() {
			lastEventTime[i] = msTime(0)
		}
		created[i], started[i], firstStarted[i], stopped[i] = j.CreatedAtMs, j.StartedAtMs, j.FirstStartedAtMs(), j.StoppedAtMs
		wait[i], run[i], total[i] = j.QueueWaitMs(), j.RunTimeMs(), j.TotalTimeMs()
		rank[i] = j.Status.Rank()
		if j.IsArrayParent() {
			isParent[i] = 1
		}
		revision[i], memory[i], arraySize[i], timeout[i] = uint32(max(j.DefinitionRevision, 0)), u32(j.MemoryMiB), uint32(max(j.ArraySize, 0)), uint32(min(max(j.TimeoutSeconds, 0), 1<<32-1))
		attempts[i], gpus[i], numNodes[i], retries[i] = clampU16(len(j.Attempts)), u16(j.GPUs), clampU16(j.NumNodes), clampU16(j.RetryAttempts)
		exitCode[i] = nullableExit(j.ExitCode)
		vcpus[i] = f32(j.VCPUs)
		arrayIndex[i], nodeIndex[i] = idx32(j.ArrayIndex), idx32(j.NodeIndex)
		if j.SchedulingPriority != nil {
			priority[i] = int32(*j.SchedulingPriority)
		}
		for _, st := range batch.Statuses {
			if v, ok := j.StatusSummary[string(st)]; ok {
				summaryK[i] = append(summaryK[i], string(st))
				summaryV[i] = append(summaryV[i], uint32(max(v, 0)))
			}
		}
		if summaryK[i] == nil {
			summaryK[i], summaryV[i] = []string{}, []uint32{}
		}
		dependsOn[i] = j.DependsOn
		if dependsOn[i] == nil {
			dependsOn[i] = []string{}
		}
		tagK[i], tagV[i] = kvs(j.Tags)
		paramK[i], paramV[i] = kvs(j.Parameters)
		version[i] = e.Version()
	}
	c := &columns{}
	c.add("job_id", jobID)
	c.add("job_arn", jobARN)
	c.add("job_name", jobName)
	c.add("job_queue", queue)
	c.add("status", status)
	c.add("status_rank", rank)
	c.add("status_reason", statusReason)
	c.add("failure_class", failure)
	c.add("job_definition", definition)
	c.add("job_definition_revision", revision)
	c.add("created_at", createdAt)
	c.add("created_at_ms", created)
	c.add("started_at_ms", started)
	c.add("first_started_at_ms", firstStarted)
	c.add("stopped_at_ms", stopped)
	c.add("queue_wait_ms", wait)
	c.add("run_time_ms", run)
	c.add("total_time_ms", total)
	c.add("attempts", attempts)
	c.add("exit_code", exitCode)
	c.add("vcpus", vcpus)
	c.add("memory_mib", memory)
	c.add("gpus", gpus)
	c.add("platform", platform)
	c.add("instance_type", instanceType)
	c.add("image", image)
	c.add("is_array_parent", isParent)
	c.add("array_parent_id", arrayParent)
	c.add("array_index", arrayIndex)
	c.add("array_size", arraySize)
	c.add("status_summary_keys", summaryK)
	c.add("status_summary_values", summaryV)
	c.add("node_parent_id", nodeParent)
	c.add("node_index", nodeIndex)
	c.add("num_nodes", numNodes)
	c.add("depends_on", dependsOn)
	c.add("retry_attempts", retries)
	c.add("timeout_seconds", timeout)
	c.add("share_identifier", shareID)
	c.add("scheduling_priority", priority)
	c.add("tag_keys", tagK)
	c.add("tag_values", tagV)
	c.add("param_keys", paramK)
	c.add("param_values", paramV)
	c.add("log_stream", logStream)
	c.add("account", account)
	c.add("region", region)
	c.add("last_event_id", lastEvent)
	c.add("last_event_time", lastEventTime)
	c.add("last_detail_type", lastType)
	c.add("source", source)
	c.add("updated_at", updatedAt)
	c.add("version", version)
	return c
}

func (s *Store) insertAttempts(ctx context.Context, rows []attemptRow) error {
	return s.send(ctx, "attempts", len(rows), func(lo, hi int) *columns { return attemptColumns(rows[lo:hi]) })
}

func attemptColumns(rows []attemptRow) *columns {
	n := len(rows)
	var (
		jobID, jobName, reason, statusReason, logStream, taskARN, ciARN, arrayParent = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		queue, definition, failure, platform                                         = mkLC(n), mkLC(n), mkLC(n), mkLC(n)
		attempt, gpus                                                                = mk[uint16](n), mk[uint16](n)
		finished                                                                     = mk[uint8](n)
		createdAt, startedAt                                                         = mk[time.Time](n), mk[time.Time](n)
		started, stopped, duration                                                   = mk[int64](n), mk[int64](n), mk[int64](n)
		exitCode                                                                     = mk[*int32](n)
		vcpus                                                                        = mk[float32](n)
		memory                                                                       = mk[uint32](n)
		tagK, tagV                                                                   = mk[[]string](n), mk[[]string](n)
		version                                                                      = mk[uint64](n)
	)
	for i, r := range rows {
		j, a := r.job, r.a
		jobID[i], jobName[i], reason[i], statusReason[i] = j.ID, j.Name, a.Reason, a.StatusReason
		logStream[i], taskARN[i], ciARN[i], arrayParent[i] = a.LogStream, a.TaskARN, a.ContainerInstanceARN, j.ArrayParentID
		queue[i], definition[i], failure[i], platform[i] = j.Queue, j.Definition, string(a.FailureClass), string(j.Platform)
		attempt[i], gpus[i] = clampU16(a.Index), u16(j.GPUs)
		if r.finished {
			finished[i] = 1
		}
		createdMs := j.CreatedAtMs
		if createdMs <= 0 {
			createdMs = a.StartedAtMs
		}
		createdAt[i], startedAt[i] = msTime(createdMs), msTime(a.StartedAtMs)
		started[i], stopped[i], duration[i] = a.StartedAtMs, a.StoppedAtMs, -1
		if a.StartedAtMs > 0 && a.StoppedAtMs >= a.StartedAtMs {
			duration[i] = a.StoppedAtMs - a.StartedAtMs
		}
		exitCode[i] = nullableExit(a.ExitCode)
		vcpus[i], memory[i] = f32(j.VCPUs), u32(j.MemoryMiB)
		tagK[i], tagV[i] = kvs(j.Tags)
		version[i] = r.version
	}
	c := &columns{}
	c.add("job_id", jobID)
	c.add("job_name", jobName)
	c.add("job_queue", queue)
	c.add("job_definition", definition)
	c.add("attempt", attempt)
	c.add("finished", finished)
	c.add("created_at", createdAt)
	c.add("started_at", startedAt)
	c.add("started_at_ms", started)
	c.add("stopped_at_ms", stopped)
	c.add("duration_ms", duration)
	c.add("exit_code", exitCode)
	c.add("reason", reason)
	c.add("status_reason", statusReason)
	c.add("failure_class", failure)
	c.add("log_stream", logStream)
	c.add("task_arn", taskARN)
	c.add("container_instance_arn", ciARN)
	c.add("vcpus", vcpus)
	c.add("memory_mib", memory)
	c.add("gpus", gpus)
	c.add("platform", platform)
	c.add("array_parent_id", arrayParent)
	c.add("tag_keys", tagK)
	c.add("tag_values", tagV)
	c.add("version", version)
	return c
}

// Quarantined is a message that could not be parsed.
type Quarantined struct {
	ReceivedAt time.Time
	Source     string
	MessageID  string
	Error      string
	Body       string
}

// InsertQuarantine writes unparseable messages.
func (s *Store) InsertQuarantine(ctx context.Context, qs []Quarantined) error {
	return s.send(ctx, "quarantine", len(qs), func(lo, hi int) *columns { return quarantineColumns(qs[lo:hi]) })
}

func quarantineColumns(qs []Quarantined) *columns {
	n := len(qs)
	at, atMs := mk[time.Time](n), mk[int64](n)
	src, id, errs, body := mkLC(n), mk[string](n), mk[string](n), mk[string](n)
	for i, q := range qs {
		at[i], atMs[i] = q.ReceivedAt.UTC(), q.ReceivedAt.UnixMilli()
		src[i], id[i], errs[i], body[i] = q.Source, q.MessageID, q.Error, q.Body
	}
	c := &columns{}
	c.add("received_at", at)
	c.add("received_at_ms", atMs)
	c.add("source", src)
	c.add("message_id", id)
	c.add("error", errs)
	c.add("body", body)
	return c
}
