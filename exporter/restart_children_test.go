package exporter

import (
	"testing"
	"time"
)

// After a restart, the finished children of an array that is still running
// count in the finished gauges: the first resync lists them (found by the
// load test: children that finished before an exporter's SIGKILL were
// missing from batchwatch_queue_array_child_jobs after its restart).
func TestFirstResyncListsFinishedChildrenOfActiveArrays(t *testing.T) {
	clock := newFakeClock()
	fb := oneQueue()
	ms := clock.ms()
	p := fb.add(&fakeJob{id: "arr", queue: "q1", def: defARN("d", 1), status: "PENDING", created: ms - 600_000, arraySize: 3, vcpus: 1, memMiB: 512})
	for i, st := range []string{"SUCCEEDED", "FAILED", "RUNNING"} {
		k := &fakeJob{id: p.id + ":" + string(rune('0'+i)), parent: p.id, index: i, queue: "q1", def: p.def, status: st, created: p.created, vcpus: 1, memMiB: 512}
		if st != "RUNNING" {
			k.started, k.stopped = ms-300_000, ms-60_000
		} else {
			k.started = ms - 30_000
		}
		fb.add(k)
	}
	x, _ := testExporter(t, &Config{ListFinishedOnStart: true}, fb, clock, Deps{})
	started(t, x)
	want := fb.truthCounts(clock.ms(), time.Hour)
	if want["children/q1/SUCCEEDED"] != 1 || want["children/q1/FAILED"] != 1 {
		t.Fatalf("the fake's truth %v", want)
	}
	if d := diffCounts(want, stateCounts(x.State())); d != "" {
		t.Fatalf("gauges differ from the truth after a start:\n%s", d)
	}
}
