// Package ingest streams AWS Batch events into ClickHouse: sources (SQS,
// replay of files, reconcile from the Batch API) feed one pipeline that
// parses in parallel, batches by size or age, writes with retries and
// acknowledges each message only after the insert holding it succeeded.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/store"
)

// Writer is what the pipeline needs from the store.
type Writer interface {
	// Begin opens a window that writes observations while the batch fills;
	// hint is about how many will be added.
	Begin(ctx context.Context, hint int) Window
	InsertQuarantine(ctx context.Context, qs []store.Quarantined) error
}

// Window is one batch being written (see store.Window).
type Window interface {
	Add(r *store.Received)
	Commit(ctx context.Context) (store.InsertStats, error)
	Abort()
}

// StoreWriter adapts a *store.Store to Writer.
type StoreWriter struct{ *store.Store }

// Begin opens a store window.
func (w StoreWriter) Begin(ctx context.Context, hint int) Window { return w.Store.Begin(ctx, hint) }

// Message is one message handed to the pipeline by a source.
type Message struct {
	// Body is the raw message (an event, possibly SNS-wrapped).
	Body []byte
	// Event, when set, is used instead of parsing Body (reconcile).
	Event *batch.Event
	// ID identifies the message in the quarantine: SQS message id, or the
	// replay position ("events.jsonl:42").
	ID         string
	Source     string
	ReceivedAt time.Time
	// Done is called once the message is durably written (ok) or will not
	// be (shutdown before its insert succeeded). May be nil.
	Done func(ok bool)
}

// PipelineConfig tunes batching and retries. Zero values take the defaults
// (the only place ingest's defaults are set).
type PipelineConfig struct {
	// Replay tunes the defaults for replaying files: batches of 100,000
	// (files fill a batch by size long before it is old) and a 10 s flush
	// interval (a slow stdin must not hold an INSERT open for minutes).
	Replay bool
	// BatchSize flushes a batch when it holds this many messages.
	BatchSize int
	// FlushInterval flushes a non-empty batch this long after its first
	// message arrived.
	FlushInterval time.Duration
	// ParseWorkers parse messages in parallel (default GOMAXPROCS).
	ParseWorkers int
	// RetryMin and RetryMax bound the backoff between insert retries.
	RetryMin, RetryMax time.Duration
	// DrainTimeout bounds the final flush on shutdown.
	DrainTimeout time.Duration
	// DedupIDs is how many recently written event ids are remembered to
	// skip redeliveries (two generations of this size).
	DedupIDs int
	// Writers insert batches concurrently (order does not matter: the
	// store's versions decide). More writers overlap our encoding with
	// ClickHouse's work; each holds one batch.
	Writers int
}

func (c *PipelineConfig) defaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 20000
		if c.Replay {
			c.BatchSize = 100000
		}
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
		if c.Replay {
			c.FlushInterval = 10 * time.Second
		}
	}
	if c.ParseWorkers <= 0 {
		c.ParseWorkers = runtime.GOMAXPROCS(0)
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	if c.DedupIDs <= 0 {
		c.DedupIDs = 500_000
	}
	if c.Writers <= 0 {
		c.Writers = 2
	}
}

// item is one message in a batch. Once its event went into the batch's
// window only what the acknowledgement and the metrics need is kept (not
// the parsed event): a batch of 100,000 parsed events would otherwise be
// millions of pointers for the garbage collector to trace. A retry parses
// the bodies again.
type item struct {
	msg  Message
	rec  *store.Received // until added to the window
	quar *store.Quarantined
	dup  bool   // a redelivery of an event already written: acknowledged, not written
	id   string // event id
	at   int64  // event time, Unix ns (0: none)
}

// pending is a batch on its way to ClickHouse: its window has been fed
// (and has streamed most of) every new event while the batch filled.
type pending struct {
	items []item
	win   Window
	dups  int
}

// Pipeline parses, batches and writes messages. Submit blocks while the
// pipeline is full, which is how a slow or absent ClickHouse pushes back on
// the sources (bounded memory: about 3 × BatchSize messages in flight).
type Pipeline struct {
	w       Writer
	cfg     PipelineConfig
	m       *Metrics
	log     *logrus.Entry
	now     func() time.Time
	raw     chan Message
	parsed  chan item
	batches chan *pending
	dedup   *idSet

	closeOnce sync.Once
}

// NewPipeline builds a pipeline writing to w.
func NewPipeline(w Writer, cfg PipelineConfig, m *Metrics, log *logrus.Entry, now func() time.Time) *Pipeline {
	cfg.defaults()
	return &Pipeline{
		w: w, cfg: cfg, m: m, log: log, now: now,
		// Channel capacity is independent of the batch size, so memory stays
		// at about (2 + Writers) batches plus a few thousand messages.
		raw:     make(chan Message, min(cfg.BatchSize, 4096)),
		parsed:  make(chan item, min(cfg.BatchSize, 4096)),
		batches: make(chan *pending),
		dedup:   newIDSet(cfg.DedupIDs),
	}
}

