package exporter

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
)

// QueueInfo is what DescribeJobQueues says of one job queue.
type QueueInfo struct {
	Name     string
	State    string
	Status   string
	Priority int32
	// ComputeEnvironments in the queue's order.
	ComputeEnvironments []string
}

// CEInfo is what DescribeComputeEnvironments says of one compute
// environment.
type CEInfo struct {
	Name   string
	State  string
	Status string
	// Type is MANAGED or UNMANAGED; Capacity EC2, SPOT, FARGATE or
	// FARGATE_SPOT (empty for unmanaged).
	Type          string
	Capacity      string
	MinVCPUs      *int32
	MaxVCPUs      *int32
	DesiredVCPUs  *int32
	Cluster       string
	InstanceTypes []string
	// Tags are computeResources.tags, which Batch puts on the instances it
	// launches (not the compute environment's own resource tags).
	Tags map[string]string
}

// CapacitySnapshot is the latest description of queues and compute
// environments.
type CapacitySnapshot struct {
	Queues []QueueInfo
	CEs    []CEInfo
	At     time.Time
}

// describeCapacity describes the watched queues (all when allow is empty)
// and every compute environment.
func describeCapacity(ctx context.Context, api BatchAPI, allow []string, now func() time.Time) (*CapacitySnapshot, error) {
	snap := &CapacitySnapshot{}
	addQueues := func(out *awsbatch.DescribeJobQueuesOutput) {
		for _, q := range out.JobQueues {
			qi := QueueInfo{Name: aws.ToString(q.JobQueueName), State: string(q.State), Status: string(q.Status), Priority: aws.ToInt32(q.Priority)}
			order := append(q.ComputeEnvironmentOrder[:0:0], q.ComputeEnvironmentOrder...)
			sort.SliceStable(order, func(a, b int) bool { return aws.ToInt32(order[a].Order) < aws.ToInt32(order[b].Order) })
			for _, o := range order {
				qi.ComputeEnvironments = append(qi.ComputeEnvironments, lastSegment(aws.ToString(o.ComputeEnvironment)))
			}
			snap.Queues = append(snap.Queues, qi)
		}
	}
	if len(allow) > 0 {
		for start := 0; start < len(allow); start += 100 {
			out, err := api.DescribeJobQueues(ctx, &awsbatch.DescribeJobQueuesInput{JobQueues: allow[start:min(len(allow), start+100)]})
			if err != nil {
				return nil, fmt.Errorf("describe job queues: %w", err)
			}
			addQueues(out)
		}
	} else {
		in := &awsbatch.DescribeJobQueuesInput{MaxResults: aws.Int32(100)}
		for {
			out, err := api.DescribeJobQueues(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("describe job queues: %w", err)
			}
			addQueues(out)
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	in := &awsbatch.DescribeComputeEnvironmentsInput{MaxResults: aws.Int32(100)}
	for {
		out, err := api.DescribeComputeEnvironments(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe compute environments: %w", err)
		}
		for _, ce := range out.ComputeEnvironments {
			ci := CEInfo{Name: aws.ToString(ce.ComputeEnvironmentName), State: string(ce.State), Status: string(ce.Status),
				Type: string(ce.Type), Cluster: lastSegment(aws.ToString(ce.EcsClusterArn))}
			if cr := ce.ComputeResources; cr != nil {
				ci.Capacity = string(cr.Type)
				ci.MinVCPUs, ci.MaxVCPUs, ci.DesiredVCPUs = cr.MinvCpus, cr.MaxvCpus, cr.DesiredvCpus
				ci.InstanceTypes = cr.InstanceTypes
				ci.Tags = cr.Tags
			}
			snap.CEs = append(snap.CEs, ci)
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	sort.Slice(snap.Queues, func(a, b int) bool { return snap.Queues[a].Name < snap.Queues[b].Name })
	sort.Slice(snap.CEs, func(a, b int) bool { return snap.CEs[a].Name < snap.CEs[b].Name })
	snap.At = now()
	return snap, nil
}

// capacityLabel maps a compute environment's type to the capacity label.
func capacityLabel(ceType string) string {
	switch ceType {
	case "SPOT":
		return CapacitySpot
	case "FARGATE":
		return CapacityFargate
	case "FARGATE_SPOT":
		return CapacityFargateSpot
	}
	return CapacityOnDemand
}

// capacityModel derives from a snapshot what the State needs: per queue
// the shapes its compute environments can launch (nil when an instance
// type is unknown, which turns the unschedulable check off for that
// queue), the capacity of each ECS cluster and each queue's first
// compute environment. It also returns the unknown instance type names.
func capacityModel(snap *CapacitySnapshot, types *instanceTable) (fits map[string]*fitTable, clusters, queueCap map[string]string, unknown []string) {
	fits, clusters, queueCap = map[string]*fitTable{}, map[string]string{}, map[string]string{}
	ces := map[string]*CEInfo{}
	for i := range snap.CEs {
		ce := &snap.CEs[i]
		ces[ce.Name] = ce
		if ce.Cluster != "" {
			clusters[ce.Cluster] = capacityLabel(ce.Capacity)
		}
	}
	unknownSet := map[string]bool{}
	for _, q := range snap.Queues {
		var shapes []shape
		known := len(q.ComputeEnvironments) > 0
		for i, name := range q.ComputeEnvironments {
			ce := ces[name]
			if ce == nil || ce.Type == "UNMANAGED" {
				known = false
				continue
			}
			if i == 0 {
				queueCap[q.Name] = capacityLabel(ce.Capacity)
			}
			if ce.Capacity == "FARGATE" || ce.Capacity == "FARGATE_SPOT" {
				shapes = append(shapes, shape{vcpus: float64(fargateMax.VCPUs), memMiB: int64(fargateMax.MemoryMiB)})
				continue
			}
			ts, unk := types.resolve(ce.InstanceTypes)
			for _, u := range unk {
				unknownSet[u] = true
			}
			if len(unk) > 0 || len(ce.InstanceTypes) == 0 {
				known = false
			}
			for _, t := range ts {
				if ce.MaxVCPUs != nil && int32(t.VCPUs) > *ce.MaxVCPUs {
					continue // Batch never launches an instance above maxvCpus
				}
				shapes = append(shapes, shape{vcpus: float64(t.VCPUs), memMiB: int64(types.usableMemory(t)), gpus: int64(t.GPUs)})
			}
		}
		if known {
			fits[q.Name] = newFitTable(shapes)
		} else {
			fits[q.Name] = nil
		}
	}
	unknown = sortedKeys(unknownSet)
	return fits, clusters, queueCap, unknown
}
