package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Transient reports whether err is worth retrying as is: a connection that
// broke (a pooled connection closed by a cancelled insert, a server
// restarting) or, in cluster mode on ClickHouse 18.16, a quorum insert that
// met another one (code 286: one quorum insert at a time per table and
// shard) or whose quorum state is unknown (code 319).
func Transient(err error) bool {
	var exc *clickhouse.Exception
	if errors.As(err, &exc) {
		return exc.Code == 286 || exc.Code == 319
	}
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// RetryTransient runs an idempotent write up to attempts times while it
// fails with a Transient error, waiting 100 ms, 200 ms, ... (at most 2 s)
// between tries; ctx ends the waiting.
func RetryTransient(ctx context.Context, attempts int, write func() error) error {
	wait := 100 * time.Millisecond
	for i := 1; ; i++ {
		err := write()
		if err == nil || i >= attempts || !Transient(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("retry after %w: %w", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
