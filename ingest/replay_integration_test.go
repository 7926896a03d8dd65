//go:build integration

package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/testenv"
)

// TestReplayStdinCommand runs `batchwatch ingest --replay -` as shipped:
// events from standard input land in ClickHouse, an unparseable line in the
// quarantine, and the command exits 0. A path that does not exist fails at
// once with the path in the error (it used to hang: the pipeline was never
// closed on that error).
func TestReplayStdinCommand(t *testing.T) {
	bin := testenv.BuildBatchwatch(t)
	cfg := testenv.ClickHouseConfig(t)
	s := testenv.Migrated(t, cfg)
	var in bytes.Buffer
	const n = 40
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"version":"0","id":"stdin-%d","detail-type":"Batch Job State Change","source":"aws.batch","account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],"detail":{"jobId":"job-%d","jobName":"j","jobQueue":"arn:aws:batch:us-east-1:123456789012:job-queue/q","status":"RUNNABLE","createdAt":1763632800000}}`+"\n", i, i%7)
	}
	in.WriteString("{not json\n")
	run := func(stdin *bytes.Buffer, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(append([]string{"ingest", "--web.listen-address", "127.0.0.1:0", "--log.level", "warn"},
			testenv.CLIFlags(cfg)...), args...)...)
		if stdin != nil {
			cmd.Stdin = stdin
		}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("ingest %v did not finish within 60s: %s", args, out)
		}
		return string(out), err
	}
	if out, err := run(&in, "--replay", "-"); err != nil {
		t.Fatalf("ingest --replay -: %v\n%s", err, out)
	}
	var events, quarantined uint64
	ctx := context.Background()
	if err := s.Conn().QueryRow(ctx, "SELECT uniqExact(event_id) FROM "+s.Table("events")).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Table("quarantine")).Scan(&quarantined); err != nil {
		t.Fatal(err)
	}
	if events != n || quarantined != 1 {
		t.Fatalf("events %d and quarantined %d, want %d and 1", events, quarantined, n)
	}
	out, err := run(nil, "--replay", "/nonexistent/events.jsonl")
	if err == nil || !strings.Contains(out, "/nonexistent/events.jsonl") {
		t.Fatalf("replay of a missing file: err %v, output %s", err, out)
	}
}
