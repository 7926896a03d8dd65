//go:build linux

package usage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Options configure one run.
type Options struct {
	// Interval between samples.
	Interval time.Duration
	// Mode picks the source: "auto" (the cgroup when the wrapper and its
	// ancestors are its only members, else the process tree), "cgroup" or
	// "proc".
	Mode string
	// NvidiaSMI is the nvidia-smi to sample GPUs with; "" for none.
	NvidiaSMI string
	// Identity of the attempt.
	Identity Identity
	// Stdin, Stdout and Stderr are handed to the command as they are (files,
	// so that nothing of the wrapper sits between the command and its output).
	Stdin, Stdout, Stderr *os.File
	Now                   func() time.Time
}

// Result is how a run ended.
type Result struct {
	// ExitCode is the command's exit status, or 128+signal when a signal
	// ended it, or 126/127 when it could not be started (as a shell does).
	ExitCode int
	// Record is the usage of the attempt; Started is false when the command
	// never ran and there is nothing to report.
	Record  Record
	Started bool
}

// source is what a run samples.
type source interface {
	Name() string
	Sample(now func() time.Time) (Sample, error)
	Peak() uint64
	OOMKills() (uint64, bool)
	Limits() (memBytes uint64, vcpus float64)
}

// forwarded are the signals a container runtime or a user sends to PID 1
// that the command must see.
func forwarded() []os.Signal {
	return []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}
}

