//go:build linux

package usage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Batch runs (sysconf(_SC_CLK_TCK) without cgo).
const clockTicks = 100

// procSource samples the process tree below one pid from /proc, for a wrapper
// that has no cgroup of its own (run outside a container, or beside other
// processes in it). Processes that already ended and were reaped by the
// wrapper count through its RUSAGE_CHILDREN.
type procSource struct {
	root    string // "/proc" or a recorded tree
	self    int
	exclude func(pid int) bool
}

func (procSource) Name() string { return "proc" }

// Peak is 0: /proc keeps no high-water mark of a tree (the run adds the
// command's own from wait4).
func (procSource) Peak() uint64 { return 0 }

// OOMKills is unknown for a process tree.
func (procSource) OOMKills() (uint64, bool) { return 0, false }

// Limits are none: a tree has no limit of its own.
func (procSource) Limits() (uint64, float64) { return 0, 0 }

type procStat struct {
	ppid     int
	cpuTicks uint64 // utime+stime+cutime+cstime
	rssPages uint64
}

// parseProcStat reads the fields of /proc/PID/stat that matter here. The
// command name (field 2) may hold spaces and parentheses: fields are counted
// after its last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	num := func(n int) uint64 {
		v, _ := strconv.ParseUint(string(f[n-3]), 10, 64)
		return v
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat: ppid %q", f[1])
	}
	return procStat{
		ppid:     ppid,
		cpuTicks: num(14) + num(15) + num(16) + num(17),
		rssPages: num(24),
	}, nil
}

// tree reads every process and returns the stats of self's descendants.
func (p procSource) tree() ([]procStat, error) {
	ents, err := os.ReadDir(p.root)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.root, err)
	}
	all := map[int]procStat{}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.root, e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		st, err := parseProcStat(b)
		if err != nil {
			continue
		}
		all[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var out []procStat
	queue := append([]int(nil), children[p.self]...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if p.exclude != nil && p.exclude(pid) {
			continue
		}
		out = append(out, all[pid])
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

func (p procSource) Sample(now func() time.Time) (Sample, error) {
	// A child reaped while the tree is read would count twice (in /proc and
	// in RUSAGE_CHILDREN), or not at all: read again until the reaped time
	// did not change around the read.
	var procs []procStat
	var reaped float64
	for try := 0; ; try++ {
		before, err := reapedSeconds()
		if err != nil {
			return Sample{}, err
		}
		if procs, err = p.tree(); err != nil {
			return Sample{}, err
		}
		if reaped, err = reapedSeconds(); err != nil {
			return Sample{}, err
		}
		if reaped == before || try == 4 {
			break
		}
	}
	var ticks, pages uint64
	for _, st := range procs {
		ticks += st.cpuTicks
		pages += st.rssPages
	}
	// Stamped after the reads: on a busy machine the wrapper may wait for a
	// core between its tick and the reads, and the rate is of what was read.
	return Sample{
		At:          now(),
		CPUSeconds:  float64(ticks)/clockTicks + reaped,
		MemoryBytes: pages * uint64(os.Getpagesize()),
	}, nil
}

// reapedSeconds is the CPU time of the wrapper's children it has reaped.
func reapedSeconds() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), nil
}
