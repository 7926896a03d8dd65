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
		put(attemptRow{job: j, region: rec.Event.Region, a: a, finished: true, version: v})
	}
	// The attempt under way, from a RUNNING event.
	if j.Status == batch.StatusRunning && j.StartedAtMs > 0 {
		put(attemptRow{job: j, region: rec.Event.Region, a: batch.Attempt{Index: len(j.Attempts), StartedAtMs: j.StartedAtMs}, version: v})
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
	region   string // the event's
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
	return s.send(ctx, "jobs", len(recs), func(lo, hi int) *columns {
		c := jobColumns(recs[lo:hi])
		addLogColumns(c, hi-lo, func(i int) (*batch.Job, string) { return &recs[lo+i].Event.Job, recs[lo+i].Event.Region }, true)
		return c
	})
}

// jobCols holds the jobs table's columns while a block is built.
type jobCols struct {
	jobID, jobARN, jobName, statusReason, instanceType, image, arrayParent, nodeParent []string
	shareID, logStream, account, lastEvent                                             []string
	queue, status, failure, definition, platform, region, lastType, source             lowCard
	createdAt, lastEventTime, updatedAt                                                []time.Time
	created, started, firstStarted, stopped, wait, run, total                          []int64
	rank, isParent                                                                     []uint8
	revision, memory, arraySize, timeout                                               []uint32
	attempts, gpus, numNodes, retries                                                  []uint16
	exitCode                                                                           []*int32
	vcpus                                                                              []float32
	arrayIndex, nodeIndex, priority                                                    []int32
	summaryK, dependsOn, tagK, tagV, paramK, paramV                                    [][]string
	summaryV                                                                           [][]uint32
	version                                                                            []uint64
}

func jobColumns(recs []*Received) *columns {
	n := len(recs)
	c := &jobCols{}
	c.jobID = mk[string](n)
	c.jobARN = mk[string](n)
	c.jobName = mk[string](n)
	c.statusReason = mk[string](n)
	c.instanceType = mk[string](n)
	c.image = mk[string](n)
	c.arrayParent = mk[string](n)
	c.nodeParent = mk[string](n)
	c.shareID = mk[string](n)
	c.logStream = mk[string](n)
	c.account = mk[string](n)
	c.lastEvent = mk[string](n)
	c.queue = mkLC(n)
	c.status = mkLC(n)
	c.failure = mkLC(n)
	c.definition = mkLC(n)
	c.platform = mkLC(n)
	c.region = mkLC(n)
	c.lastType = mkLC(n)
	c.source = mkLC(n)
	c.createdAt = mk[time.Time](n)
	c.lastEventTime = mk[time.Time](n)
	c.updatedAt = mk[time.Time](n)
	c.created = mk[int64](n)
	c.started = mk[int64](n)
	c.firstStarted = mk[int64](n)
	c.stopped = mk[int64](n)
	c.wait = mk[int64](n)
	c.run = mk[int64](n)
	c.total = mk[int64](n)
	c.rank = mk[uint8](n)
	c.isParent = mk[uint8](n)
	c.revision = mk[uint32](n)
	c.memory = mk[uint32](n)
	c.arraySize = mk[uint32](n)
	c.timeout = mk[uint32](n)
	c.attempts = mk[uint16](n)
	c.gpus = mk[uint16](n)
	c.numNodes = mk[uint16](n)
	c.retries = mk[uint16](n)
	c.exitCode = mk[*int32](n)
	c.vcpus = mk[float32](n)
	c.arrayIndex = mk[int32](n)
	c.nodeIndex = mk[int32](n)
	c.priority = mk[int32](n)
	c.summaryK = mk[[]string](n)
	c.dependsOn = mk[[]string](n)
	c.tagK = mk[[]string](n)
	c.tagV = mk[[]string](n)
	c.paramK = mk[[]string](n)
	c.paramV = mk[[]string](n)
	c.summaryV = mk[[]uint32](n)
	c.version = mk[uint64](n)
	for i, r := range recs {
		c.fill(i, r)
	}
	return c.columns()
}

