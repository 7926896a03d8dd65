package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets a test run this binary's main (BATCHWATCH_TEST_MAIN=1): the
// command line exactly as a user types it.
func TestMain(m *testing.M) {
	if os.Getenv("BATCHWATCH_TEST_MAIN") == "1" {
		os.Exit(runMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runSelf runs `batchwatch args...` as a child process.
func runSelf(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BATCHWATCH_TEST_MAIN=1", "AWS_REGION=us-east-1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestSubmitServeRefusesExposure(t *testing.T) {
	allow := []string{"--serve.allow-queue=q", "--serve.allow-job-definition=d", "--clickhouse.addr=127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--web.listen-address=:9824"}, "needs --web.config.file (TLS and/or basic auth), or --serve.insecure"},
		{[]string{"--web.listen-address=127.0.0.1:0", "--web.listen-address=0.0.0.0:0"}, `0.0.0.0:0\" is not loopback`},
		{[]string{"--web.listen-address=127.0.0.1:0", "--serve.allow-queue=q"}, "needs an allow-list"},
	} {
		args := append([]string{"submit", "--serve"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "allow-queue") {
			args = append(args, allow...)
		}
		code, out := runSelf(t, args...)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 1 and %q in:\n%s", c.args, code, c.want, out)
		}
	}
}

func TestMigrateRetentionEveryNeedsEnforce(t *testing.T) {
	code, out := runSelf(t, "migrate", "--retention.every=1h", "--clickhouse.addr=127.0.0.1:1")
	if code != 1 || !strings.Contains(out, "--retention.every needs --retention.enforce") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
