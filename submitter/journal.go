package submitter

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/batchwatch/batchwatch/store"
)

// State is a journal row's state.
type State string

// Journal states. pending is written before SubmitJob; a crash leaves it,
// and the next run with the same run id looks the job up by its name.
const (
	StatePending   State = "pending"
	StateSubmitted State = "submitted"
	// StateFailed: SubmitJob failed in a way that may or may not have
	// created the job (5xx after retries, network errors); a re-run looks
	// it up first, then submits.
	StateFailed State = "failed"
	// StateRejected: Batch refused the request (a 4xx other than
	// throttling); nothing was created; a re-run submits again.
	StateRejected State = "rejected"
	// StateEscalated: the job ran out of memory and the item was
	// resubmitted one tier up, as the next attempt.
	StateEscalated State = "escalated"
)

// Kind tells items apart from the fan-in and barrier jobs of a run.
type Kind string

// Row kinds.
const (
	KindItem    Kind = "item"
	KindFanIn   Kind = "fan_in"
	KindBarrier Kind = "barrier"
)

// Record is one journal row: the state of one item's submission attempt.
type Record struct {
	RunID   string
	ItemKey string
	Kind    Kind
	// Attempt counts escalations: 0 is the item's first tier.
	Attempt       int
	RunStartedAt  time.Time
	Product       string
	Tier          string
	Priority      string
	Queue         string
	JobDefinition string
	// JobName is the name SubmitJob is called with (the array's name for
	// array children); a re-run finds uncertain submissions by it.
	JobName string
	// JobID is the item's own job: a single job's id, or an array child's
	// "<parent>:<index>", as in the jobs table.
	JobID      string
	ArrayJobID string
	// ArrayIndex is the child index, -1 for single jobs.
	ArrayIndex int
	ArraySize  int
	Size       float64
	Manifest   string
	State      State
	Error      string
	// SubmittedAt is when SubmitJob answered (zero before).
	SubmittedAt time.Time
	UpdatedAt   time.Time
	// Version orders the rows of one (run, item, kind, attempt); the
	// highest wins. Set by the runner, strictly increasing.
	Version uint64
}

// Journal stores the submission journal. Write must be durable when it
// returns: the runner relies on a pending row being stored before it calls
// SubmitJob.
type Journal interface {
	// Load returns the latest row of every (item, kind, attempt) of a run.
	Load(ctx context.Context, runID string) ([]Record, error)
	Write(ctx context.Context, recs []Record) error
}

// latest keeps, per (kind, key), the row of the highest attempt.
func latest(recs []Record) map[string]*Record {
	out := make(map[string]*Record, len(recs))
	for i := range recs {
		r := &recs[i]
		k := string(r.Kind) + "\x00" + r.ItemKey
		if cur, ok := out[k]; !ok || r.Attempt > cur.Attempt || (r.Attempt == cur.Attempt && r.Version > cur.Version) {
			out[k] = r
		}
	}
	return out
}

func recKey(kind Kind, key string) string { return string(kind) + "\x00" + key }

// MemoryJournal keeps the journal in memory: for tests and for --serve
// dry runs. It keeps every write so tests can inspect the history.
type MemoryJournal struct {
	mu     sync.Mutex
	rows   map[memKey]Record
	writes int
	all    []Record
}

// NewMemoryJournal returns an empty journal.
func NewMemoryJournal() *MemoryJournal { return &MemoryJournal{rows: map[memKey]Record{}} }

// memKey is the table's sorting key.
type memKey struct {
	run, item string
	kind      Kind
	attempt   int
}

func keyOf(r *Record) memKey { return memKey{r.RunID, r.ItemKey, r.Kind, r.Attempt} }

// Load implements Journal.
func (m *MemoryJournal) Load(_ context.Context, runID string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, r := range m.rows {
		if r.RunID == runID {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.ItemKey != b.ItemKey {
			return a.ItemKey < b.ItemKey
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Attempt < b.Attempt
	})
	return out, nil
}

// Write implements Journal.
func (m *MemoryJournal) Write(_ context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	for _, r := range recs {
		k := keyOf(&r)
		if cur, ok := m.rows[k]; ok && cur.Version > r.Version {
			continue
		}
		m.rows[k] = r
		m.all = append(m.all, r)
	}
	return nil
}

// Writes returns how many Write calls were made.
func (m *MemoryJournal) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// History returns every row written, in order.
func (m *MemoryJournal) History() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.all...)
}

// ClickHouseJournal is the journal in the submissions table (migration
// 005), beside the job history.
type ClickHouseJournal struct {
	st *store.Store
}

// NewClickHouseJournal uses a migrated store.
func NewClickHouseJournal(st *store.Store) *ClickHouseJournal { return &ClickHouseJournal{st: st} }

