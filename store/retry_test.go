package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestTransient(t *testing.T) {
	for err, want := range map[error]bool{
		&clickhouse.Exception{Code: 286}:                         true,
		fmt.Errorf("send: %w", &clickhouse.Exception{Code: 319}): true,
		fmt.Errorf("read: %w", net.ErrClosed):                    true,
		io.EOF:                                                   true,
		&clickhouse.Exception{Code: 60}:                          false, // unknown table
		errors.New("bad column"):                                 false,
	} {
		if got := Transient(err); got != want {
			t.Errorf("Transient(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestRetryTransient(t *testing.T) {
	calls := 0
	err := RetryTransient(context.Background(), 5, func() error {
		calls++
		if calls < 3 {
			return &clickhouse.Exception{Code: 286}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want success at the third", err, calls)
	}
	calls = 0
	bad := &clickhouse.Exception{Code: 60}
	if err := RetryTransient(context.Background(), 5, func() error { calls++; return bad }); !errors.Is(err, bad) || calls != 1 {
		t.Fatalf("a permanent error: %v after %d calls", err, calls)
	}
	calls = 0
	if err := RetryTransient(context.Background(), 2, func() error { calls++; return io.EOF }); !errors.Is(err, io.EOF) || calls != 2 {
		t.Fatalf("attempts exhausted: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	if err := RetryTransient(ctx, 5, func() error { calls++; return io.EOF }); err == nil || calls != 1 {
		t.Fatalf("cancelled: %v after %d calls", err, calls)
	}
}