// Run runs argv as a child, samples its usage until it ends and returns its
// exit code and usage record. Signals in forwarded are passed to the child
// while it runs.
func Run(ctx context.Context, argv []string, o Options) (Result, error) {
	if len(argv) == 0 {
		return Result{ExitCode: 2}, errors.New("no command given")
	}
	if o.Interval <= 0 {
		return Result{ExitCode: 2}, fmt.Errorf("interval %s: must be positive", o.Interval)
	}
	// Orphans of the command are re-parented to the wrapper, which reaps
	// them (as PID 1 of a container it must) and counts their CPU time.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded()...)
	defer signal.Stop(sigs)

	gpu := startGPU(o.NvidiaSMI, o.Interval)
	src, oom, err := pickSource(o.Mode, os.Getpid(), gpu.pid)
	if err != nil {
		gpu.stop()
		return Result{ExitCode: 2}, err
	}
	st := Stats{MinInterval: o.Interval / 2}
	oomBefore, _ := oom.OOMKills()
	started := o.Now()
	if s, err := src.Sample(o.Now); err == nil {
		st.Add(s)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Start(); err != nil {
		gpu.stop()
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return Result{ExitCode: code}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	done := reap(cmd.Process.Pid)
	end := watch(ctx, cmd.Process, src, &st, sigs, done, o)
	stopped := o.Now()
	if s, err := src.Sample(o.Now); err == nil {
		st.Add(s)
	}
	gpuStats := gpu.stop()
	oomAfter, _ := oom.OOMKills()
	rec := buildRecord(o.Identity, src, &st, end, started, stopped)
	rec.OOMKilled = oomAfter > oomBefore && (src.Name() != "proc" || end.status.Signal() == syscall.SIGKILL)
	gpuStats.Fill(&rec)
	return Result{ExitCode: rec.ExitCode, Record: rec, Started: true}, nil
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2), which package
// syscall does not name.
const prSetChildSubreaper = 36

// ended is the child's wait status and resource usage.
type ended struct {
	status syscall.WaitStatus
	rusage syscall.Rusage
}

// reap waits for every child of the wrapper (orphans included) and delivers
// the one of pid.
func reap(pid int) <-chan ended {
	done := make(chan ended, 1)
	go func() {
		for {
			var e ended
			p, err := syscall.Wait4(-1, &e.status, 0, &e.rusage)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				// No child left: the command's end was missed, which
				// Wait4(-1) cannot do; report it as killed.
				done <- ended{status: syscall.WaitStatus(syscall.SIGKILL)}
				return
			}
			if p == pid {
				done <- e
				return
			}
		}
	}()
	return done
}

// watch samples on every tick and forwards signals until the child ends.
func watch(ctx context.Context, p *os.Process, src source, st *Stats, sigs <-chan os.Signal, done <-chan ended, o Options) ended {
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	ctxDone := ctx.Done()
	for {
		select {
		case e := <-done:
			return e
		case s := <-sigs:
			_ = p.Signal(s)
		case <-ctxDone:
			_ = p.Signal(syscall.SIGTERM)
			ctxDone = nil
		case <-tick.C:
			if s, err := src.Sample(o.Now); err == nil {
				st.Add(s)
			}
		}
	}
}

func buildRecord(id Identity, src source, st *Stats, e ended, started, stopped time.Time) Record {
	wall := stopped.Sub(started).Seconds()
	rec := Record{
		SchemaVersion:      SchemaVersion,
		JobID:              id.JobID,
		JobAttempt:         id.JobAttempt,
		ArrayIndex:         id.ArrayIndex,
		JobQueue:           id.JobQueue,
		ComputeEnvironment: id.ComputeEnvironment,
		Source:             src.Name(),
		StartedAt:          started.UnixMilli(),
		StoppedAt:          stopped.UnixMilli(),
		WallSeconds:        wall,
		CPUSeconds:         st.CPUSeconds(),
		CPUThrottledSecs:   st.ThrottledSeconds(),
		Samples:            st.Samples(),
	}
	if wall > 0 {
		rec.CPUMeanVCPUs = rec.CPUSeconds / wall
	}
	rec.CPUP95VCPUs = st.RateQuantile(0.95, rec.CPUMeanVCPUs)
	rec.CPUMaxVCPUs = st.RateQuantile(1, rec.CPUMeanVCPUs)
	rec.MemoryLimitBytes, rec.CPULimitVCPUs = src.Limits()
	// The kernel's high-water marks catch a peak between two samples.
	rec.MemoryPeakBytes = max(st.MemoryPeak(), src.Peak(), uint64(e.rusage.Maxrss)*1024)
	switch {
	case e.status.Exited():
		rec.ExitCode = e.status.ExitStatus()
	case e.status.Signaled():
		rec.ExitCode = 128 + int(e.status.Signal())
		rec.Signal = signalName(e.status.Signal())
	}
	return rec
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT",
		syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT", syscall.SIGABRT: "SIGABRT",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGBUS: "SIGBUS", syscall.SIGUSR1: "SIGUSR1",
		syscall.SIGUSR2: "SIGUSR2", syscall.SIGPIPE: "SIGPIPE",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return "signal " + strconv.Itoa(int(s))
}

// pickSource chooses what to sample, and the cgroup whose OOM counter tells
// whether the kernel killed for memory (the wrapper's own, even when it is
// shared and the process tree is what is sampled).
func pickSource(mode string, self, gpuPid int) (source, source, error) {
	proc := procSource{root: "/proc", self: self, exclude: func(pid int) bool { return pid == gpuPid }}
	dirs, cgErr := findCgroup("", "/proc/self")
	cg := cgroupSource{d: dirs}
	switch mode {
	case "proc":
		if cgErr != nil {
			return proc, nullSource{}, nil
		}
		return proc, cg, nil
	case "cgroup":
		if cgErr != nil {
			return nil, nil, fmt.Errorf("cgroup: %w", cgErr)
		}
		if _, err := cg.Sample(time.Now); err != nil {
			return nil, nil, fmt.Errorf("cgroup %s: %w", cg.procsDir(), err)
		}
		return cg, cg, nil
	case "auto":
		if cgErr != nil {
			return proc, nullSource{}, nil
		}
		if ownCgroup(cg, self) {
			if _, err := cg.Sample(time.Now); err == nil {
				return cg, cg, nil
			}
		}
		return proc, cg, nil
	}
	return nil, nil, fmt.Errorf("source %q: want auto, cgroup or proc", mode)
}

// ownCgroup tells whether every member of the cgroup is the wrapper or one of
// its ancestors (a container's init, a shell running the wrapper): then the
// cgroup's counters are the attempt's.
func ownCgroup(cg cgroupSource, self int) bool {
	members, err := cg.members()
	if err != nil || len(members) == 0 {
		return false
	}
	anc := map[int]bool{self: true}
	for p := self; p > 1; {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			break
		}
		st, err := parseProcStat(b)
		if err != nil {
			break
		}
		p = st.ppid
		anc[p] = true
	}
	for _, m := range members {
		if !anc[m] {
			return false
		}
	}
	return true
}

// nullSource stands in for a cgroup where there is none.
type nullSource struct{}

func (nullSource) Name() string { return "none" }
func (nullSource) Sample(func() time.Time) (Sample, error) {
	return Sample{}, errors.New("no source")
}
func (nullSource) Peak() uint64              { return 0 }
func (nullSource) OOMKills() (uint64, bool)  { return 0, false }
func (nullSource) Limits() (uint64, float64) { return 0, 0 }
