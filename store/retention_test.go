package store

import "testing"

func TestPartitionEnd(t *testing.T) {
	cases := map[string]string{"20261120": "2026-11-21", "202611": "2026-12-01", "202612": "2027-01-01"}
	for p, want := range cases {
		got, ok := partitionEnd(p)
		if !ok || got.Format("2006-01-02") != want {
			t.Errorf("partitionEnd(%s) = %v %v, want %s", p, got, ok, want)
		}
	}
	for _, bad := range []string{"tuple()", "2026", "abcdefgh"} {
		if _, ok := partitionEnd(bad); ok {
			t.Errorf("partitionEnd(%q) accepted", bad)
		}
	}
}

func TestRetentionValidate(t *testing.T) {
	if err := (Retention{EventsDays: 90, JobsDays: 30}).Validate(); err == nil {
		t.Error("jobs shorter than events accepted")
	}
	if err := (Retention{EventsDays: 90, JobsDays: 730, QuarantineDays: -1}).Validate(); err == nil {
		t.Error("negative accepted")
	}
	if err := (Retention{EventsDays: 90, JobsDays: 730, AttemptsDays: 730, QuarantineDays: 30}).Validate(); err != nil {
		t.Error(err)
	}
}
