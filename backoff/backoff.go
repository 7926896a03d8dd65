// Package backoff holds the one way components wait between retries: an
// exponential policy and a sleep that ends with the context.
package backoff

import (
	"context"
	"time"
)

// Policy doubles the delay after each consecutive failure, from Initial up
// to Max.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay is the wait after the failures-th consecutive failure (from 0).
func (p Policy) Delay(failures int) time.Duration {
	d := p.Initial << min(failures, 30)
	if d <= 0 || d > p.Max {
		return p.Max
	}
	return d
}

// Sleep waits d or until ctx ends; it returns ctx's error in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
