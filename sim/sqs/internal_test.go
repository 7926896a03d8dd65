package sqs

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `{"a":"b\\c"}`, "tab\tnl\ncr\r", "\x00\x01\x1f", "é✓𝄞", "bad\xffutf8\xc3", "<html>&"} {
		var decoded string
		require.NoError(t, json.Unmarshal(appendString(nil, s), &decoded), "%q", s)
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // invalid bytes become U+FFFD
		}
		assert.Equal(t, want, decoded)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add(`{"detail":{"status":"RUNNABLE"}}`)
	f.Add("\x00\"\\\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var decoded string
		if err := json.Unmarshal(out, &decoded); err != nil {
			t.Fatalf("%q encoded to invalid JSON %q: %v", s, out, err)
		}
		if utf8.ValidString(s) && decoded != s {
			t.Fatalf("%q round-tripped to %q", s, decoded)
		}
	})
}

func TestReceiptHandles(t *testing.T) {
	h := encodeReceipt(42, 7, 3)
	inc, seq, gen, ok := decodeReceipt(h)
	require.True(t, ok)
	assert.Equal(t, []uint64{42, 7, 3}, []uint64{inc, seq, uint64(gen)})
	for _, bad := range []string{"", "x", h[:len(h)-1], h + "A", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", h[:10] + "B" + h[11:]} {
		_, _, _, ok := decodeReceipt(bad)
		assert.False(t, ok, bad)
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	f.Add(encodeReceipt(1, 2, 3))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, h string) {
		if inc, seq, gen, ok := decodeReceipt(h); ok {
			if encodeReceipt(inc, seq, gen) != h {
				t.Fatalf("%q accepted but does not round-trip", h)
			}
		}
	})
}

func TestIDsAreUniqueUUIDs(t *testing.T) {
	g := newIDGen()
	seen := map[string]bool{}
	for i := 0; i < 100000; i++ {
		id := g.next()
		require.Len(t, id, 36)
		require.Equal(t, byte('4'), id[14], "version 4 layout")
		require.Contains(t, "89ab", string(id[19]), "RFC 4122 variant")
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestInvalidRune(t *testing.T) {
	tests := []struct {
		in  string
		bad bool
	}{
		{"ok\t\n\r text é ✓ 𝄞", false},
		{"\x00", true},
		{"\x1f", true},
		{"\uFFFE", true},
		{"\xed\xa0\x80", true}, // a UTF-16 surrogate encoded in UTF-8
		{"\xff", true},
	}
	for _, tt := range tests {
		_, bad := invalidRune(tt.in)
		assert.Equal(t, tt.bad, bad, "%q", tt.in)
	}
}

// TestHeapOrder checks the timer heap under random reschedules and removals.
func TestHeapOrder(t *testing.T) {
	q := &queue{msgs: map[uint64]*message{}}
	var ms []*message
	for i := 0; i < 200; i++ {
		m := &message{hidx: -1}
		q.enqueue(m, 0, 0)
		q.unlinkVisible(m)
		q.schedule(m, stateInflight, int64((i*7919)%1000))
		ms = append(ms, m)
	}
	for i, m := range ms {
		switch i % 3 {
		case 0:
			q.reschedule(m, int64((i*104729)%1000))
		case 1:
			q.remove(m)
		}
	}
	last := int64(-1)
	for len(q.timers) > 0 {
		m := q.timers[0]
		require.GreaterOrEqual(t, m.due, last)
		last = m.due
		q.unschedule(m)
	}
	assert.Zero(t, q.nInflight)
}

func BenchmarkAppendString(b *testing.B) {
	body := `{"version":"0","id":"c8f9c4b5-76e5-d76a-f980-7011e206042b","detail-type":"Batch Job State Change","source":"aws.batch","account":"123456789012","time":"2026-11-21T10:00:00Z","region":"us-east-1","resources":["arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"],"detail":{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8","jobName":"model-build-account-42","jobId":"4c7599ae-0a82-49aa-ba5a-4727fcce14a8","status":"RUNNABLE","tags":{"team":"ml"}}}`
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		buf = appendString(buf[:0], body)
	}
}
