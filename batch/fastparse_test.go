package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"strconv"
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

// TestTagsSortedLastWins: tags and parameters come out sorted by key, with
// the last string value of a repeated key, non-strings skipped, as the map
// the reference reader fills gives them.
func TestTagsSortedLastWins(t *testing.T) {
	cases := []struct {
		tags string
		want []KV
	}{
		{`{"b":"1","a":"2","b":"3","c":4,"a":5}`, []KV{{"a", "2"}, {"b", "3"}}},
		{`{"z":"1","y":"2","x":"3","w":"4","x":"5"}`, []KV{{"w", "4"}, {"x", "5"}, {"y", "2"}, {"z", "1"}}},
		{`{"a":"1","b":"2","c":"3"}`, []KV{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{`{"k\"q":"v\\n","":"e","\u00e9":"x"}`, []KV{{"", "e"}, {`k"q`, `v\n`}, {"é", "x"}}},
		{`{"a":1}`, nil},
		{`{}`, nil},
		{`[]`, nil},
	}
	for _, c := range cases {
		ev := mustParse(t, `{"id":"1","detail-type":"Batch Job State Change","detail":{"jobId":"j","tags":`+c.tags+`,"parameters":`+c.tags+`}}`)
		for _, got := range [][]KV{ev.Job.Tags, ev.Job.Parameters} {
			if fmt.Sprint(got) != fmt.Sprint(c.want) || (got == nil) != (c.want == nil) {
				t.Errorf("%s: got %q, want %q", c.tags, got, c.want)
			}
		}
		if json.Unmarshal([]byte(c.tags), new(map[string]string)) != nil {
			continue // the reference reads mistyped values differently
		}
		ref, err := referenceParse([]byte(`{"id":"1","detail-type":"Batch Job State Change","detail":{"jobId":"j","tags":` + c.tags + `}}`))
		if err != nil || fmt.Sprint(ref.Job.Tags) != fmt.Sprint(ev.Job.Tags) {
			t.Errorf("%s: reference %q, got %q", c.tags, ref.Job.Tags, ev.Job.Tags)
		}
	}
	// A repeated "tags" replaces the first, as a map would be replaced.
	ev := mustParse(t, `{"id":"1","detail-type":"Batch Job State Change","detail":{"jobId":"j","tags":{"a":"1"},"tags":{"b":"2"},"parameters":{"p":"1"},"parameters":5}}`)
	if fmt.Sprint(ev.Job.Tags) != "[{b 2}]" || ev.Job.Parameters != nil {
		t.Errorf("repeated: tags %v, parameters %v", ev.Job.Tags, ev.Job.Parameters)
	}
	// Appending to the tags must not overwrite the parameters.
	ev = mustParse(t, `{"id":"1","detail-type":"Batch Job State Change","detail":{"jobId":"j","tags":{"a":"1"},"parameters":{"p":"1"}}}`)
	_ = append(ev.Job.Tags, KV{"x", "y"})
	if fmt.Sprint(ev.Job.Parameters) != "[{p 1}]" {
		t.Errorf("parameters %v after appending to tags", ev.Job.Parameters)
	}
}

// TestEventOwnsItsMemory: an event does not change when its parser parses
// other events afterwards.
func TestEventOwnsItsMemory(t *testing.T) {
	var events [][]byte
	for i, b := range loadMix(t) {
		switch i % 3 {
		case 1: // wrapped in SNS
			m, _ := json.Marshal(string(b))
			b = []byte(`{"Type":"Notification","MessageId":"m-` + fmt.Sprint(i) + `","Message":` + string(m) + `}`)
		case 2: // strings with escapes, which are copied rather than viewed
			b = bytes.ReplaceAll(b, []byte(`"SUCCEEDED"`), []byte(`"SUCC\u0045EDED"`))
			b = bytes.ReplaceAll(b, []byte(`job-queue/`), []byte(`job-queue\/`))
		}
		events = append(events, b)
	}
	p := NewParser()
	var first []*Event
	var want []string
	for _, b := range events {
		ev, err := p.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, ev)
		j, _ := json.Marshal(ev)
		want = append(want, string(j))
	}
	for i := len(events) - 1; i >= 0; i-- {
		if _, err := p.Parse(events[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i, ev := range first {
		if got, _ := json.Marshal(ev); string(got) != want[i] {
			t.Fatalf("event %d changed:\n%s\n%s", i, want[i], got)
		}
	}
}

func TestQuantityMatchesParseFloat(t *testing.T) {
	for _, s := range []string{"0", "4", "8192", "0004", "999999999999999", "9999999999999999", "1.5", "-1", "", "+1", "1e3", "NaN", "Inf", "0x10", "1_000", "١"} {
		v, err := strconv.ParseFloat(s, 64)
		wantOK := err == nil && v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v)
		got, ok := quantity(s)
		if ok != wantOK || (ok && got != v) {
			t.Errorf("%q: got %v %v, want %v %v", s, got, ok, v, wantOK)
		}
	}
}
