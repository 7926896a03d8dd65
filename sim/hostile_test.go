package sim

import (
	"context"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

func TestHostileMessages(t *testing.T) {
	msgs := HostileMessages(10000, 1)
	if len(msgs) != 10000 {
		t.Fatalf("%d messages", len(msgs))
	}
	kinds := map[string]int{}
	for i, m := range msgs {
		kinds[m.Kind]++
		if len(m.Body) == 0 || len(m.Body) > 256*1024 {
			t.Fatalf("message %d (%s): %d bytes, SQS takes 1 to 262144", i, m.Kind, len(m.Body))
		}
		if !utf8.ValidString(m.Body) {
			t.Fatalf("message %d (%s) is not valid UTF-8, which SQS refuses", i, m.Kind)
		}
		for _, r := range m.Body {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				t.Fatalf("message %d (%s) has %U, which SQS refuses", i, m.Kind, r)
			}
		}
		if json.Valid([]byte(m.Body)) {
			var v map[string]any
			if json.Unmarshal([]byte(m.Body), &v) == nil && v["detail-type"] == "Batch Job State Change" {
				if d, ok := v["detail"].(map[string]any); ok {
					if _, ok := d["jobId"].(string); ok {
						if _, ok := v["id"].(string); ok {
							t.Fatalf("message %d (%s) is a valid Batch event: %.200s", i, m.Kind, m.Body)
						}
					}
				}
			}
		}
	}
	for _, k := range HostileKinds() {
		if kinds[k] == 0 {
			t.Errorf("no message of kind %s", k)
		}
	}
	if kinds["huge_string"] != 40 {
		t.Errorf("%d huge messages, want 40", kinds["huge_string"])
	}
	again := HostileMessages(10000, 1)
	for i := range msgs {
		if msgs[i] != again[i] {
			t.Fatalf("message %d differs between two calls with the same seed", i)
		}
	}
}

// The run mixes the bad messages into the queue and ends only once all
// are sent.
func TestHostileMixedIntoRun(t *testing.T) {
	sc, err := LoadScenario("smoke")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Scenario: sc, Seed: 2, ExitWhenDone: true, Now: func() time.Time { return testStart },
		Hostile: HostileConfig{Count: 500, Queue: "batchwatch-events", Over: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	visible, _, delayed, err := s.Queues().Stats("batchwatch-events")
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, j := range s.Truth() {
		events += j.Events
	}
	if visible+delayed != events+500 {
		t.Fatalf("%d messages queued, want %d events + 500 hostile", visible+delayed, events)
	}
	if _, err := New(Config{Scenario: sc, Hostile: HostileConfig{Count: 1, Queue: "nope"}}); err == nil {
		t.Fatal("a hostile queue that does not exist is accepted")
	}
}