var journalColumns = []string{
	"run_id", "item_key", "kind", "attempt", "run_started_at", "product", "tier", "priority",
	"job_queue", "job_definition", "job_name", "job_id", "array_job_id", "array_index", "array_size",
	"size", "manifest", "state", "error", "submitted_at_ms", "updated_at", "updated_at_ms", "version",
}

// Load implements Journal; FINAL keeps the highest version per row key.
func (j *ClickHouseJournal) Load(ctx context.Context, runID string) ([]Record, error) {
	q := "SELECT " + strings.Join(journalColumns, ", ") + " FROM " + j.st.Table("submissions") +
		" FINAL WHERE run_id = ?"
	rows, err := j.st.Conn().Query(ctx, q, runID)
	if err != nil {
		return nil, fmt.Errorf("query submissions: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			r                      Record
			kind, state            string
			attempt                uint16
			arrayIndex             int32
			arraySize              uint32
			submittedMs, updatedMs int64
			runStarted, updated    time.Time
		)
		if err := rows.Scan(&r.RunID, &r.ItemKey, &kind, &attempt, &runStarted, &r.Product, &r.Tier, &r.Priority,
			&r.Queue, &r.JobDefinition, &r.JobName, &r.JobID, &r.ArrayJobID, &arrayIndex, &arraySize,
			&r.Size, &r.Manifest, &state, &r.Error, &submittedMs, &updated, &updatedMs, &r.Version); err != nil {
			return nil, fmt.Errorf("scan submissions: %w", err)
		}
		r.Kind, r.State, r.Attempt = Kind(kind), State(state), int(attempt)
		r.ArrayIndex, r.ArraySize = int(arrayIndex), int(arraySize)
		r.RunStartedAt = runStarted.UTC()
		r.UpdatedAt = time.UnixMilli(updatedMs).UTC()
		if submittedMs > 0 {
			r.SubmittedAt = time.UnixMilli(submittedMs).UTC()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read submissions: %w", err)
	}
	return out, nil
}

// Write implements Journal with one column-wise batch insert, tried again
// on transient errors (a broken pooled connection; in cluster mode a quorum
// insert meeting another): rows are versioned, so writing twice is harmless.
func (j *ClickHouseJournal) Write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	return store.RetryTransient(ctx, 8, func() error { return j.write(ctx, recs) })
}

func (j *ClickHouseJournal) write(ctx context.Context, recs []Record) error {
	b, err := j.st.Conn().PrepareBatch(ctx, "INSERT INTO "+j.st.Table("submissions")+" ("+strings.Join(journalColumns, ", ")+")")
	if err != nil {
		return fmt.Errorf("prepare submissions batch: %w", err)
	}
	defer func() {
		if !b.IsSent() {
			_ = b.Abort()
		}
	}()
	n := len(recs)
	var (
		runID, key, kind, product, tier, prio, queue, def = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		name, jobID, arrayID, manifest, state, errText    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempt                                           = make([]uint16, n)
		runStarted, updated                               = make([]time.Time, n), make([]time.Time, n)
		arrayIndex                                        = make([]int32, n)
		arraySize                                         = make([]uint32, n)
		size                                              = make([]float64, n)
		submittedMs, updatedMs                            = make([]int64, n), make([]int64, n)
		version                                           = make([]uint64, n)
	)
	for i, r := range recs {
		runID[i], key[i], kind[i], product[i], tier[i], prio[i] = r.RunID, r.ItemKey, string(r.Kind), r.Product, r.Tier, r.Priority
		queue[i], def[i], name[i], jobID[i], arrayID[i] = r.Queue, r.JobDefinition, r.JobName, r.JobID, r.ArrayJobID
		manifest[i], state[i], errText[i] = r.Manifest, string(r.State), r.Error
		attempt[i] = uint16(min(max(r.Attempt, 0), 65535))
		runStarted[i], updated[i] = r.RunStartedAt.UTC().Truncate(time.Second), r.UpdatedAt.UTC().Truncate(time.Second)
		arrayIndex[i], arraySize[i], size[i] = int32(r.ArrayIndex), uint32(max(r.ArraySize, 0)), r.Size
		if !r.SubmittedAt.IsZero() {
			submittedMs[i] = r.SubmittedAt.UnixMilli()
		}
		updatedMs[i], version[i] = r.UpdatedAt.UnixMilli(), r.Version
	}
	cols := []any{runID, key, kind, attempt, runStarted, product, tier, prio, queue, def, name, jobID, arrayID,
		arrayIndex, arraySize, size, manifest, state, errText, submittedMs, updated, updatedMs, version}
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("append submissions.%s: %w", journalColumns[i], err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send submissions batch: %w", err)
	}
	return nil
}
