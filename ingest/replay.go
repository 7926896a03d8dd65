package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/batch"
)

// ReplayStats summarises a replay.
type ReplayStats struct {
	Files    int
	Messages int64
	Written  int64
	Failed   int64
	Elapsed  time.Duration
}

// Replay feeds the pipeline from files, directories (every *.json, *.jsonl,
// *.ndjson file below, in name order) or "-" for stdin. Each file may hold
// one event, a JSON array or JSON lines. Unparseable documents go to the
// quarantine with their position as message id. Progress is logged every
// progressEvery.
type Replay struct {
	Paths         []string
	Stdin         io.Reader
	Log           *logrus.Entry
	Now           func() time.Time
	ProgressEvery time.Duration
	// Drain bounds the wait for messages already read once ctx ends (a
	// signal): they are flushed, not dropped. 0 waits until they settle.
	Drain time.Duration
}

// Run replays every path into p, closes p (the pipeline is the replay's
// alone) so its last partial batch flushes at once, and returns when every
// message read was settled (written or given up). When ctx ends, reading
// stops and what was read is still flushed, for at most Drain; the error
// then says how far the replay got.
func (r *Replay) Run(ctx context.Context, p *Pipeline) (ReplayStats, error) {
	start := r.Now()
	var st ReplayStats
	var written, failed, pending atomic.Int64
	settled := make(chan struct{}, 1)
	done := func(ok bool) {
		if ok {
			written.Add(1)
		} else {
			failed.Add(1)
		}
		if pending.Add(-1) == 0 {
			select {
			case settled <- struct{}{}:
			default:
			}
		}
	}
	files, err := r.expand()
	if err != nil {
		p.Close()
		return st, err
	}
	stopProgress := r.progress(ctx, &st, &written, start)
	defer stopProgress()
	pending.Add(1) // held until every message was submitted
	var readErr error
	for _, f := range files {
		if readErr = r.replayFile(ctx, f, p, &st, &pending, done); readErr != nil {
			break
		}
		st.Files++
	}
	p.Close()
	var deadline <-chan time.Time
	if pending.Add(-1) != 0 {
		for pending.Load() != 0 {
			if ctx.Err() != nil && deadline == nil && r.Drain > 0 {
				deadline = time.After(r.Drain)
			}
			select {
			case <-settled:
			case <-time.After(100 * time.Millisecond):
			case <-deadline:
				st.Written, st.Failed, st.Elapsed = written.Load(), failed.Load(), r.Now().Sub(start)
				gaveUp := fmt.Errorf("replay stopped: %d of %d messages read were not written within %s (is ClickHouse reachable?)", pending.Load(), st.Messages, r.Drain)
				if readErr != nil && !errors.Is(readErr, context.Canceled) {
					return st, fmt.Errorf("%w; %w", readErr, gaveUp)
				}
				return st, gaveUp
			}
		}
	}
	st.Written, st.Failed, st.Elapsed = written.Load(), failed.Load(), r.Now().Sub(start)
	if readErr != nil && errors.Is(readErr, context.Canceled) {
		readErr = fmt.Errorf("replay interrupted after %d messages (%d written; replaying again is harmless): %w", st.Messages, st.Written, readErr)
	}
	return st, readErr
}

func (r *Replay) replayFile(ctx context.Context, path string, p *Pipeline, st *ReplayStats, pending *atomic.Int64, done func(bool)) error {
	var in io.Reader
	name := path
	if path == "-" {
		in, name = r.Stdin, "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		in = f
	}
	rd := batch.NewReader(in, name)
	for {
		m, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// The rest of this file cannot be read; say where and stop.
			return fmt.Errorf("replay: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		pending.Add(1)
		st.Messages++
		if err := p.Submit(ctx, Message{Body: m.Body, ID: m.Pos, Source: "replay", ReceivedAt: r.Now(), Done: done}); err != nil {
			pending.Add(-1)
			st.Messages--
			return err
		}
	}
}

func (r *Replay) expand() ([]string, error) {
	var files []string
	for _, p := range r.Paths {
		if p == "-" {
			files = append(files, p)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".json", ".jsonl", ".ndjson":
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("replay: walk %s: %w", p, err)
		}
		sort.Strings(found)
		if len(found) == 0 {
			return nil, fmt.Errorf("replay: no .json, .jsonl or .ndjson files under %s", p)
		}
		files = append(files, found...)
	}
	return files, nil
}

func (r *Replay) progress(ctx context.Context, st *ReplayStats, written *atomic.Int64, start time.Time) func() {
	if r.ProgressEvery <= 0 {
		return func() {}
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(r.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				w := written.Load()
				el := r.Now().Sub(start).Seconds()
				r.Log.WithField("written", w).WithField("events_per_second", int64(float64(w)/el)).Info("replay progress")
			}
		}
	}()
	return func() { close(stop) }
}
