package ingest

import (
	"context"
	"fmt"
)

// RunReplay runs p (the replay's alone) and replays r's paths into it, then
// logs what was written. The pipeline outlives a signal so what was read is
// flushed; the replay cuts it off after its drain timeout. ready is called
// once the pipeline runs.
func RunReplay(ctx context.Context, p *Pipeline, r *Replay, ready func()) error {
	pipeCtx, cancelPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPipe()
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- p.Run(pipeCtx) }()
	ready()
	st, err := r.Run(ctx, p)
	if ctx.Err() != nil {
		cancelPipe()
	}
	if perr := <-pipeErr; err == nil {
		err = perr
	}
	rate := 0.0
	if st.Elapsed > 0 {
		rate = float64(st.Written) / st.Elapsed.Seconds()
	}
	r.Log.WithField("files", st.Files).WithField("messages", st.Messages).WithField("written", st.Written).
		WithField("not_written", st.Failed).WithField("seconds", fmt.Sprintf("%.2f", st.Elapsed.Seconds())).
		WithField("messages_per_second", int64(rate)).Info("replay done")
	if err != nil {
		return err
	}
	if st.Failed > 0 {
		return fmt.Errorf("replay: %d messages were not written", st.Failed)
	}
	return nil
}

// RunReconcileOnce runs p, makes one reconcile pass into it, flushes it and
// logs how many jobs were read. ready is called once the pipeline runs.
func RunReconcileOnce(ctx context.Context, p *Pipeline, rec *Reconcile, ready func()) error {
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- p.Run(context.WithoutCancel(ctx)) }()
	ready()
	n, err := rec.Run(ctx, p)
	p.Close()
	if perr := <-pipeErr; err == nil {
		err = perr
	}
	rec.Log.WithField("jobs", n).Info("reconcile done")
	return err
}
