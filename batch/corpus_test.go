package batch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpus parses real published events (batch/testdata/corpus, see its
// README and SOURCES.md) and compares the inspect view with values a person
// read off each event by hand.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("corpus has %d events, expected at least 25", len(files))
	}
	for _, exp := range files {
		name := strings.TrimSuffix(filepath.Base(exp), ".expected.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata/corpus", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			wantRaw, err := os.ReadFile(exp)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatalf("expected file: %v", err)
			}
			ev, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			gotRaw, _ := json.Marshal(ev.Summary())
			var got map[string]any
			_ = json.Unmarshal(gotRaw, &got)
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s: key missing from inspect output", k)
					continue
				}
				if fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("%s: got %v, want %v", k, g, w)
				}
			}
		})
	}
}
