package exporter

import (
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed instance_types.yaml
var builtinInstanceTypes []byte

// InstanceType is what one EC2 instance type offers a job.
type InstanceType struct {
	Name      string `yaml:"name"`
	VCPUs     int    `yaml:"vcpus"`
	MemoryMiB int    `yaml:"memory_mib"`
	GPUs      int    `yaml:"gpus"`
}

// fargateMax is the largest task AWS Batch runs on Fargate: 16 vCPUs and
// 120 GiB, no GPU.
var fargateMax = InstanceType{Name: "fargate", VCPUs: 16, MemoryMiB: 120 * 1024}

// instanceTable resolves the instanceTypes of a compute environment.
type instanceTable struct {
	byName   map[string]InstanceType
	families map[string][]string
	optimal  []string
	// reserve computes the memory the ECS agent and OS keep.
	reserveMin     int
	reservePercent float64
}

func newInstanceTable(fc *FileConfig) (*instanceTable, error) {
	var doc struct {
		Families map[string][]struct {
			Size      string `yaml:"size"`
			VCPUs     int    `yaml:"vcpus"`
			MemoryMiB int    `yaml:"memory_mib"`
			GPUs      int    `yaml:"gpus"`
		} `yaml:"families"`
		Optimal []string `yaml:"optimal"`
	}
	if err := yaml.Unmarshal(builtinInstanceTypes, &doc); err != nil {
		return nil, fmt.Errorf("built-in instance types: %w", err)
	}
	t := &instanceTable{byName: map[string]InstanceType{}, families: map[string][]string{}, optimal: doc.Optimal,
		reserveMin: *fc.MemoryReserve.MinMiB, reservePercent: *fc.MemoryReserve.Percent}
	for fam, sizes := range doc.Families {
		for _, s := range sizes {
			t.add(InstanceType{Name: fam + "." + s.Size, VCPUs: s.VCPUs, MemoryMiB: s.MemoryMiB, GPUs: s.GPUs})
		}
	}
	for _, it := range fc.InstanceTypes {
		t.add(it)
	}
	for fam := range t.families {
		sort.Strings(t.families[fam])
	}
	return t, nil
}

func (t *instanceTable) add(it InstanceType) {
	fam, _, _ := strings.Cut(it.Name, ".")
	if _, ok := t.byName[it.Name]; !ok {
		t.families[fam] = append(t.families[fam], it.Name)
	}
	t.byName[it.Name] = it
}

// resolve expands instance type names, families and "optimal"; unknown
// names are returned apart.
func (t *instanceTable) resolve(names []string) (types []InstanceType, unknown []string) {
	seen := map[string]bool{}
	var expand func(n string)
	expand = func(n string) {
		switch {
		case n == "optimal":
			for _, f := range t.optimal {
				expand(f)
			}
		case t.byName[n].Name != "":
			if !seen[n] {
				seen[n] = true
				types = append(types, t.byName[n])
			}
		case len(t.families[n]) > 0:
			for _, m := range t.families[n] {
				expand(m)
			}
		default:
			unknown = append(unknown, n)
		}
	}
	for _, n := range names {
		expand(n)
	}
	return types, unknown
}

// usableMemory is what the ECS agent registers of an instance's memory.
func (t *instanceTable) usableMemory(it InstanceType) int {
	reserve := int(float64(it.MemoryMiB) * t.reservePercent / 100)
	return it.MemoryMiB - max(t.reserveMin, reserve)
}

// Resources that make a job unschedulable (label resource).
const (
	resNone uint8 = iota
	resVCPU
	resMemory
	resGPU
	resCombination
	numRes
)

var resourceNames = [numRes]string{"", "vcpu", "memory", "gpu", "combination"}

// shape is what one instance type (or Fargate) offers a job.
type shape struct {
	vcpus  float64
	memMiB int64
	gpus   int64
}

// fitTable is what a queue's compute environments can launch: the shapes
// not dominated by another, and the largest of each resource.
type fitTable struct {
	shapes []shape
	max    shape
}

// newFitTable keeps the Pareto-maximal shapes.
func newFitTable(shapes []shape) *fitTable {
	ft := &fitTable{}
	for i, s := range shapes {
		dominated := false
		for j, o := range shapes {
			if i != j && o.vcpus >= s.vcpus && o.memMiB >= s.memMiB && o.gpus >= s.gpus &&
				(o != s || j < i) {
				dominated = true
				break
			}
		}
		if !dominated {
			ft.shapes = append(ft.shapes, s)
		}
		ft.max.vcpus = math.Max(ft.max.vcpus, s.vcpus)
		ft.max.memMiB = max(ft.max.memMiB, s.memMiB)
		ft.max.gpus = max(ft.max.gpus, s.gpus)
	}
	sort.Slice(ft.shapes, func(a, b int) bool {
		x, y := ft.shapes[a], ft.shapes[b]
		if x.vcpus != y.vcpus {
			return x.vcpus < y.vcpus
		}
		if x.memMiB != y.memMiB {
			return x.memMiB < y.memMiB
		}
		return x.gpus < y.gpus
	})
	return ft
}

// check returns resNone when some shape fits the request, else the
// resource that no shape offers enough of (GPU first, then memory, then
// vCPU), or resCombination when each alone fits but never together.
func (ft *fitTable) check(req shape) uint8 {
	if ft == nil {
		return resNone
	}
	for _, s := range ft.shapes {
		if req.vcpus <= s.vcpus && req.memMiB <= s.memMiB && req.gpus <= s.gpus {
			return resNone
		}
	}
	switch {
	case req.gpus > ft.max.gpus:
		return resGPU
	case req.memMiB > ft.max.memMiB:
		return resMemory
	case req.vcpus > ft.max.vcpus:
		return resVCPU
	}
	return resCombination
}

func (ft *fitTable) equal(o *fitTable) bool {
	if ft == nil || o == nil {
		return ft == o
	}
	if ft.max != o.max || len(ft.shapes) != len(o.shapes) {
		return false
	}
	for i := range ft.shapes {
		if ft.shapes[i] != o.shapes[i] {
			return false
		}
	}
	return true
}
