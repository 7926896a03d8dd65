package batch

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that what it accepts
// is self-consistent.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			return
		}
		if ev.ID == "" || ev.Job.ID == "" {
			t.Fatalf("accepted an event without ids: %q", body)
		}
		_ = ev.Summary()
		_ = ev.Version()
		if ev.Job.QueueWaitMs() < -1 || ev.Job.RunTimeMs() < -1 {
			t.Fatal("negative duration")
		}
	})
}

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	corpus, _ := filepath.Glob("testdata/corpus/*.json")
	for _, p := range append(files, corpus...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Type":"Notification","Message":"{\"id\":\"1\",\"detail-type\":\"Batch Job State Change\",\"detail\":{\"jobId\":\"a:1#2\"}}"}`))
	f.Add([]byte(`{"id":"1","detail-type":"Batch Job Queue Blocked","detail":{"jobId":"j","eksProperties":{"podProperties":{"containers":[{"resources":{"limits":{"cpu":"1e309","memory":"9Ti"}}}]}}}}`))
}