// Submit hands a message to the pipeline, blocking while it is full.
func (p *Pipeline) Submit(ctx context.Context, msg Message) error {
	p.m.Received.WithLabelValues(msg.Source).Inc()
	p.m.Buffered.Inc()
	select {
	case p.raw <- msg:
		return nil
	case <-ctx.Done():
		p.m.Buffered.Dec()
		return ctx.Err()
	}
}

// Close tells the pipeline no more messages come; Run then flushes what it
// holds and returns. Submit must not be called after Close.
func (p *Pipeline) Close() { p.closeOnce.Do(func() { close(p.raw) }) }

// Run runs the pipeline until Close was called and everything was flushed,
// or until ctx is cancelled (then unflushed messages get Done(false)).
func (p *Pipeline) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < p.cfg.ParseWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.parseLoop()
		}()
	}
	go func() {
		wg.Wait()
		close(p.parsed)
	}()
	go p.batchLoop(ctx)
	errs := make(chan error, p.cfg.Writers)
	var failed sync.Once
	stop := make(chan struct{})
	for i := 0; i < p.cfg.Writers; i++ {
		go func() { errs <- p.writeLoop(ctx, stop, &failed) }()
	}
	var first error
	for i := 0; i < p.cfg.Writers; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Pipeline) parseLoop() {
	parser := batch.NewParser()
	for msg := range p.raw {
		it := item{msg: msg}
		if msg.Event != nil {
			it.rec = &store.Received{Event: msg.Event, Source: msg.Source, ReceivedAt: msg.ReceivedAt}
		} else if ev, err := parser.Parse(msg.Body); err != nil {
			it.quar = &store.Quarantined{
				ReceivedAt: msg.ReceivedAt, Source: msg.Source, MessageID: msg.ID,
				Error: err.Error(), Body: string(msg.Body),
			}
		} else {
			it.rec = &store.Received{Event: ev, Source: msg.Source, ReceivedAt: msg.ReceivedAt}
		}
		p.parsed <- it
	}
}

