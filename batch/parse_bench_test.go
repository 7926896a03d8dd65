package batch

import (
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
