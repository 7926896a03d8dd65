//go:build integration

package ingest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/testenv"
)

// TestSQLDocs runs every query of docs/sql.md against real ClickHouse,
// loaded with a day of realistic jobs, and requires each to return rows.
func TestSQLDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 10 {
		t.Fatalf("docs/sql.md has %d queries, want at least 10", len(blocks))
	}
	st := testenv.Store(t)

	// Yesterday's jobs, including the ids the docs use as examples.
	now := time.Now().UTC()
	y := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	mix := newMix(3, y.Add(6*time.Hour))
	mix.standard(40)
	mix.arrayJob("3f0d2c1a-5b6e-4f7a-8c9d-0e1f2a3b4c5d", "builds-medium", 4)
	j := mix.job("spot_retry", "builds-high", nil)
	// Rename one job to the id the docs use.
	const docJob = "4c7599ae-0a82-49aa-ba5a-4727fcce14a8"
	for _, ev := range j.Events {
		ev.Detail["jobId"] = docJob
		ev.Detail["jobArn"] = "arn:aws:batch:us-east-1:123456789012:job/" + docJob
	}
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 100, FlushInterval: 50 * time.Millisecond}, m, logging.Discard().WithField("t", 1), time.Now)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	submit := func(m *mixBuilder, prefix string) {
		for i, ev := range m.events() {
			if err := p.Submit(context.Background(), Message{Body: ev.Envelope(fmt.Sprintf("%s-%05d", prefix, i)), Source: "replay", ReceivedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
	}
	submit(mix, "doc")
	// And jobs of the last two hours, for the queries over the last 24
	// hours, which yesterday's jobs have left by the afternoon (UTC).
	recent := newMix(4, now.Add(-2*time.Hour))
	recent.standard(10)
	submit(recent, "recent")
	_ = p.Submit(context.Background(), Message{Body: []byte("{broken"), ID: "docs:1", Source: "replay", ReceivedAt: now})
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	loadUsage(t, st, now)

	for i, b := range blocks {
		q := strings.ReplaceAll(b[1], "batchwatch.", st.Database()+".")
		rows, err := st.Conn().Query(context.Background(), q)
		if err != nil {
			t.Errorf("query %d failed: %v\n%s", i+1, err, b[1])
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("query %d: %v", i+1, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("query %d returned no rows:\n%s", i+1, b[1])
		}
	}
}
