package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PID is the process id of a started process.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL (by PID) and waits until the process is gone: a crash
// the test causes on purpose.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// PID is the process id of the private ClickHouse server, for tests that
// pause it (SIGSTOP / SIGCONT) or watch its memory; an error while it is
// being restarted.
func (p *PrivateClickHouse) PID() (int, error) {
	for _, kv := range p.env {
		if dir, ok := strings.CutPrefix(kv, "BATCHWATCH_RUN_DIR="); ok {
			b, err := os.ReadFile(filepath.Join(dir, "clickhouse.pid"))
			if err != nil {
				return 0, fmt.Errorf("private ClickHouse pid: %w", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return 0, fmt.Errorf("private ClickHouse pid: %w", err)
			}
			return pid, nil
		}
	}
	return 0, errors.New("private ClickHouse has no run directory")
}
