//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/batchwatch/batchwatch/usage"
)

// bins holds the wrapper and the test child, built static once per run.
type bins struct{ wrapper, child string }

func build(t *testing.T) bins {
	t.Helper()
	dir := t.TempDir()
	b := bins{wrapper: filepath.Join(dir, "batchwatch-run"), child: filepath.Join(dir, "child")}
	for out, pkg := range map[string]string{b.wrapper: ".", b.child: "./testdata/child"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	return b
}

// run runs the wrapper with args and env (on top of a clean AWS environment)
// and returns its exit code, stdout and stderr.
func (b bins) run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := b.command(env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run wrapper: %v", err)
	}
	return code, out.String(), errb.String()
}

func (b bins) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(b.wrapper, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "BATCHWATCH_RUN_SEND=false"}, env...)
	return cmd
}

// record finds the usage line on stderr.
func record(t *testing.T, stderr string) usage.Record {
	t.Helper()
	for line := range strings.SplitSeq(stderr, "\n") {
		if !strings.Contains(line, `"source":"batchwatch.usage"`) {
			continue
		}
		var e usage.Envelope
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("usage line %q: %v", line, err)
		}
		if e.DetailType != usage.DetailType {
			t.Fatalf("detail-type %q", e.DetailType)
		}
		return e.Detail
	}
	t.Fatalf("no usage line on stderr:\n%s", stderr)
	return usage.Record{}
}

func TestPeakMemoryOfAChildHolding300MiB(t *testing.T) {
	b := build(t)
	code, out, stderr := b.run(t, nil, "--source", "proc", "--interval", "100ms", "--", b.child, "hold", "300", "2")
	if code != 0 || !strings.HasPrefix(out, "held\n") {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	r := record(t, stderr)
	want := float64(300 << 20)
	if got := float64(r.MemoryPeakBytes); math.Abs(got-want) > 0.05*want {
		t.Errorf("peak %.1f MiB, want 300 MiB within 5%%", got/(1<<20))
	}
	if r.Source != "proc" || r.Samples < 3 {
		t.Errorf("source %q with %d samples", r.Source, r.Samples)
	}
}

// The machine these tests run on is shared: a spinning child gets what the
// scheduler gives it, which the child measures itself. The wrapper must report
// that (one core at most), not some fixed figure.
func TestCPUOfAChildBusyOnOneCore(t *testing.T) {
	b := build(t)
	file := filepath.Join(t.TempDir(), "cpu")
	code, _, stderr := b.run(t, nil, "--source", "proc", "--interval", "200ms", "--", b.child, "spin", "2", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := record(t, stderr)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cpu, wall float64
	var parity int
	if _, err := fmt.Sscan(string(raw), &cpu, &wall, &parity); err != nil {
		t.Fatalf("child report %q: %v", raw, err)
	}
	if math.Abs(r.CPUSeconds-cpu) > 0.05*cpu+0.05 {
		t.Errorf("cpuSeconds %.3f, the child used %.3f", r.CPUSeconds, cpu)
	}
	if want := cpu / wall; math.Abs(r.CPUMeanVCPUs-want) > 0.1*want+0.05 {
		t.Errorf("mean %.3f vCPUs, the child ran at %.3f", r.CPUMeanVCPUs, want)
	}
	if r.CPUMaxVCPUs > 1.15 || r.CPUP95VCPUs > r.CPUMaxVCPUs {
		t.Errorf("one thread: p95 %.3f, max %.3f vCPUs", r.CPUP95VCPUs, r.CPUMaxVCPUs)
	}
	if r.WallSeconds < 2 {
		t.Errorf("wall %.3f s for a 2 s child", r.WallSeconds)
	}
}

func TestSignalsReachTheChild(t *testing.T) {
	b := build(t)
	cmd := b.command(nil, "--interval", "100ms", "--", b.child, "trap")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("child said %q, want %q (stderr %s)", lines.Text(), want, stderr.String())
		}
	}
	expect("ready")
	for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP} {
		if err := cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
		expect("got " + s.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect("got terminated")
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
		t.Fatalf("wrapper ended with %v, want exit 42 (the child's answer to SIGTERM)", err)
	}
	if r := record(t, stderr.String()); r.ExitCode != 42 || r.Signal != "" {
		t.Errorf("record exit %d signal %q", r.ExitCode, r.Signal)
	}
}

