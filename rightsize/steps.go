package rightsize

import (
	"fmt"
	"math"
)

// Request is a vCPU and memory request as a job definition gives it.
type Request struct {
	VCPUs     float64 `json:"vcpus"`
	MemoryMiB int64   `json:"memory_mib"`
}

// EC2MemoryStepMiB is the step recommendations for EC2 are rounded to. Batch
// on EC2 takes any whole MiB from 4; whole 256 MiB keep definitions readable,
// and lose at most 256 MiB to rounding.
const EC2MemoryStepMiB = 256

// RoundEC2 is the smallest EC2 request that gives at least vcpus and mib:
// whole vCPUs (at least 1) and memory in EC2MemoryStepMiB steps.
func RoundEC2(vcpus, mib float64) Request {
	v := math.Max(1, math.Ceil(vcpus-1e-9))
	m := math.Max(EC2MemoryStepMiB, math.Ceil(mib/EC2MemoryStepMiB-1e-9)*EC2MemoryStepMiB)
	return Request{VCPUs: v, MemoryMiB: int64(m)}
}

// fargateSize is one vCPU value of Fargate and the memory it may go with.
type fargateSize struct {
	vcpus              float64
	minMiB, maxMiB, by int64
}

// fargateSizes are the combinations AWS Batch on Fargate accepts
// (resourceRequirements of a Fargate job definition).
func fargateSizes() []fargateSize {
	return []fargateSize{
		{0.25, 512, 2048, 512}, // 512, 1024, 2048 (1536 is refused; see below)
		{0.5, 1024, 4096, 1024},
		{1, 2048, 8192, 1024},
		{2, 4096, 16384, 1024},
		{4, 8192, 30720, 1024},
		{8, 16384, 61440, 4096},
		{16, 32768, 122880, 8192},
	}
}

// RoundFargate is the smallest Fargate combination with at least vcpus and
// mib (the one of least memory, then least vCPU), or an error when the need
// exceeds Fargate's largest (16 vCPU, 120 GiB).
func RoundFargate(vcpus, mib float64) (Request, error) {
	for _, s := range fargateSizes() {
		if s.vcpus+1e-9 < vcpus {
			continue
		}
		m := float64(s.minMiB)
		if mib > m {
			m = math.Ceil(mib/float64(s.by)-1e-9) * float64(s.by)
		}
		if s.vcpus == 0.25 && m == 1536 {
			m = 2048
		}
		if int64(m) <= s.maxMiB {
			return Request{VCPUs: s.vcpus, MemoryMiB: int64(m)}, nil
		}
	}
	return Request{}, fmt.Errorf("%.2f vCPUs and %.0f MiB: more than Fargate's largest task", vcpus, mib)
}

// MemoryStepMiB is the memory step of the accepted value r lies on: what one
// more accepted step adds.
func MemoryStepMiB(fargate bool, r Request) int64 {
	if !fargate {
		return EC2MemoryStepMiB
	}
	for _, s := range fargateSizes() {
		if s.vcpus == r.VCPUs {
			return s.by
		}
	}
	return 8192
}
