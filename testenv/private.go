package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// RepoRoot returns the repository root (where scripts/ lives).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testenv source")
	}
	return filepath.Dir(filepath.Dir(file))
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// PrivateClickHouse is a ClickHouse server of the test's own, for tests
// that stop and start it (the shared one serves other tests in parallel).
type PrivateClickHouse struct {
	t    testing.TB
	env  []string
	root string
	Addr string
}

// StartPrivateClickHouse starts a ClickHouse server on free ports with its
// data in a temporary folder, through scripts/services.sh, and stops it when
// the test ends.
func StartPrivateClickHouse(t testing.TB) *PrivateClickHouse {
	t.Helper()
	return StartPrivateClickHouseEnv(t)
}

// StartPrivateClickHouseEnv is StartPrivateClickHouse with more environment
// for scripts/services.sh and the server: CLICKHOUSE_USERS_D (a folder of
// users.d files) and the variables those files read passwords from.
func StartPrivateClickHouseEnv(t testing.TB, env ...string) *PrivateClickHouse {
	t.Helper()
	tcp, http, inter := FreePort(t), FreePort(t), FreePort(t)
	p := &PrivateClickHouse{
		t:    t,
		root: RepoRoot(t),
		env: append(os.Environ(),
			"BATCHWATCH_RUN_DIR="+t.TempDir(),
			"CLICKHOUSE_TCP_PORT="+strconv.Itoa(tcp),
			"CLICKHOUSE_HTTP_PORT="+strconv.Itoa(http),
			"CLICKHOUSE_INTERSERVER_PORT="+strconv.Itoa(inter)),
		Addr: fmt.Sprintf("127.0.0.1:%d", tcp),
	}
	p.env = append(p.env, env...)
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *PrivateClickHouse) run(action string) {
	cmd := exec.Command(filepath.Join(p.root, "scripts", "services.sh"), action, "clickhouse")
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("services.sh %s clickhouse: %v\n%s", action, err, out)
	}
}

// Start starts (or restarts) the server and waits until it answers.
func (p *PrivateClickHouse) Start() { p.run("start") }

// Stop stops the server by PID.
func (p *PrivateClickHouse) Stop() { p.run("stop") }
