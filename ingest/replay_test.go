package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/logging"
)

// TestReplayInterrupted: when ctx ends mid-file, reading stops, what was
// read is still written, the stats count it, and the error says how far
// the replay got.
func TestReplayInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	var b strings.Builder
	for i := 0; i < 200000; i++ {
		b.Write(event(fmt.Sprintf("e%d", i), fmt.Sprintf("j%d", i%100)))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The interruption comes when the first batch is written, so the
	// replay is part way whatever the machine's speed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &fakeWriter{onInsert: cancel}
	p, _ := newTestPipeline(w, PipelineConfig{BatchSize: 1000, FlushInterval: 10 * time.Millisecond})
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- p.Run(context.Background()) }()
	r := &Replay{Paths: []string{path}, Log: logging.Discard().WithField("t", 1), Now: time.Now, Drain: 10 * time.Second}
	st, err := r.Run(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "replay interrupted") {
		t.Fatalf("err = %v, want an interrupted replay", err)
	}
	if perr := <-pipeDone; perr != nil {
		t.Fatal(perr)
	}
	if st.Messages == 0 || st.Messages >= 200000 {
		t.Fatalf("read %d messages; the interruption should stop reading part way", st.Messages)
	}
	if st.Written != st.Messages || st.Failed != 0 || int64(len(w.events)) != st.Written {
		t.Fatalf("read %d, written %d, failed %d, in the store %d: what was read must be written", st.Messages, st.Written, st.Failed, len(w.events))
	}
}

// TestReplayGivesUpAfterDrain: with the store failing, an interrupted
// replay waits Drain for what it read, then says what was not written.
func TestReplayGivesUpAfterDrain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, append(event("e1", "j1"), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &fakeWriter{failFirst: 1 << 30}
	p, _ := newTestPipeline(w, PipelineConfig{BatchSize: 10, FlushInterval: time.Millisecond})
	pipeCtx, stopPipe := context.WithCancel(context.Background())
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- p.Run(pipeCtx) }()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r := &Replay{Paths: []string{path}, Log: logging.Discard().WithField("t", 1), Now: time.Now, Drain: 200 * time.Millisecond}
	_, err := r.Run(ctx, p)
	stopPipe()
	<-pipeDone
	if err == nil || !strings.Contains(err.Error(), "1 of 1 messages read were not written") {
		t.Fatalf("err = %v, want the messages not written", err)
	}
}