// batchLoop groups parsed messages into batches by size or age. Each batch
// opens a store window as its first message arrives and feeds it every new
// event at once, so encoding and ClickHouse's work overlap parsing instead of
// waiting for the batch to be complete.
func (p *Pipeline) batchLoop(ctx context.Context) {
	defer close(p.batches)
	var cur *pending
	inBatch := make(map[string]struct{}, min(p.cfg.BatchSize, 1<<17))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if cur == nil {
			return
		}
		p.batches <- cur
		cur = nil
		clear(inBatch)
		timer.Stop()
	}
	for {
		select {
		case it, ok := <-p.parsed:
			if !ok {
				flush()
				return
			}
			if cur == nil {
				cur = &pending{items: make([]item, 0, min(p.cfg.BatchSize, 1<<17)), win: p.w.Begin(ctx, p.cfg.BatchSize)}
				timer.Reset(p.cfg.FlushInterval)
			}
			if it.quar == nil {
				if id := it.rec.Event.ID; id != "" {
					if _, seen := inBatch[id]; seen || p.dedup.has(id) {
						it.dup = true
						cur.dups++
					} else {
						inBatch[id] = struct{}{}
					}
				}
				if !it.dup {
					cur.win.Add(it.rec)
				}
				it.id = strings.Clone(it.rec.Event.ID)
				if t := it.rec.Event.Time; !t.IsZero() {
					it.at = t.UnixNano()
				}
				it.rec = nil
			}
			cur.items = append(cur.items, it)
			if len(cur.items) >= p.cfg.BatchSize {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// writeLoop writes batches until the batch channel closes. Once a write
// fails for good (only when ctx ends), every writer gives the remaining
// batches back.
func (p *Pipeline) writeLoop(ctx context.Context, stop chan struct{}, stopOnce *sync.Once) error {
	var failed error
	for b := range p.batches {
		select {
		case <-stop:
			b.win.Abort()
			p.finish(b.items, false)
			continue
		default:
		}
		if ctx.Err() != nil {
			b.win.Abort()
			p.finish(b.items, false)
			continue
		}
		if err := p.write(ctx, b); err != nil {
			failed = err
			stopOnce.Do(func() { close(stop) })
			p.finish(b.items, false)
			continue
		}
		p.finish(b.items, true)
	}
	if failed != nil && !errors.Is(failed, context.Canceled) {
		return failed
	}
	return nil
}

func (p *Pipeline) finish(b []item, ok bool) {
	// Counted per run of one source (a batch usually has one), not per
	// message: a labelled counter lookup hashes its labels.
	source, run := "", 0
	for _, it := range b {
		if it.msg.Done != nil {
			it.msg.Done(ok)
		}
		if !ok {
			continue
		}
		if it.msg.Source != source && run > 0 {
			p.m.Acked.WithLabelValues(source).Add(float64(run))
			run = 0
		}
		source = it.msg.Source
		run++
	}
	if run > 0 {
		p.m.Acked.WithLabelValues(source).Add(float64(run))
	}
	p.m.Buffered.Sub(float64(len(b)))
}

// write commits one batch, retrying with backoff until it succeeds or ctx
// ends. A retry writes the batch again through a new window: duplicates of
// rows a failed attempt left behind are harmless (ReplacingMergeTree).
func (p *Pipeline) write(ctx context.Context, b *pending) error {
	var quar []store.Quarantined
	events := 0
	for _, it := range b.items {
		switch {
		case it.quar != nil:
			quar = append(quar, *it.quar)
		case !it.dup:
			events++
		}
	}
	win := b.win
	b.win = nil
	backoff := p.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		if win == nil {
			win = p.w.Begin(ctx, len(b.items))
			p.refill(win, b.items)
		}
		start := p.now()
		st, err := p.commit(ctx, win, &quar)
		win = nil
		if err == nil {
			elapsed := p.now().Sub(start)
			p.m.InsertDuration.Observe(elapsed.Seconds())
			p.m.BatchSize.Observe(float64(events))
			p.m.Inserted.Add(float64(st.Events + st.Usage))
			p.m.Duplicates.Add(float64(b.dups))
			p.m.LastInsert.Set(float64(p.now().UnixNano()) / 1e9)
			now := p.now().UnixNano()
			for _, it := range b.items {
				switch {
				case it.quar != nil:
					p.m.Quarantined.WithLabelValues(it.quar.Source).Inc()
				case !it.dup:
					if it.at != 0 {
						p.m.Lag.Observe(float64(now-it.at) / 1e9)
					}
					if it.id != "" {
						p.dedup.add(it.id)
					}
				}
			}
			if attempt > 1 {
				p.log.WithField("attempts", attempt).WithField("events", events).Info("insert succeeded after retries")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.log.WithError(err).WithField("attempt", attempt).WithField("retry_in", backoff).Warn("insert failed; retrying")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, p.cfg.RetryMax)
	}
}

// refill feeds a new window the batch's events again, parsing the bodies
// anew (they parsed before; the parser is deterministic).
func (p *Pipeline) refill(win Window, items []item) {
	parser := batch.NewParser()
	for _, it := range items {
		if it.quar != nil || it.dup {
			continue
		}
		ev := it.msg.Event
		if ev == nil {
			var err error
			if ev, err = parser.Parse(it.msg.Body); err != nil {
				p.log.WithError(err).WithField("message", it.msg.ID).Error("message no longer parses; not retried")
				continue
			}
		}
		win.Add(&store.Received{Event: ev, Source: it.msg.Source, ReceivedAt: it.msg.ReceivedAt})
	}
}

// commit writes the quarantined messages (once; *quar is emptied when they
// are written) while it commits the window: the two INSERTs run side by
// side, so a batch with bad messages costs no extra round trip. The batch
// succeeds when both did; when only the events made it, the retry writes
// them again (harmless duplicates) with the quarantine. The window is used
// up either way.
func (p *Pipeline) commit(ctx context.Context, win Window, quar *[]store.Quarantined) (store.InsertStats, error) {
	qerr := make(chan error, 1)
	if len(*quar) > 0 {
		qs := *quar
		go func() { qerr <- p.w.InsertQuarantine(ctx, qs) }()
	} else {
		qerr <- nil
	}
	st, err := win.Commit(ctx)
	if err != nil {
		p.m.StoreErrors.WithLabelValues("insert").Inc()
	}
	if qe := <-qerr; qe != nil {
		p.m.StoreErrors.WithLabelValues("insert_quarantine").Inc()
		if err == nil {
			err = fmt.Errorf("quarantine: %w", qe)
		}
	} else {
		*quar = nil
	}
	return st, err
}

// idSet remembers recently written ids in two generations, so memory stays
// bounded at about 2 × size ids.
type idSet struct {
	mu        sync.Mutex
	size      int
	cur, prev map[string]struct{}
}

func newIDSet(size int) *idSet {
	return &idSet{size: size, cur: make(map[string]struct{}, size)}
}

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cur[id]; ok {
		return true
	}
	_, ok := s.prev[id]
	return ok
}

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) >= s.size {
		s.prev, s.cur = s.cur, make(map[string]struct{}, s.size)
	}
	s.cur[id] = struct{}{}
}
