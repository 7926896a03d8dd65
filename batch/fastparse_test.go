package batch

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// TestParseTimeMatchesTimeParse: the fast path gives exactly what
// time.Parse(time.RFC3339, s).UTC() gives, errors included.
func TestParseTimeMatchesTimeParse(t *testing.T) {
	inputs := []string{
		"2026-11-20T14:02:11Z", "2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2024-02-30T00:00:00Z",
		"2024-04-31T00:00:00Z", "2024-12-31T23:59:59Z", "2024-12-31T23:59:60Z", "2024-01-01T24:00:00Z",
		"2024-01-01T23:60:00Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-01-01t00:00:00z", "2024-01-01T00:00:00+01:00",
		"2024-01-01T00:00:00.5Z", "2024-1-01T00:00:00Z", "+024-01-01T00:00:00Z", "2024-01-01T00:00:0aZ",
		"2024-01-01 00:00:00Z", "", "2024-01-01T00:00:00", "२०२४-01-01T00:00:00Z",
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		inputs = append(inputs, fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ",
			r.Intn(10000), r.Intn(14), r.Intn(33), r.Intn(26), r.Intn(62), r.Intn(62)))
	}
	for _, s := range inputs {
		want, werr := time.Parse(time.RFC3339, s)
		got, gerr := parseTime(s)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%q: err %v, want %v", s, gerr, werr)
		}
		if werr == nil && got != want.UTC() {
			t.Fatalf("%q: got %#v, want %#v", s, got, want.UTC())
		}
	}
}
