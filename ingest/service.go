package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/store"
)

// Source feeds a pipeline until ctx ends, then returns once everything it
// handed over was settled.
type Source interface {
	Run(ctx context.Context, p *Pipeline) error
}

// Service runs the long-lived ingest: SQS sources, periodic reconcile and
// retention, around one pipeline, with an orderly shutdown: when ctx ends
// the sources stop receiving, the pipeline flushes what it holds (bounded by
// DrainTimeout), the sources acknowledge it, and Run returns nil.
type Service struct {
	Pipeline       *Pipeline
	Sources        []Source
	Reconcile      *Reconcile
	ReconcileEvery time.Duration
	Store          *store.Store
	Retention      store.Retention
	RetentionEvery time.Duration
	// MaintainEvery is how often the store's rollups are refreshed and its
	// active-jobs table pruned (store.Store.Maintain); 0 disables.
	MaintainEvery   time.Duration
	DrainTimeout    time.Duration
	Log             *logrus.Entry
	Now             func() time.Time
	OnPipelineStart func()
}

// Run runs until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	drain := s.DrainTimeout
	if drain <= 0 {
		drain = 60 * time.Second
	}
	// The pipeline outlives ctx so it can flush; it is cut off DrainTimeout
	// after shutdown began.
	pipeCtx, cancelPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPipe()
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- s.Pipeline.Run(pipeCtx) }()
	if s.OnPipelineStart != nil {
		s.OnPipelineStart()
	}

	var wg sync.WaitGroup
	for _, src := range s.Sources {
		wg.Add(1)
		go func(src Source) {
			defer wg.Done()
			if err := src.Run(ctx, s.Pipeline); err != nil && !errors.Is(err, context.Canceled) {
				s.Log.WithError(err).Error("source stopped")
			}
		}(src)
	}
	if s.Reconcile != nil {
		s.loop(ctx, &wg, s.ReconcileEvery, "reconcile failed", func() error {
			_, err := s.Reconcile.Run(ctx, s.Pipeline)
			return err
		})
	}
	if s.Store != nil {
		s.loop(ctx, &wg, s.RetentionEvery, "retention failed", func() error {
			_, err := s.Store.EnforceRetention(ctx, s.Retention, s.Now())
			return err
		})
		s.loop(ctx, &wg, s.MaintainEvery, "history maintenance failed", func() error { return s.Store.Maintain(ctx) })
	}

	select {
	case <-ctx.Done():
	case err := <-pipeErr:
		// The pipeline only stops early on a fatal error.
		return err
	}
	s.Log.Info("shutting down: stopping receivers and flushing")
	timer := time.AfterFunc(drain, func() {
		s.Log.WithField("timeout", drain).Warn("drain timeout; unflushed messages will be redelivered")
		cancelPipe()
	})
	defer timer.Stop()
	wg.Wait()
	s.Pipeline.Close()
	err := <-pipeErr
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	s.Log.Info("ingest stopped")
	return err
}

// loop runs f every d (if d > 0) in a goroutine counted by wg until ctx
// ends, logging its errors as warnings with msg.
func (s *Service) loop(ctx context.Context, wg *sync.WaitGroup, d time.Duration, msg string, f func() error) {
	if d <= 0 {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.every(ctx, d, func() {
			if err := f(); err != nil && ctx.Err() == nil {
				s.Log.WithError(err).Warn(msg)
			}
		})
	}()
}

// every runs f now and then every d until ctx ends.
func (s *Service) every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
