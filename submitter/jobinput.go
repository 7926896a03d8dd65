package submitter

import (
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// Environment variables every job gets.
const (
	EnvRunID    = "BATCHWATCH_RUN_ID"
	EnvTier     = "BATCHWATCH_TIER"
	EnvItemKey  = "BATCHWATCH_ITEM_KEY"
	EnvManifest = "BATCHWATCH_MANIFEST"
	// ParamManifest is the job parameter (Ref::batchwatch_manifest) that
	// also carries an array job's manifest URL.
	ParamManifest = "batchwatch_manifest"
)

// unit is one SubmitJob call: a single item, an array of items, or a
// fan-in or barrier job.
type unit struct {
	kind    Kind
	name    string
	queue   string
	tier    int // -1 for fan-in and barrier jobs
	attempt int
	// items are the single item (len 1) or the array's children in index
	// order (len ≥ 2); none for fan-in and barrier jobs.
	items []Assignment
	array bool
	// key is the journal key of a fan-in or barrier job.
	key      string
	deps     []string
	manifest string
	recs     []Record
	// escalation marks a resubmission one tier up: counted as escalated,
	// not as a submitted item.
	escalation bool
}

// tags are the plan's tags plus batchwatch's own, which win.
func (p *Plan) tags(runID, tier string) map[string]string {
	t := make(map[string]string, len(p.Tags)+3)
	for k, v := range p.Tags {
		t[k] = v
	}
	t[TagProduct] = p.Product
	t[TagTier] = tier
	t[TagRunID] = runID
	return t
}

func (p *Plan) retry() *batchtypes.RetryStrategy {
	rs := &batchtypes.RetryStrategy{Attempts: aws.Int32(int32(p.RetryStrategy.Attempts))}
	for _, c := range p.RetryStrategy.EvaluateOnExit {
		e := batchtypes.EvaluateOnExit{Action: batchtypes.RetryAction(c.Action)}
		if c.OnStatusReason != "" {
			e.OnStatusReason = aws.String(c.OnStatusReason)
		}
		if c.OnReason != "" {
			e.OnReason = aws.String(c.OnReason)
		}
		if c.OnExitCode != "" {
			e.OnExitCode = aws.String(c.OnExitCode)
		}
		rs.EvaluateOnExit = append(rs.EvaluateOnExit, e)
	}
	return rs
}

func resources(vcpus float64, memMiB, gpus int) []batchtypes.ResourceRequirement {
	var rr []batchtypes.ResourceRequirement
	if vcpus > 0 {
		rr = append(rr, batchtypes.ResourceRequirement{Type: batchtypes.ResourceTypeVcpu, Value: aws.String(strconv.FormatFloat(vcpus, 'f', -1, 64))})
	}
	if memMiB > 0 {
		rr = append(rr, batchtypes.ResourceRequirement{Type: batchtypes.ResourceTypeMemory, Value: aws.String(strconv.Itoa(memMiB))})
	}
	if gpus > 0 {
		rr = append(rr, batchtypes.ResourceRequirement{Type: batchtypes.ResourceTypeGpu, Value: aws.String(strconv.Itoa(gpus))})
	}
	return rr
}

func env(kv ...string) []batchtypes.KeyValuePair {
	out := make([]batchtypes.KeyValuePair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, batchtypes.KeyValuePair{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	sort.Slice(out, func(i, j int) bool { return *out[i].Name < *out[j].Name })
	return out
}

func formatSize(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// input builds the SubmitJob request of a unit.
func (p *Plan) input(runID string, u *unit) *awsbatch.SubmitJobInput {
	if u.kind != KindItem {
		return p.auxInput(runID, u)
	}
	t := p.Tiers[u.tier]
	in := &awsbatch.SubmitJobInput{
		JobName:       aws.String(u.name),
		JobQueue:      aws.String(u.queue),
		JobDefinition: aws.String(p.Definition(u.tier)),
		Tags:          p.tags(runID, t.Name),
		PropagateTags: aws.Bool(true),
		RetryStrategy: p.retry(),
		ContainerOverrides: &batchtypes.ContainerOverrides{
			ResourceRequirements: resources(t.VCPUs, t.MemoryMiB, t.GPUs),
		},
	}
	if t.Timeout > 0 {
		in.Timeout = &batchtypes.JobTimeout{AttemptDurationSeconds: aws.Int32(int32(t.Timeout.Seconds()))}
	}
	params := make(map[string]string, len(p.Parameters)+4)
	for k, v := range p.Parameters {
		params[k] = v
	}
	if u.array {
		params[ParamManifest] = u.manifest
		in.ArrayProperties = &batchtypes.ArrayProperties{Size: aws.Int32(int32(len(u.items)))}
		in.ContainerOverrides.Environment = env(EnvRunID, runID, EnvTier, t.Name, EnvManifest, u.manifest)
	} else {
		it := u.items[0].Item
		for k, v := range it.Params {
			params[k] = v
		}
		if p.SizeParameter != "" {
			params[p.SizeParameter] = formatSize(it.Size)
		}
		in.ContainerOverrides.Environment = env(EnvRunID, runID, EnvTier, t.Name, EnvItemKey, it.Key)
	}
	if len(params) > 0 {
		in.Parameters = params
	}
	return in
}

// auxInput builds a fan-in or barrier job.
func (p *Plan) auxInput(runID string, u *unit) *awsbatch.SubmitJobInput {
	fi := p.FanIn
	def := fi.JobDefinition
	label := string(u.kind)
	if u.kind == KindBarrier && fi.BarrierJobDefinition != "" {
		def = fi.BarrierJobDefinition
	}
	in := &awsbatch.SubmitJobInput{
		JobName:       aws.String(u.name),
		JobQueue:      aws.String(u.queue),
		JobDefinition: aws.String(def),
		Tags:          p.tags(runID, label),
		PropagateTags: aws.Bool(true),
		RetryStrategy: p.retry(),
		ContainerOverrides: &batchtypes.ContainerOverrides{
			Environment: env(EnvRunID, runID, EnvTier, label),
		},
	}
	if u.kind == KindFanIn {
		if rr := resources(fi.VCPUs, fi.MemoryMiB, 0); len(rr) > 0 {
			in.ContainerOverrides.ResourceRequirements = rr
		}
		params := make(map[string]string, len(p.Parameters)+len(fi.Parameters))
		for k, v := range p.Parameters {
			params[k] = v
		}
		for k, v := range fi.Parameters {
			params[k] = v
		}
		if len(params) > 0 {
			in.Parameters = params
		}
	}
	for _, d := range u.deps {
		in.DependsOn = append(in.DependsOn, batchtypes.JobDependency{JobId: aws.String(d)})
	}
	return in
}
