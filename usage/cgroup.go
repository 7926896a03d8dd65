package usage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cgroupDirs are the directories of the cgroup a process belongs to: one for
// cgroup v2, one per controller for v1.
type cgroupDirs struct {
	version int
	unified string // v2
	memory  string // v1
	cpu     string // v1
	cpuacct string // v1
}

// findCgroup resolves the cgroup of the process whose /proc entry is procDir
// ("/proc/self") to directories under the cgroup file system. root prefixes
// every path read (tests point it at a recorded tree; "" is the real one).
// Where a host mounts both (the "hybrid" layout), v1's memory controller wins:
// the v2 hierarchy then holds no controllers.
func findCgroup(root, procDir string) (cgroupDirs, error) {
	paths, err := readProcCgroup(filepath.Join(root, procDir, "cgroup"))
	if err != nil {
		return cgroupDirs{}, err
	}
	mounts, err := readCgroupMounts(filepath.Join(root, procDir, "mountinfo"))
	if err != nil {
		return cgroupDirs{}, err
	}
	resolve := func(key string) string {
		m, ok := mounts[key]
		if !ok {
			return ""
		}
		p, ok := paths[key]
		if !ok {
			return ""
		}
		rel := p
		if m.root != "/" {
			rel = strings.TrimPrefix(p, m.root)
		}
		return filepath.Join(root, m.point, rel)
	}
	if d := resolve("memory"); d != "" {
		return cgroupDirs{version: 1, memory: d, cpu: resolve("cpu"), cpuacct: resolve("cpuacct")}, nil
	}
	if d := resolve(""); d != "" {
		return cgroupDirs{version: 2, unified: d}, nil
	}
	return cgroupDirs{}, errors.New("no cgroup memory controller mounted")
}

// readProcCgroup maps each v1 controller (and "" for v2) to the process's path.
func readProcCgroup(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

type cgroupMount struct{ root, point string }

// readCgroupMounts maps each v1 controller (and "" for the cgroup2 mount) to
// where its hierarchy is mounted and which of its paths is the mount's root
// (a container without a cgroup namespace sees its own cgroup as the root).
func readCgroupMounts(path string) (map[string]cgroupMount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]cgroupMount{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f1, f2 := strings.Fields(pre), strings.Fields(post)
		if len(f1) < 5 || len(f2) < 3 {
			continue
		}
		m := cgroupMount{root: f1[3], point: f1[4]}
		switch f2[0] {
		case "cgroup2":
			if _, seen := out[""]; !seen {
				out[""] = m
			}
		case "cgroup":
			for opt := range strings.SplitSeq(f2[2], ",") {
				if _, seen := out[opt]; !seen {
					out[opt] = m
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// cgroupSource samples one cgroup's counters.
type cgroupSource struct {
	d cgroupDirs
}

func (c cgroupSource) Name() string { return fmt.Sprintf("cgroup-v%d", c.d.version) }

// procsDir is the directory whose cgroup.procs lists the cgroup's members.
func (c cgroupSource) procsDir() string {
	if c.d.version == 2 {
		return c.d.unified
	}
	return c.d.memory
}

// dirs are the directories the source reads: on v1 each controller may sit at
// a different place in its own hierarchy (memory in a container's cgroup, CPU
// accounting at the root, as on this project's machines).
func (c cgroupSource) dirs() []string {
	if c.d.version == 2 {
		return []string{c.d.unified}
	}
	return []string{c.d.memory, c.d.cpu, c.d.cpuacct}
}

func (c cgroupSource) Sample(now func() time.Time) (Sample, error) {
	var s Sample
	var err error
	if c.d.version == 2 {
		st, e := readKeyed(filepath.Join(c.d.unified, "cpu.stat"))
		if e != nil {
			return s, e
		}
		s.CPUSeconds = float64(st["usage_usec"]) / 1e6
		s.ThrottledSecs = float64(st["throttled_usec"]) / 1e6
		s.MemoryBytes, err = readUint(filepath.Join(c.d.unified, "memory.current"))
		s.At = now()
		return s, err
	}
	ns, err := readUint(filepath.Join(c.d.cpuacct, "cpuacct.usage"))
	if err != nil {
		return s, err
	}
	s.CPUSeconds = float64(ns) / 1e9
	if st, e := readKeyed(filepath.Join(c.d.cpu, "cpu.stat")); e == nil {
		s.ThrottledSecs = float64(st["throttled_time"]) / 1e9
	}
	s.MemoryBytes, err = readUint(filepath.Join(c.d.memory, "memory.usage_in_bytes"))
	s.At = now()
	return s, err
}

// Peak is the kernel's own high-water mark of the cgroup's memory (v2's
// memory.peak exists from Linux 5.19), 0 when there is none.
func (c cgroupSource) Peak() uint64 {
	p := filepath.Join(c.d.memory, "memory.max_usage_in_bytes")
	if c.d.version == 2 {
		p = filepath.Join(c.d.unified, "memory.peak")
	}
	v, _ := readUint(p)
	return v
}

// OOMKills is the cgroup's count of processes the kernel killed for memory.
func (c cgroupSource) OOMKills() (uint64, bool) {
	p := filepath.Join(c.d.memory, "memory.oom_control")
	if c.d.version == 2 {
		p = filepath.Join(c.d.unified, "memory.events")
	}
	st, err := readKeyed(p)
	if err != nil {
		return 0, false
	}
	v, ok := st["oom_kill"]
	return v, ok
}

// noLimit is above any real memory limit; v1 reports "unlimited" as a page
// rounded 2^63-1.
const noLimit = 1 << 62

// Limits are the cgroup's memory limit and CPU quota in vCPUs (0: none).
func (c cgroupSource) Limits() (uint64, float64) {
	if c.d.version == 2 {
		mem, _ := readUint(filepath.Join(c.d.unified, "memory.max"))
		var vcpus float64
		if b, err := os.ReadFile(filepath.Join(c.d.unified, "cpu.max")); err == nil {
			f := strings.Fields(string(b))
			if len(f) == 2 {
				q, e1 := strconv.ParseFloat(f[0], 64)
				p, e2 := strconv.ParseFloat(f[1], 64)
				if e1 == nil && e2 == nil && p > 0 {
					vcpus = q / p
				}
			}
		}
		return mem, vcpus
	}
	mem, _ := readUint(filepath.Join(c.d.memory, "memory.limit_in_bytes"))
	if mem >= noLimit {
		mem = 0
	}
	var vcpus float64
	q, e1 := readInt(filepath.Join(c.d.cpu, "cpu.cfs_quota_us"))
	p, e2 := readInt(filepath.Join(c.d.cpu, "cpu.cfs_period_us"))
	if e1 == nil && e2 == nil && q > 0 && p > 0 {
		vcpus = float64(q) / float64(p)
	}
	return mem, vcpus
}

// members lists the pids in the cgroup, in every directory the source reads.
func (c cgroupSource) members() ([]int, error) {
	var out []int
	for _, d := range c.dirs() {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			return nil, fmt.Errorf("read cgroup.procs: %w", err)
		}
		for f := range strings.FieldsSeq(string(b)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("cgroup.procs: %q is not a pid", f)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	return v, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	return v, nil
}

// readKeyed reads a "key value" per line file (cpu.stat, memory.events,
// memory.oom_control).
func readKeyed(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	out := map[string]uint64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}
