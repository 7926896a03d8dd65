package store

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPartStateDirty(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	st := partState{seenMax: t0, started: t0.Add(time.Minute)}
	if st.dirty(t0) {
		t.Error("a partition unchanged since a refresh that began a minute after its newest part is dirty")
	}
	if !st.dirty(t0.Add(time.Second)) {
		t.Error("a partition with a newer part is not dirty")
	}
	// The newest part seen was written in the second the refresh began:
	// another part of that second may have been missed.
	same := partState{seenMax: t0, started: t0}
	if !same.dirty(t0) {
		t.Error("a refresh that began in the second of the newest part it saw does not run again")
	}
	after := partState{seenMax: t0, started: t0.Add(2 * time.Second)}
	if after.dirty(t0) {
		t.Error("a refresh two seconds after the newest part runs again")
	}
}

func TestRollupSQL(t *testing.T) {
	s := &Store{db: "bw"}
	for _, r := range rollupTables() {
		q, err := s.rollupSQL(r, "20261207", "20261207")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"FROM bw." + r.source + " FINAL", "created_at >= toDateTime('2026-12-07 00:00:00', 'UTC')", "created_at < toDateTime('2026-12-08 00:00:00', 'UTC')"} {
			if !contains(q, want) {
				t.Errorf("%s: query lacks %q:\n%s", r.table, want, q)
			}
		}
		if _, err := s.rollupSQL(r, "202612", "20261207"); err == nil {
			t.Errorf("%s: a monthly partition was accepted", r.table)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestDayRuns(t *testing.T) {
	got := dayRuns([]string{"20261203", "20261201", "20261130", "20261202", "20261205", "20261206"}, 3)
	want := [][]string{{"20261130", "20261201", "20261202"}, {"20261203"}, {"20261205", "20261206"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dayRuns = %v, want %v", got, want)
	}
}
