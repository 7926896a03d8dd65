//go:build linux

package usage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Unix(1_800_000_000, 0) }

func TestCgroupRecordedLayouts(t *testing.T) {
	for _, tc := range []struct {
		dir       string
		name      string
		sample    Sample
		peak      uint64
		oom       uint64
		memLimit  uint64
		cpuLimit  float64
		members   []int
		memoryDir string
	}{
		{"cgroup-v1-docker", "cgroup-v1",
			Sample{CPUSeconds: 12.5, ThrottledSecs: 1.5, MemoryBytes: 150 << 20},
			300 << 20, 2, 512 << 20, 2, []int{1, 7, 1, 7, 1, 7}, "sys/fs/cgroup/memory"},
		{"cgroup-v2", "cgroup-v2",
			Sample{CPUSeconds: 4, ThrottledSecs: 0.25, MemoryBytes: 100 << 20},
			200 << 20, 1, 0, 1.5, []int{1}, ""},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			root := filepath.Join("testdata", tc.dir)
			d, err := findCgroup(root, "/proc/self")
			if err != nil {
				t.Fatal(err)
			}
			cg := cgroupSource{d: d}
			if cg.Name() != tc.name {
				t.Fatalf("source %s, want %s", cg.Name(), tc.name)
			}
			if tc.memoryDir != "" && d.memory != filepath.Join(root, tc.memoryDir) {
				t.Errorf("memory dir %s", d.memory)
			}
			s, err := cg.Sample(fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			tc.sample.At = fixedNow()
			if s != tc.sample {
				t.Errorf("sample %+v, want %+v", s, tc.sample)
			}
			if p := cg.Peak(); p != tc.peak {
				t.Errorf("peak %d, want %d", p, tc.peak)
			}
			if n, ok := cg.OOMKills(); !ok || n != tc.oom {
				t.Errorf("oom kills %d %v, want %d", n, ok, tc.oom)
			}
			if m, c := cg.Limits(); m != tc.memLimit || c != tc.cpuLimit {
				t.Errorf("limits %d %.2f, want %d %.2f", m, c, tc.memLimit, tc.cpuLimit)
			}
			members, err := cg.members()
			if err != nil || len(members) != len(tc.members) {
				t.Errorf("members %v %v, want %v", members, err, tc.members)
			}
		})
	}
}

// On this project's machines the memory cgroup is per session but CPU is
// accounted at the root: the root's members make the cgroup not the wrapper's.
func TestCgroupHybridCountsEveryControllersMembers(t *testing.T) {
	root := filepath.Join("testdata", "cgroup-hybrid")
	d, err := findCgroup(root, "/proc/self")
	if err != nil {
		t.Fatal(err)
	}
	if d.version != 1 || d.memory != filepath.Join(root, "sys/fs/cgroup/memory/process_api/55de") ||
		d.cpuacct != filepath.Join(root, "sys/fs/cgroup/cpuacct") {
		t.Fatalf("dirs %+v", d)
	}
	m, err := cgroupSource{d: d}.members()
	if err != nil || len(m) != 9 {
		t.Fatalf("members %v %v: want the memory cgroup's 1 and the root's 4 twice", m, err)
	}
}