func TestExitCodesPassThrough(t *testing.T) {
	b := build(t)
	for _, tc := range []struct {
		args   []string
		code   int
		signal string
		record bool
	}{
		{[]string{b.child, "exit", "0"}, 0, "", true},
		{[]string{b.child, "exit", "3"}, 3, "", true},
		{[]string{b.child, "exit", "255"}, 255, "", true},
		{[]string{b.child, "kill9"}, 137, "SIGKILL", true},
		{[]string{"sh", "-c", "kill -TERM $$"}, 143, "SIGTERM", true},
		{[]string{filepath.Join(t.TempDir(), "missing")}, 127, "", false},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			code, _, stderr := b.run(t, nil, append([]string{"--interval", "100ms", "--"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			if !tc.record {
				if strings.Contains(stderr, usage.Source) {
					t.Errorf("usage record for a command that never ran: %s", stderr)
				}
				return
			}
			if r := record(t, stderr); r.ExitCode != tc.code || r.Signal != tc.signal {
				t.Errorf("record exit %d signal %q, want %d %q", r.ExitCode, r.Signal, tc.code, tc.signal)
			}
		})
	}
}

func TestUnreachableEndpointChangesNothing(t *testing.T) {
	b := build(t)
	// A port nothing listens on: bind one, note it, close it.
	l := httptest.NewServer(http.NotFoundHandler())
	dead := l.URL
	l.Close()
	args := []string{"--interval", "100ms", "--send-timeout", "2s", "--", b.child, "exit", "5"}
	code0, out0, err0 := b.run(t, nil, args...)
	env := []string{"BATCHWATCH_RUN_SEND=true", "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_ENDPOINT_URL_EVENTBRIDGE=" + dead, "AWS_BATCH_JOB_ID=job-1", "AWS_BATCH_JOB_ATTEMPT=1"}
	code, out, stderr := b.run(t, env, args...)
	if code != 5 || code0 != 5 {
		t.Fatalf("exit %d (without sending %d), want 5: %s", code, code0, stderr)
	}
	if out != "out\n" || out != out0 {
		t.Errorf("stdout %q, without sending %q, want %q", out, out0, "out\n")
	}
	if !strings.HasPrefix(stderr, "err\n") || !strings.HasPrefix(err0, "err\n") {
		t.Errorf("stderr does not start with the child's: %q", stderr)
	}
	if !strings.Contains(stderr, "batchwatch-run: usage not sent: put events:") {
		t.Errorf("no word of the failed send: %s", stderr)
	}
	if r := record(t, stderr); r.JobID != "job-1" || r.JobAttempt != 1 || r.ExitCode != 5 {
		t.Errorf("record %+v", r)
	}
}

func TestSendsOneSignedPutEvents(t *testing.T) {
	b := build(t)
	type got struct {
		header http.Header
		body   []byte
	}
	reqs := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reqs <- got{r.Header.Clone(), body}
		_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]}`)
	}))
	defer srv.Close()
	env := []string{"BATCHWATCH_RUN_SEND=true", "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_ENDPOINT_URL=" + srv.URL, "AWS_BATCH_JOB_ID=job-7", "AWS_BATCH_JOB_ATTEMPT=2", "AWS_BATCH_JOB_ARRAY_INDEX=12",
		"BATCHWATCH_RUN_EVENT_BUS=jobs"}
	code, _, stderr := b.run(t, env, "--interval", "100ms", "--", b.child, "exit", "0")
	if code != 0 || strings.Contains(stderr, "not sent") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	g := <-reqs
	if g.header.Get("X-Amz-Target") != "AWSEvents.PutEvents" ||
		!strings.HasPrefix(g.header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") ||
		!strings.Contains(g.header.Get("Authorization"), "/eu-west-1/events/aws4_request") {
		t.Fatalf("headers %v", g.header)
	}
	var req struct {
		Entries []struct{ Source, DetailType, Detail, EventBusName string }
	}
	if err := json.Unmarshal(g.body, &req); err != nil || len(req.Entries) != 1 {
		t.Fatalf("body %s: %v", g.body, err)
	}
	e := req.Entries[0]
	var r usage.Record
	if err := json.Unmarshal([]byte(e.Detail), &r); err != nil {
		t.Fatalf("detail %q: %v", e.Detail, err)
	}
	if e.Source != usage.Source || e.DetailType != usage.DetailType || e.EventBusName != "jobs" ||
		r.JobID != "job-7" || r.JobAttempt != 2 || r.ArrayIndex != 12 || r != record(t, stderr) {
		t.Errorf("entry %+v, record %+v", e, r)
	}
}

func TestBadFlagsAndEnvironment(t *testing.T) {
	b := build(t)
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--interval", "0s", "--", "true"}, "must be positive"},
		{nil, []string{"--source", "disk", "--", "true"}, `source "disk"`},
		{nil, []string{"--"}, "no command given"},
		{[]string{"BATCHWATCH_RUN_INTERVAL=soon"}, []string{"--", "true"}, "BATCHWATCH_RUN_INTERVAL"},
	} {
		code, _, stderr := b.run(t, tc.env, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v %v: exit %d, stderr %q, want 2 and %q", tc.env, tc.args, code, stderr, tc.want)
		}
	}
}
