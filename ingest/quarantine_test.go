package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/store"
)

// flakyQuarantine fails its first quarantine inserts, and records whether
// any message was acknowledged before its quarantine row was written.
type flakyQuarantine struct {
	*fakeWriter
	mu       sync.Mutex
	failures int
	written  map[string]bool
}

func (f *flakyQuarantine) InsertQuarantine(ctx context.Context, qs []store.Quarantined) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("clickhouse refused the quarantine")
	}
	for _, q := range qs {
		f.written[q.MessageID] = true
	}
	return f.fakeWriter.InsertQuarantine(ctx, qs)
}

// The quarantine INSERT runs beside the events' commit; when it fails, the
// batch is retried (its events written again, harmlessly) and no message
// is acknowledged before its quarantine row is written.
func TestQuarantineFailureRetriesTheBatch(t *testing.T) {
	w := &flakyQuarantine{fakeWriter: &fakeWriter{}, failures: 2, written: map[string]bool{}}
	p, m := newTestPipeline(w, PipelineConfig{BatchSize: 10, FlushInterval: 10 * time.Millisecond, Writers: 1})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	var acked atomic.Int64
	var early atomic.Int64
	for i := range 10 {
		id := fmt.Sprint(i)
		body := event("e"+id, "j")
		bad := i%2 == 1
		if bad {
			body = []byte(`{"detail-type":`)
		}
		err := p.Submit(context.Background(), Message{Body: body, ID: id, Source: "test", ReceivedAt: time.Now(), Done: func(ok bool) {
			w.mu.Lock()
			if bad && !w.written[id] {
				early.Add(1)
			}
			w.mu.Unlock()
			if ok {
				acked.Add(1)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for acked.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if early.Load() != 0 {
		t.Fatalf("%d bad messages acknowledged before their quarantine row was written", early.Load())
	}
	if len(w.quar) != 5 || len(w.events) != 5 {
		t.Fatalf("%d quarantined and %d events written, want 5 and 5", len(w.quar), len(w.events))
	}
	if n := testutil.ToFloat64(m.StoreErrors.WithLabelValues("insert_quarantine")); n != 2 {
		t.Fatalf("insert_quarantine errors %v, want 2", n)
	}
	if n := testutil.ToFloat64(m.StoreErrors.WithLabelValues("insert")); n != 0 {
		t.Fatalf("insert errors %v, want 0 (the events' commits succeeded)", n)
	}
}
