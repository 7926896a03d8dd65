package exporter

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/smithy-go/middleware"
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
