package exporter

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/smithy-go/middleware"

	"github.com/batchwatch/batchwatch/batch"
)

// BatchAPI is the part of the AWS Batch API the exporter calls. The client
// comes from awsclient with the exporter's shared rate limiter.
type BatchAPI interface {
	ListJobs(context.Context, *awsbatch.ListJobsInput, ...func(*awsbatch.Options)) (*awsbatch.ListJobsOutput, error)
	DescribeJobs(context.Context, *awsbatch.DescribeJobsInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeJobsOutput, error)
	DescribeJobQueues(context.Context, *awsbatch.DescribeJobQueuesInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeJobQueuesOutput, error)
	DescribeComputeEnvironments(context.Context, *awsbatch.DescribeComputeEnvironmentsInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeComputeEnvironmentsOutput, error)
	DescribeJobDefinitions(context.Context, *awsbatch.DescribeJobDefinitionsInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeJobDefinitionsOutput, error)
}

// CostExplorerAPI is the part of Cost Explorer the cost collector calls.
type CostExplorerAPI interface {
	GetCostAndUsage(context.Context, *costexplorer.GetCostAndUsageInput, ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error)
}

// sentAt records, in *ms, when the SDK hands the request to the HTTP
// client: after the rate limiter let it through, so a ListJobs page is
// dated by when AWS took its snapshot, not by when we started waiting.
func sentAt(ms *int64, now func() time.Time) func(*awsbatch.Options) {
	return func(o *awsbatch.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("batchwatchSentAt",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					*ms = now().UnixMilli()
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// jobFromDetail normalizes a DescribeJobs result the way events are, by
// handing its AWS JSON shape to batch.ParseJobDetail.
func jobFromDetail(d *batchtypes.JobDetail) (batch.Job, error) {
	b, err := json.Marshal(wireFromDetail(d))
	if err != nil {
		return batch.Job{}, err
	}
	return batch.ParseJobDetail(b)
}

// The JobDetail fields batch.ParseJobDetail reads, with AWS's JSON names.
type wDetail struct {
	JobArn               string            `json:"jobArn,omitempty"`
	JobName              string            `json:"jobName,omitempty"`
	JobID                string            `json:"jobId"`
	JobQueue             string            `json:"jobQueue,omitempty"`
	Status               string            `json:"status"`
	StatusReason         string            `json:"statusReason,omitempty"`
	Attempts             []wAttempt        `json:"attempts,omitempty"`
	CreatedAt            int64             `json:"createdAt,omitempty"`
	StartedAt            int64             `json:"startedAt,omitempty"`
	StoppedAt            int64             `json:"stoppedAt,omitempty"`
	JobDefinition        string            `json:"jobDefinition,omitempty"`
	Parameters           map[string]string `json:"parameters,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
	PlatformCapabilities []string          `json:"platformCapabilities,omitempty"`
	Container            *wContainer       `json:"container,omitempty"`
	NodeDetails          *wNodeDetails     `json:"nodeDetails,omitempty"`
	NodeProperties       *wNodeProps       `json:"nodeProperties,omitempty"`
	ArrayProperties      *wArrayProps      `json:"arrayProperties,omitempty"`
	EcsProperties        *wEcsProps        `json:"ecsProperties,omitempty"`
	EksAttempts          []wEksAttempt     `json:"eksAttempts,omitempty"`
}

type wAttempt struct {
	Container      *wAttemptContainer `json:"container,omitempty"`
	StartedAt      int64              `json:"startedAt,omitempty"`
	StoppedAt      int64              `json:"stoppedAt,omitempty"`
	StatusReason   string             `json:"statusReason,omitempty"`
	TaskProperties []wAttemptTask     `json:"taskProperties,omitempty"`
}

type wAttemptContainer struct {
	ContainerInstanceArn string `json:"containerInstanceArn,omitempty"`
	ExitCode             *int   `json:"exitCode,omitempty"`
	LogStreamName        string `json:"logStreamName,omitempty"`
	Reason               string `json:"reason,omitempty"`
	TaskArn              string `json:"taskArn,omitempty"`
}

type wAttemptTask struct {
	ContainerInstanceArn string              `json:"containerInstanceArn,omitempty"`
	TaskArn              string              `json:"taskArn,omitempty"`
	Containers           []wAttemptContainer `json:"containers,omitempty"`
}

type wRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type wContainer struct {
	Image                string         `json:"image,omitempty"`
	Vcpus                float64        `json:"vcpus,omitempty"`
	Memory               float64        `json:"memory,omitempty"`
	ResourceRequirements []wRequirement `json:"resourceRequirements,omitempty"`
	ExitCode             *int           `json:"exitCode,omitempty"`
	Reason               string         `json:"reason,omitempty"`
	LogStreamName        string         `json:"logStreamName,omitempty"`
	TaskArn              string         `json:"taskArn,omitempty"`
	ContainerInstanceArn string         `json:"containerInstanceArn,omitempty"`
	InstanceType         string         `json:"instanceType,omitempty"`
}

type wNodeDetails struct {
	NodeIndex  *int `json:"nodeIndex,omitempty"`
	IsMainNode bool `json:"isMainNode,omitempty"`
}

type wNodeProps struct {
	NumNodes int `json:"numNodes,omitempty"`
	MainNode int `json:"mainNode,omitempty"`
}

type wArrayProps struct {
	Size          int            `json:"size,omitempty"`
	Index         *int           `json:"index,omitempty"`
	StatusSummary map[string]int `json:"statusSummary,omitempty"`
}

type wEcsProps struct {
	TaskProperties []wEcsTask `json:"taskProperties,omitempty"`
}

type wEcsTask struct {
	Containers []wEcsContainer `json:"containers,omitempty"`
}

type wEcsContainer struct {
	Image                string         `json:"image,omitempty"`
	ResourceRequirements []wRequirement `json:"resourceRequirements,omitempty"`
	ExitCode             *int           `json:"exitCode,omitempty"`
	Reason               string         `json:"reason,omitempty"`
	LogStreamName        string         `json:"logStreamName,omitempty"`
}

type wEksAttempt struct {
	Containers   []wAttemptContainer `json:"containers,omitempty"`
	PodName      string              `json:"podName,omitempty"`
	NodeName     string              `json:"nodeName,omitempty"`
	StartedAt    int64               `json:"startedAt,omitempty"`
	StoppedAt    int64               `json:"stoppedAt,omitempty"`
	StatusReason string              `json:"statusReason,omitempty"`
}

func intp(v *int32) *int {
	if v == nil {
		return nil
	}
	i := int(*v)
	return &i
}

func requirements(in []batchtypes.ResourceRequirement) []wRequirement {
	out := make([]wRequirement, 0, len(in))
	for _, r := range in {
		out = append(out, wRequirement{Type: string(r.Type), Value: aws.ToString(r.Value)})
	}
	return out
}

func wireFromDetail(d *batchtypes.JobDetail) *wDetail {
	w := &wDetail{
		JobArn: aws.ToString(d.JobArn), JobName: aws.ToString(d.JobName), JobID: aws.ToString(d.JobId),
		JobQueue: aws.ToString(d.JobQueue), Status: string(d.Status), StatusReason: aws.ToString(d.StatusReason),
		CreatedAt: aws.ToInt64(d.CreatedAt), StartedAt: aws.ToInt64(d.StartedAt), StoppedAt: aws.ToInt64(d.StoppedAt),
		JobDefinition: aws.ToString(d.JobDefinition), Parameters: d.Parameters, Tags: d.Tags,
	}
	for _, p := range d.PlatformCapabilities {
		w.PlatformCapabilities = append(w.PlatformCapabilities, string(p))
	}
	for _, a := range d.Attempts {
		wa := wAttempt{StartedAt: aws.ToInt64(a.StartedAt), StoppedAt: aws.ToInt64(a.StoppedAt), StatusReason: aws.ToString(a.StatusReason)}
		if c := a.Container; c != nil {
			wa.Container = &wAttemptContainer{
				ContainerInstanceArn: aws.ToString(c.ContainerInstanceArn), ExitCode: intp(c.ExitCode),
				LogStreamName: aws.ToString(c.LogStreamName), Reason: aws.ToString(c.Reason), TaskArn: aws.ToString(c.TaskArn),
			}
		}
		for _, tp := range a.TaskProperties {
			t := wAttemptTask{ContainerInstanceArn: aws.ToString(tp.ContainerInstanceArn), TaskArn: aws.ToString(tp.TaskArn)}
			for _, c := range tp.Containers {
				t.Containers = append(t.Containers, wAttemptContainer{ExitCode: intp(c.ExitCode),
					LogStreamName: aws.ToString(c.LogStreamName), Reason: aws.ToString(c.Reason)})
			}
			wa.TaskProperties = append(wa.TaskProperties, t)
		}
		w.Attempts = append(w.Attempts, wa)
	}
	if c := d.Container; c != nil {
		w.Container = &wContainer{
			Image: aws.ToString(c.Image), ResourceRequirements: requirements(c.ResourceRequirements),
			ExitCode: intp(c.ExitCode), Reason: aws.ToString(c.Reason), LogStreamName: aws.ToString(c.LogStreamName),
			TaskArn: aws.ToString(c.TaskArn), ContainerInstanceArn: aws.ToString(c.ContainerInstanceArn),
			InstanceType: aws.ToString(c.InstanceType),
		}
		if c.Vcpus != nil {
			w.Container.Vcpus = float64(*c.Vcpus)
		}
		if c.Memory != nil {
			w.Container.Memory = float64(*c.Memory)
		}
	}
	if n := d.NodeDetails; n != nil {
		w.NodeDetails = &wNodeDetails{NodeIndex: intp(n.NodeIndex), IsMainNode: aws.ToBool(n.IsMainNode)}
	}
	if n := d.NodeProperties; n != nil {
		w.NodeProperties = &wNodeProps{NumNodes: int(aws.ToInt32(n.NumNodes)), MainNode: int(aws.ToInt32(n.MainNode))}
	}
	if a := d.ArrayProperties; a != nil {
		w.ArrayProperties = &wArrayProps{Size: int(aws.ToInt32(a.Size)), Index: intp(a.Index)}
		if len(a.StatusSummary) > 0 {
			w.ArrayProperties.StatusSummary = map[string]int{}
			for k, v := range a.StatusSummary {
				w.ArrayProperties.StatusSummary[k] = int(v)
			}
		}
	}
	if e := d.EcsProperties; e != nil {
		w.EcsProperties = &wEcsProps{}
		for _, tp := range e.TaskProperties {
			t := wEcsTask{}
			for _, c := range tp.Containers {
				t.Containers = append(t.Containers, wEcsContainer{
					Image: aws.ToString(c.Image), ResourceRequirements: requirements(c.ResourceRequirements),
					ExitCode: intp(c.ExitCode), Reason: aws.ToString(c.Reason), LogStreamName: aws.ToString(c.LogStreamName),
				})
			}
			w.EcsProperties.TaskProperties = append(w.EcsProperties.TaskProperties, t)
		}
	}
	for _, a := range d.EksAttempts {
		wa := wEksAttempt{PodName: aws.ToString(a.PodName), NodeName: aws.ToString(a.NodeName),
			StartedAt: aws.ToInt64(a.StartedAt), StoppedAt: aws.ToInt64(a.StoppedAt), StatusReason: aws.ToString(a.StatusReason)}
		for _, c := range a.Containers {
			wa.Containers = append(wa.Containers, wAttemptContainer{ExitCode: intp(c.ExitCode), Reason: aws.ToString(c.Reason)})
		}
		w.EksAttempts = append(w.EksAttempts, wa)
	}
	return w
}

// requestOfDefinition reads a job definition's vCPU, memory and GPU request.
func requestOfDefinition(d *batchtypes.JobDefinition) (shape, bool) {
	var reqs []batchtypes.ResourceRequirement
	var r shape
	found := false
	if c := d.ContainerProperties; c != nil {
		reqs = append(reqs, c.ResourceRequirements...)
		// Definitions registered the legacy way still say vcpus and
		// memory; resourceRequirements, read below, win.
		//lint:ignore SA1019 the legacy fields are what such definitions have
		if v := c.Vcpus; v != nil {
			r.vcpus, found = float64(*v), true
		}
		//lint:ignore SA1019 the legacy fields are what such definitions have
		if m := c.Memory; m != nil {
			r.memMiB, found = int64(*m), true
		}
	}
	if e := d.EcsProperties; e != nil {
		for _, tp := range e.TaskProperties {
			for _, c := range tp.Containers {
				reqs = append(reqs, c.ResourceRequirements...)
			}
		}
	}
	if n := d.NodeProperties; n != nil {
		for _, rp := range n.NodeRangeProperties {
			if c := rp.Container; c != nil {
				reqs = append(reqs, c.ResourceRequirements...)
				break
			}
		}
	}
	var v, m, g float64
	var hv, hm bool
	for _, q := range reqs {
		x, err := strconv.ParseFloat(aws.ToString(q.Value), 64)
		if err != nil || x < 0 {
			continue
		}
		switch q.Type {
		case batchtypes.ResourceTypeVcpu:
			v, hv = v+x, true
		case batchtypes.ResourceTypeMemory:
			m, hm = m+x, true
		case batchtypes.ResourceTypeGpu:
			g += x
		}
		found = true
	}
	if hv {
		r.vcpus = v
	}
	if hm {
		r.memMiB = int64(m)
	}
	r.gpus = int64(g)
	return r, found
}