// fill sets row i from a received event's job.
func (c *jobCols) fill(i int, r *Received) {
	e, j := r.Event, &r.Event.Job
	c.jobID[i], c.jobARN[i], c.jobName[i], c.statusReason[i] = j.ID, j.ARN, j.Name, j.StatusReason
	c.instanceType[i], c.image[i], c.arrayParent[i], c.nodeParent[i] = j.InstanceType, j.Image, j.ArrayParentID, j.NodeParentID
	c.shareID[i], c.logStream[i], c.account[i], c.lastEvent[i] = j.ShareIdentifier, j.LogStream, e.Account, e.ID
	c.queue[i], c.status[i], c.failure[i], c.definition[i] = j.Queue, string(j.Status), string(j.FailureClass), j.Definition
	c.platform[i], c.region[i], c.lastType[i], c.source[i] = string(j.Platform), e.Region, e.DetailType, r.Source
	createdMs := j.CreatedAtMs
	if createdMs <= 0 {
		createdMs = e.Time.UnixMilli()
	}
	c.createdAt[i], c.lastEventTime[i], c.updatedAt[i] = msTime(createdMs), e.Time.UTC(), r.ReceivedAt.UTC()
	if e.Time.IsZero() {
		c.lastEventTime[i] = msTime(0)
	}
	c.created[i], c.started[i], c.firstStarted[i], c.stopped[i] = j.CreatedAtMs, j.StartedAtMs, j.FirstStartedAtMs(), j.StoppedAtMs
	c.wait[i], c.run[i], c.total[i] = j.QueueWaitMs(), j.RunTimeMs(), j.TotalTimeMs()
	c.rank[i] = j.Status.Rank()
	if j.IsArrayParent() {
		c.isParent[i] = 1
	}
	c.revision[i], c.memory[i], c.arraySize[i], c.timeout[i] = uint32(max(j.DefinitionRevision, 0)), u32(j.MemoryMiB), uint32(max(j.ArraySize, 0)), uint32(min(max(j.TimeoutSeconds, 0), 1<<32-1))
	c.attempts[i], c.gpus[i], c.numNodes[i], c.retries[i] = clampU16(len(j.Attempts)), u16(j.GPUs), clampU16(j.NumNodes), clampU16(j.RetryAttempts)
	c.exitCode[i] = nullableExit(j.ExitCode)
	c.vcpus[i] = f32(j.VCPUs)
	c.arrayIndex[i], c.nodeIndex[i] = idx32(j.ArrayIndex), idx32(j.NodeIndex)
	if j.SchedulingPriority != nil {
		c.priority[i] = int32(*j.SchedulingPriority)
	}
	for _, st := range batch.Statuses {
		if v, ok := j.StatusSummary[string(st)]; ok {
			c.summaryK[i] = append(c.summaryK[i], string(st))
			c.summaryV[i] = append(c.summaryV[i], uint32(max(v, 0)))
		}
	}
	if c.summaryK[i] == nil {
		c.summaryK[i], c.summaryV[i] = []string{}, []uint32{}
	}
	c.dependsOn[i] = j.DependsOn
	if c.dependsOn[i] == nil {
		c.dependsOn[i] = []string{}
	}
	c.tagK[i], c.tagV[i] = kvs(j.Tags)
	c.paramK[i], c.paramV[i] = kvs(j.Parameters)
	c.version[i] = e.Version()
}

// columns lists the columns in the table's order: a flat list, one line
// per column, with nothing to split.
func (c *jobCols) columns() *columns {
	cols := &columns{}
	cols.add("job_id", c.jobID)
	cols.add("job_arn", c.jobARN)
	cols.add("job_name", c.jobName)
	cols.add("job_queue", c.queue)
	cols.add("status", c.status)
	cols.add("status_rank", c.rank)
	cols.add("status_reason", c.statusReason)
	cols.add("failure_class", c.failure)
	cols.add("job_definition", c.definition)
	cols.add("job_definition_revision", c.revision)
	cols.add("created_at", c.createdAt)
	cols.add("created_at_ms", c.created)
	cols.add("started_at_ms", c.started)
	cols.add("first_started_at_ms", c.firstStarted)
	cols.add("stopped_at_ms", c.stopped)
	cols.add("queue_wait_ms", c.wait)
	cols.add("run_time_ms", c.run)
	cols.add("total_time_ms", c.total)
	cols.add("attempts", c.attempts)
	cols.add("exit_code", c.exitCode)
	cols.add("vcpus", c.vcpus)
	cols.add("memory_mib", c.memory)
	cols.add("gpus", c.gpus)
	cols.add("platform", c.platform)
	cols.add("instance_type", c.instanceType)
	cols.add("image", c.image)
	cols.add("is_array_parent", c.isParent)
	cols.add("array_parent_id", c.arrayParent)
	cols.add("array_index", c.arrayIndex)
	cols.add("array_size", c.arraySize)
	cols.add("status_summary_keys", c.summaryK)
	cols.add("status_summary_values", c.summaryV)
	cols.add("node_parent_id", c.nodeParent)
	cols.add("node_index", c.nodeIndex)
	cols.add("num_nodes", c.numNodes)
	cols.add("depends_on", c.dependsOn)
	cols.add("retry_attempts", c.retries)
	cols.add("timeout_seconds", c.timeout)
	cols.add("share_identifier", c.shareID)
	cols.add("scheduling_priority", c.priority)
	cols.add("tag_keys", c.tagK)
	cols.add("tag_values", c.tagV)
	cols.add("param_keys", c.paramK)
	cols.add("param_values", c.paramV)
	cols.add("log_stream", c.logStream)
	cols.add("account", c.account)
	cols.add("region", c.region)
	cols.add("last_event_id", c.lastEvent)
	cols.add("last_event_time", c.lastEventTime)
	cols.add("last_detail_type", c.lastType)
	cols.add("source", c.source)
	cols.add("updated_at", c.updatedAt)
	cols.add("version", c.version)
	return cols
}

// addLogColumns adds where the jobs' logs are (migration 006): the log
// driver (jobs only), the CloudWatch Logs group (batch.Job.LogGroup: the
// default group when the job does not say, empty when its logs do not go
// to CloudWatch) and that group's region.
func addLogColumns(c *columns, n int, job func(i int) (*batch.Job, string), driver bool) {
	drivers, groups, regions := mk[string](n), mk[string](n), mkLC(n)
	for i := range n {
		j, region := job(i)
		drivers[i], groups[i], regions[i] = j.Log.Driver, j.LogGroup(), j.LogRegion(region)
	}
	if driver {
		c.add("log_driver", drivers)
	}
	c.add("log_group", groups)
	c.add("log_region", regions)
}

func (s *Store) insertAttempts(ctx context.Context, rows []attemptRow) error {
	return s.send(ctx, "attempts", len(rows), func(lo, hi int) *columns {
		c := attemptColumns(rows[lo:hi])
		addLogColumns(c, hi-lo, func(i int) (*batch.Job, string) { return rows[lo+i].job, rows[lo+i].region }, false)
		return c
	})
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
