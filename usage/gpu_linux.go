//go:build linux

package usage

import (
	"os/exec"
	"strconv"
	"time"
)

// gpuSampler runs nvidia-smi in its own loop mode (one process for the whole
// run, cheaper than one per sample) and reads its lines.
type gpuSampler struct {
	pid   int
	cmd   *exec.Cmd
	done  chan struct{}
	stats *GPUStats
}

// startGPU starts nvidia-smi when path is set; a failure to start it leaves
// the run without GPU figures, never without the command.
func startGPU(path string, every time.Duration) gpuSampler {
	g := gpuSampler{pid: -1, stats: &GPUStats{}}
	if path == "" {
		return g
	}
	ms := max(every.Milliseconds(), 100)
	cmd := exec.Command(path, "--query-gpu="+GPUQuery, "--format=csv,noheader,nounits", "--loop-ms="+strconv.FormatInt(ms, 10))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return g
	}
	if err := cmd.Start(); err != nil {
		return g
	}
	g.pid, g.cmd, g.done = cmd.Process.Pid, cmd, make(chan struct{})
	go func() {
		defer close(g.done)
		g.stats.ReadLines(out)
	}()
	return g
}

// stop ends nvidia-smi and returns what it read.
func (g gpuSampler) stop() *GPUStats {
	if g.cmd == nil {
		return g.stats
	}
	_ = g.cmd.Process.Kill()
	<-g.done
	_ = g.cmd.Wait() // may have been reaped already by the wrapper's reaper
	return g.stats
}
