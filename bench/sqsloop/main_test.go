package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/sim/sqs"
)

func TestDrain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	srv := sqs.NewServer(sqs.Options{})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	_, err := srv.CreateQueue("drain", nil)
	require.NoError(t, err)
	bodies := make([]string, 555)
	for i := range bodies {
		bodies[i] = fmt.Sprint(i)
	}
	require.NoError(t, srv.SendBatch("drain", bodies))

	var out bytes.Buffer
	require.NoError(t, run([]string{"--endpoint", hs.URL, "--queue", "drain", "--callers", "3"}, &out))
	var r result
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	assert.Equal(t, int64(555), r.Messages)
	assert.Equal(t, 3, r.Callers)
	assert.Zero(t, r.Errors)
	assert.Positive(t, r.MessagesPerSecond)
	v, inflight, _, err := srv.Stats("drain")
	require.NoError(t, err)
	assert.Zero(t, v+inflight)
}

func TestExpectWaitsForTheProducer(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	srv := sqs.NewServer(sqs.Options{})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	go func() {
		// The queue appears after the consumer started, then the messages.
		time.Sleep(300 * time.Millisecond)
		if _, err := srv.CreateQueue("later", nil); err != nil {
			t.Error(err)
			return
		}
		for i := 0; i < 5; i++ {
			_ = srv.SendBatch("later", []string{"a", "b", "c", "d"})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var out bytes.Buffer
	require.NoError(t, run([]string{"--endpoint", hs.URL, "--queue", "later", "--callers", "2", "--expect", "20"}, &out))
	var r result
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	assert.Equal(t, int64(20), r.Messages)
	assert.Contains(t, r.Queue, "/123456789012/later")
}
