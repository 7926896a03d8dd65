package batch

import (
	"bytes"
	"os"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile("testdata/bench_succeeded.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	p := NewParser()
	for b.Loop() {
		if _, err := p.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMix parses a realistic mix of events: 200 lines taken every
// 1,250th line of a simulated day (.bench/events-250000.jsonl), one per
// iteration in turn, so ns/op is ns per event.
func BenchmarkParseMix(b *testing.B) {
	events := loadMix(b)
	var total int64
	for _, e := range events {
		total += int64(len(e))
	}
	b.SetBytes(total / int64(len(events)))
	b.ReportAllocs()
	p := NewParser()
	i := 0
	for b.Loop() {
		if _, err := p.Parse(events[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(events) {
			i = 0
		}
	}
}

// BenchmarkParseMixLogConfig is BenchmarkParseMix with an awslogs
// logConfiguration in every container, as jobs whose definition sets one
// report it (the simulated day has none): the cost of reading it.
func BenchmarkParseMixLogConfig(b *testing.B) {
	events := loadMix(b)
	lc := []byte(`"container":{"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/batch/team-a","awslogs-region":"eu-west-1","awslogs-stream-prefix":"job"},"secretOptions":[]},`)
	var total int64
	for i, e := range events {
		events[i] = bytes.ReplaceAll(e, []byte(`"container":{`), lc)
		total += int64(len(events[i]))
	}
	b.SetBytes(total / int64(len(events)))
	b.ReportAllocs()
	p := NewParser()
	i := 0
	for b.Loop() {
		ev, err := p.Parse(events[i])
		if err != nil {
			b.Fatal(err)
		}
		if ev.Job.LogGroup() != "/batch/team-a" && ev.DetailType == DetailTypeJobStateChange && bytes.Contains(events[i], lc) {
			b.Fatalf("log group %q", ev.Job.LogGroup())
		}
		if i++; i == len(events) {
			i = 0
		}
	}
}

func loadMix(tb testing.TB) [][]byte {
	data, err := os.ReadFile("testdata/bench_mix.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	var events [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			events = append(events, line)
		}
	}
	if len(events) == 0 {
		tb.Fatal("empty mix")
	}
	return events
}
