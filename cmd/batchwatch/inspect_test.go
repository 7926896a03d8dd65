package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// inspect event shows a usage event with what the attempt used.
func TestInspectUsageEvent(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runInspect("../../batch/testdata/usage_event.json", strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	var got struct {
		DetailType string `json:"detail_type"`
		JobID      string `json:"job_id"`
		Status     *string
		Usage      map[string]any `json:"usage"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", out.String(), err)
	}
	if got.DetailType != "Batch Job Attempt Usage" || got.JobID != "4c1bd8f2-61c5-4b3b-9d1b-2a0f7c9e5a10:12" || got.Status != nil ||
		got.Usage["memory_peak_bytes"] != float64(3<<30) || got.Usage["job_attempt"] != float64(2) || got.Usage["oom_killed"] != false {
		t.Errorf("inspect printed %s", out.String())
	}
	// A Batch event has no usage key at all.
	out.Reset()
	if err := runInspect("-", strings.NewReader(`{"id":"1","detail-type":"Batch Job State Change","source":"aws.batch","detail":{"jobId":"j","status":"RUNNING"}}`), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"usage"`) {
		t.Errorf("state change printed with usage: %s", out.String())
	}
}