func TestCgroupErrors(t *testing.T) {
	if _, err := findCgroup(t.TempDir(), "/proc/self"); err == nil {
		t.Error("no /proc: no error")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc/self"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(root, "proc/self/cgroup"), []byte("0::/\n"), 0o644)
	_ = os.WriteFile(filepath.Join(root, "proc/self/mountinfo"), []byte("1 0 0:1 / / rw - ext4 /dev/root rw\n"), 0o644)
	if _, err := findCgroup(root, "/proc/self"); err == nil || !strings.Contains(err.Error(), "no cgroup") {
		t.Errorf("no cgroup mount: %v", err)
	}
	cg := cgroupSource{d: cgroupDirs{version: 2, unified: root}}
	if _, err := cg.Sample(fixedNow); err == nil {
		t.Error("sample of an empty directory: no error")
	}
	_ = os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte("1\nx\n"), 0o644)
	if _, err := cg.members(); err == nil {
		t.Error("cgroup.procs with a non-pid: no error")
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a ')' (the name is the 2nd field, in
	// parentheses, as the kernel writes it).
	line := "4242 (my (odd) job) S 4200 4242 4200 0 -1 4194560 500 0 0 0 150 50 20 10 20 0 3 0 1000 500000000 76800 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 4200 || st.cpuTicks != 150+50+20+10 || st.rssPages != 76800 {
		t.Errorf("%+v", st)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 2 3", "1 (x) S p 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestProcSourceSeesTheTestsChildren(t *testing.T) {
	// The test process has no children of its own: the tree below its parent
	// holds at least the test, and none of it once the test is excluded.
	p := procSource{root: "/proc", self: os.Getppid()}
	tree, err := p.tree()
	if err != nil || len(tree) == 0 {
		t.Fatalf("tree %v %v", tree, err)
	}
	me := os.Getpid()
	mine := procSource{root: "/proc", self: os.Getppid(), exclude: func(pid int) bool { return pid == me }}
	if rest, err := mine.tree(); err != nil || len(rest) >= len(tree) {
		t.Errorf("excluding the test left %d of %d processes (%v)", len(rest), len(tree), err)
	}
	s, err := p.Sample(fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryBytes == 0 || s.CPUSeconds < 0 {
		t.Errorf("sample of the parent's tree: %+v", s)
	}
}

func TestGPURecordedOutput(t *testing.T) {
	f, err := os.Open("testdata/nvidia-smi.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g GPUStats
	g.ReadLines(f)
	var r Record
	g.Fill(&r)
	if r.GPUCount != 2 || r.GPUMemoryPeakBytes != 15102<<20 {
		t.Errorf("count %d, peak %d", r.GPUCount, r.GPUMemoryPeakBytes)
	}
	// 7 readings with a utilisation: 0 0 87 64 91 95 70.
	if want := (0 + 0 + 87 + 64 + 91 + 95 + 70) / 7.0; r.GPUUtilMeanPercent != want || r.GPUUtilP95Percent != 95 {
		t.Errorf("util mean %.2f p95 %.2f, want %.2f and 95", r.GPUUtilMeanPercent, r.GPUUtilP95Percent, want)
	}
	for _, bad := range []string{"", "GPU 0: Tesla", "x, 1, 2", "0, 1"} {
		if _, ok := ParseGPULine(bad); ok {
			t.Errorf("%q read as a reading", bad)
		}
	}
}

func TestStats(t *testing.T) {
	st := Stats{MinInterval: 500 * time.Millisecond}
	t0 := fixedNow()
	for i, x := range []struct {
		at  time.Duration
		cpu float64
		mem uint64
	}{{0, 0, 10}, {time.Second, 1, 30}, {2 * time.Second, 3, 20}, {3 * time.Second, 3.5, 5}, {3100 * time.Millisecond, 3.6, 5}} {
		st.Add(Sample{At: t0.Add(x.at), CPUSeconds: x.cpu, ThrottledSecs: float64(i), MemoryBytes: x.mem})
	}
	if st.Samples() != 5 || st.CPUSeconds() != 3.6 || st.ThrottledSeconds() != 4 || st.MemoryPeak() != 30 {
		t.Errorf("samples %d cpu %.2f throttled %.2f peak %d", st.Samples(), st.CPUSeconds(), st.ThrottledSeconds(), st.MemoryPeak())
	}
	// Rates 1, 2, 0.5; the last 100 ms interval is too short to count.
	if q := st.RateQuantile(0.95, -1); q != 2 {
		t.Errorf("p95 %.2f, want 2", q)
	}
	if q := st.RateQuantile(0.5, -1); q != 1 {
		t.Errorf("p50 %.2f, want 1", q)
	}
	var empty Stats
	if empty.RateQuantile(0.95, 7) != 7 || empty.CPUSeconds() != 0 {
		t.Error("empty stats")
	}
}

func TestIdentityFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	id, err := IdentityFromEnv(env(map[string]string{
		"AWS_BATCH_JOB_ID": "j-1:3", "AWS_BATCH_JOB_ATTEMPT": "2", "AWS_BATCH_JOB_ARRAY_INDEX": "3",
		"AWS_BATCH_JQ_NAME": "q", "AWS_BATCH_CE_NAME": "ce",
	}))
	if err != nil || id != (Identity{JobID: "j-1:3", JobAttempt: 2, ArrayIndex: 3, JobQueue: "q", ComputeEnvironment: "ce"}) {
		t.Errorf("%+v %v", id, err)
	}
	if id, err := IdentityFromEnv(env(nil)); err != nil || id.ArrayIndex != -1 {
		t.Errorf("outside Batch: %+v %v", id, err)
	}
	for _, k := range []string{"AWS_BATCH_JOB_ATTEMPT", "AWS_BATCH_JOB_ARRAY_INDEX"} {
		if _, err := IdentityFromEnv(env(map[string]string{k: "-1"})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=-1: %v", k, err)
		}
	}
}
