package exporter

import (
	"testing"

	"github.com/batchwatch/batchwatch/batch"
)

// TestStatusMapping fails when batch gains a status the exporter does not
// map, or when the mapping is not one to one; the exporter's own order
// must stay the lifecycle's (active statuses first), whatever the order of
// batch.Statuses.
func TestStatusMapping(t *testing.T) {
	if len(batch.Statuses) != int(numStatus) {
		t.Errorf("batch has %d statuses, the exporter maps %d", len(batch.Statuses), numStatus)
	}
	for _, s := range batch.Statuses {
		st := statusIndex(s)
		if st == stNone {
			t.Errorf("status %s has no index in the exporter", s)
			continue
		}
		if got := statusName(st); got != s {
			t.Errorf("statusName(statusIndex(%s)) = %q", s, got)
		}
	}
	seen := map[batch.Status]bool{}
	for st := range numStatus {
		s := statusName(st)
		if s == "" || seen[s] {
			t.Errorf("index %d maps to %q (empty or twice)", st, s)
		}
		seen[s] = true
		if st > 0 && rank(st) < rank(st-1) {
			t.Errorf("index %d (%s) comes after %s in the exporter's order but earlier in the lifecycle", st, s, statusName(st-1))
		}
		if active(st) == s.Terminal() {
			t.Errorf("%s: active(%d) = %v", s, st, active(st))
		}
	}
	if statusIndex("CANCELLED") != stNone || statusName(stNone) != "" {
		t.Error("an unknown status must map to none")
	}
}
