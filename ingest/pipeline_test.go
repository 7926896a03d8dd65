package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
)

type fakeWriter struct {
	mu        sync.Mutex
	failFirst int // fail this many Insert calls
	calls     int
	events    map[string]int
	quar      map[string]store.Quarantined // by message id, like the table's key
	block     chan struct{}                // when set, Insert waits for it to close
	onInsert  func()                       // when set, called after each successful insert
}

func (f *fakeWriter) Begin(context.Context, int) Window { return &fakeWindow{f: f} }

// fakeWindow buffers observations and writes them on Commit.
type fakeWindow struct {
	f    *fakeWriter
	recs []*store.Received
}

func (w *fakeWindow) Add(r *store.Received) { w.recs = append(w.recs, r) }
func (w *fakeWindow) Abort()                {}
func (w *fakeWindow) Commit(ctx context.Context) (store.InsertStats, error) {
	return w.f.insert(ctx, w.recs)
}

func (f *fakeWriter) insert(ctx context.Context, recs []*store.Received) (store.InsertStats, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return store.InsertStats{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failFirst {
		return store.InsertStats{}, errors.New("clickhouse down")
	}
	if f.events == nil {
		f.events = map[string]int{}
	}
	for _, r := range recs {
		f.events[r.Event.ID]++
	}
	if f.onInsert != nil {
		f.onInsert()
	}
	return store.InsertStats{Events: len(recs)}, nil
}

func (f *fakeWriter) InsertQuarantine(_ context.Context, qs []store.Quarantined) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quar == nil {
		f.quar = map[string]store.Quarantined{}
	}
	for _, q := range qs {
		f.quar[q.MessageID] = q
	}
	return nil
}

func event(id, job string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change","source":"aws.batch","time":"2026-11-20T10:00:00Z","detail":{"jobId":%q,"jobQueue":"q","status":"RUNNABLE","createdAt":1763632800000}}`, id, job))
}

func newTestPipeline(w Writer, cfg PipelineConfig) (*Pipeline, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	return NewPipeline(w, cfg, m, logging.Discard().WithField("t", 1), time.Now), m
}

func TestPipelineWritesAcksAndQuarantines(t *testing.T) {
	w := &fakeWriter{failFirst: 3}
	p, m := newTestPipeline(w, PipelineConfig{BatchSize: 7, FlushInterval: 10 * time.Millisecond, Writers: 1})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	var ok, notOK atomic.Int64
	ack := func(good bool) {
		if good {
			ok.Add(1)
		} else {
			notOK.Add(1)
		}
	}
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		body := event(fmt.Sprintf("e%d", i), fmt.Sprintf("j%d", i%5))
		if i%10 == 9 {
			body = []byte(`{"broken`)
		}
		if err := p.Submit(ctx, Message{Body: body, ID: fmt.Sprint(i), Source: "test", ReceivedAt: time.Now(), Done: ack}); err != nil {
			t.Fatal(err)
		}
	}
	// A redelivery of an event already written (and acknowledged) is
	// acknowledged without being written again.
	for ok.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	_ = p.Submit(ctx, Message{Body: event("e0", "j0"), Source: "test", Done: ack})
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok.Load() != 51 || notOK.Load() != 0 {
		t.Fatalf("acked ok=%d notOK=%d, want 51 and 0", ok.Load(), notOK.Load())
	}
	if len(w.events) != 45 || len(w.quar) != 5 {
		t.Fatalf("written %d events and %d quarantined, want 45 and 5", len(w.events), len(w.quar))
	}
	for id, n := range w.events {
		if n != 1 {
			t.Errorf("event %s written %d times", id, n)
		}
	}
	if got := testutil.ToFloat64(m.StoreErrors.WithLabelValues("insert")); got != 3 {
		t.Errorf("insert errors = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.Duplicates); got != 1 {
		t.Errorf("duplicates = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Buffered); got != 0 {
		t.Errorf("buffered = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.Acked.WithLabelValues("test")); got != 51 {
		t.Errorf("acknowledged = %v, want 51", got)
	}
}

func TestPipelineBackpressure(t *testing.T) {
	w := &fakeWriter{block: make(chan struct{})}
	const batch = 10
	p, _ := newTestPipeline(w, PipelineConfig{BatchSize: batch, FlushInterval: time.Millisecond, ParseWorkers: 1})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	accepted := 0
	for i := 0; i < 1000; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := p.Submit(ctx, Message{Body: event(fmt.Sprint(i), "j"), Source: "test"})
		cancel()
		if err != nil {
			break
		}
		accepted++
	}
	// raw + parsed channels, one batch being built, one queued, one in the
	// writer, one in each parse worker: a handful of batches at most.
	if accepted >= 1000 || accepted > 8*batch {
		t.Fatalf("accepted %d messages while the writer was blocked; memory is not bounded", accepted)
	}
	close(w.block)
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(w.events) != accepted {
		t.Fatalf("wrote %d, accepted %d", len(w.events), accepted)
	}
}

func TestPipelineCancelGivesBack(t *testing.T) {
	w := &fakeWriter{failFirst: 1 << 30}
	p, _ := newTestPipeline(w, PipelineConfig{BatchSize: 5, FlushInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var notOK atomic.Int64
	for i := 0; i < 12; i++ {
		_ = p.Submit(context.Background(), Message{Body: event(fmt.Sprint(i), "j"), Source: "test", Done: func(ok bool) {
			if !ok {
				notOK.Add(1)
			}
		}})
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	p.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if notOK.Load() != 12 {
		t.Fatalf("%d messages given back, want 12", notOK.Load())
	}
}

func TestPipelineConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		in            PipelineConfig
		size          int
		flushInterval time.Duration
	}{
		{PipelineConfig{}, 20000, time.Second},
		{PipelineConfig{Replay: true}, 100000, 10 * time.Second},
		{PipelineConfig{Replay: true, BatchSize: 7, FlushInterval: time.Minute}, 7, time.Minute},
	} {
		c := tc.in
		c.defaults()
		if c.BatchSize != tc.size || c.FlushInterval != tc.flushInterval {
			t.Errorf("%+v: batch size %d, flush interval %v; want %d, %v", tc.in, c.BatchSize, c.FlushInterval, tc.size, tc.flushInterval)
		}
	}
}
