package usage

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// GPUQuery is the nvidia-smi query whose CSV lines ParseGPULine reads:
// nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader,nounits
const GPUQuery = "index,memory.used,utilization.gpu"

// GPUReading is one GPU's line of one nvidia-smi loop.
type GPUReading struct {
	Index       int
	MemoryBytes uint64
	UtilPercent float64
	HasMemory   bool
	HasUtil     bool
}

// ParseGPULine reads one line of GPUQuery's output ("0, 1234, 87"; memory in
// MiB). Fields nvidia-smi cannot read ("[N/A]", "[Not Supported]") are left
// out; a line without an index is not a reading.
func ParseGPULine(line string) (GPUReading, bool) {
	f := strings.Split(line, ",")
	if len(f) != 3 {
		return GPUReading{}, false
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	idx, err := strconv.Atoi(f[0])
	if err != nil {
		return GPUReading{}, false
	}
	r := GPUReading{Index: idx}
	if mib, err := strconv.ParseUint(f[1], 10, 64); err == nil {
		r.MemoryBytes, r.HasMemory = mib<<20, true
	}
	if u, err := strconv.ParseFloat(f[2], 64); err == nil {
		r.UtilPercent, r.HasUtil = u, true
	}
	return r, true
}

// GPUStats accumulates nvidia-smi readings: the count of GPUs seen, the
// largest memory any one GPU held, and utilisation over all readings.
type GPUStats struct {
	seen    map[int]bool
	memPeak uint64
	utils   []float64
}

// Add takes one reading.
func (g *GPUStats) Add(r GPUReading) {
	if g.seen == nil {
		g.seen = map[int]bool{}
	}
	g.seen[r.Index] = true
	if r.HasMemory && r.MemoryBytes > g.memPeak {
		g.memPeak = r.MemoryBytes
	}
	if r.HasUtil {
		g.utils = append(g.utils, r.UtilPercent)
	}
}

// ReadLines adds every reading of nvidia-smi's output until it ends.
func (g *GPUStats) ReadLines(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if x, ok := ParseGPULine(sc.Text()); ok {
			g.Add(x)
		}
	}
}

// Fill writes the GPU figures into rec.
func (g *GPUStats) Fill(rec *Record) {
	rec.GPUCount = len(g.seen)
	rec.GPUMemoryPeakBytes = g.memPeak
	if len(g.utils) > 0 {
		var sum float64
		for _, u := range g.utils {
			sum += u
		}
		rec.GPUUtilMeanPercent = sum / float64(len(g.utils))
		rec.GPUUtilP95Percent = quantile(g.utils, 0.95, 0)
	}
}
