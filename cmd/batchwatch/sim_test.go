package main

import (
	"strings"
	"testing"
)

func TestLoadSimScenarioFaults(t *testing.T) {
	sc, err := loadSimScenario("smoke", 1, []string{"batch/SubmitJob:reset_after=0.1", "queue/batchwatch-events:duplicate=0.01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Faults.Requests) != 1 || sc.Faults.Requests[0].ResetAfter != 0.1 || sc.Faults.Messages[0].Duplicate != 0.01 {
		t.Fatalf("faults %+v", sc.Faults)
	}
	again, err := loadSimScenario("smoke", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Faults.Requests) != 0 {
		t.Fatal("--fault changed the built-in scenario")
	}
	if _, err := loadSimScenario("smoke", 1, []string{"batch:oops"}); err == nil || !strings.Contains(err.Error(), "--fault") {
		t.Fatalf("error %v, want one about --fault", err)
	}
}
