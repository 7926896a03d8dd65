package ingest

import (
	"testing"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/sim"
)

// TestHostileMessagesRejected: the parser ingest runs refuses every one of
// the simulator's 10,000 bad messages with a reason, and panics on none.
func TestHostileMessagesRejected(t *testing.T) {
	p := batch.NewParser()
	reasons := map[string]int{}
	for i, m := range sim.HostileMessages(10000, 1) {
		ev, err := p.Parse([]byte(m.Body))
		if err == nil {
			t.Fatalf("message %d (%s) parsed as event %s of job %s", i, m.Kind, ev.ID, ev.Job.ID)
		}
		if err.Error() == "" {
			t.Fatalf("message %d (%s): empty reason", i, m.Kind)
		}
		reasons[m.Kind]++
	}
	if len(reasons) != len(sim.HostileKinds()) {
		t.Fatalf("kinds rejected: %v", reasons)
	}
}
