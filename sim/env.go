package sim

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	ceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
)

// createCEInput is CreateComputeEnvironment's request.
type createCEInput struct {
	ComputeEnvironmentName string `json:"computeEnvironmentName"`
	Type                   string `json:"type"`
	State                  string `json:"state"`
	ComputeResources       *struct {
		Type               string            `json:"type"`
		AllocationStrategy string            `json:"allocationStrategy"`
		MinvCpus           *int32            `json:"minvCpus"`
		MaxvCpus           *int32            `json:"maxvCpus"`
		DesiredvCpus       *int32            `json:"desiredvCpus"`
		InstanceTypes      []string          `json:"instanceTypes"`
		Subnets            []string          `json:"subnets"`
		SecurityGroupIds   []string          `json:"securityGroupIds"`
		InstanceRole       string            `json:"instanceRole"`
		Tags               map[string]string `json:"tags"`
		BidPercentage      *int32            `json:"bidPercentage"`
		SpotIamFleetRole   string            `json:"spotIamFleetRole"`
	} `json:"computeResources"`
	ServiceRole string            `json:"serviceRole"`
	Tags        map[string]string `json:"tags"`
}

// addComputeEnv creates a compute environment from a scenario spec, or
// from an API request when in is set.
func (s *Sim) addComputeEnv(spec ComputeEnvironmentSpec, in *createCEInput) (*computeEnv, error) {
	if _, ok := s.ces[spec.Name]; ok {
		return nil, clientErr("Object already exists")
	}
	ce := &computeEnv{
		name:    spec.Name,
		arn:     s.arn.ce(spec.Name),
		uuid:    s.rng.uuid(),
		spec:    spec,
		fargate: spec.Type == "FARGATE" || spec.Type == "FARGATE_SPOT",
		spot:    spec.Type == "SPOT" || spec.Type == "FARGATE_SPOT",
		enabled: spec.State != "DISABLED",
		tags:    spec.Tags,
	}
	ce.cluster = fmt.Sprintf("AWSBatch-%s-%s", spec.Name, ce.uuid)
	ce.clusterArn = s.arn.cluster(ce.cluster)
	ce.managed = true
	ce.serviceRole = fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch", s.arn.partition, s.arn.account)
	ce.instanceRole = fmt.Sprintf("arn:%s:iam::%s:instance-profile/ecsInstanceRole", s.arn.partition, s.arn.account)
	ce.subnets = []string{"subnet-0sim0000000000001"}
	ce.securityGroups = []string{"sg-0sim0000000000001"}
	ce.allocationStrategy = "BEST_FIT_PROGRESSIVE"
	if ce.spot {
		ce.allocationStrategy = "SPOT_CAPACITY_OPTIMIZED"
	}
	ce.instanceTypeNames = spec.InstanceTypes
	if in != nil {
		ce.createdBySpec = false
		ce.managed = in.Type != "UNMANAGED"
		ce.apiTags = in.Tags
		if in.ServiceRole != "" {
			ce.serviceRole = in.ServiceRole
		}
		if cr := in.ComputeResources; cr != nil {
			ce.subnets = cr.Subnets
			ce.securityGroups = cr.SecurityGroupIds
			if cr.InstanceRole != "" {
				ce.instanceRole = cr.InstanceRole
			} else {
				ce.instanceRole = ""
			}
			if cr.AllocationStrategy != "" {
				ce.allocationStrategy = cr.AllocationStrategy
			}
			ce.bidPercentage = cr.BidPercentage
			ce.resourceTags = cr.Tags
		}
	} else {
		ce.createdBySpec = true
	}
	if ce.managed && !ce.fargate {
		types, err := expandInstanceTypes(spec.InstanceTypes, s.sc.InstanceTypes)
		if err != nil {
			return nil, clientErr(err.Error())
		}
		ce.types = types
	}
	if !ce.managed {
		ce.allocationStrategy = ""
	}
	s.ces[ce.name] = ce
	s.ceOrder = append(s.ceOrder, ce)
	tags := spec.Tags
	if in != nil {
		tags = in.Tags
	}
	if len(tags) > 0 {
		s.resTags[ce.arn] = copyMap(tags)
	}
	return ce, nil
}

func (s *Sim) createComputeEnv(in *createCEInput) (*computeEnv, error) {
	if !ceNameRE.MatchString(in.ComputeEnvironmentName) {
		return nil, clientErr("computeEnvironmentName must be 1-128 letters, numbers, hyphens and underscores, starting with a letter or number")
	}
	if in.Type != "MANAGED" && in.Type != "UNMANAGED" {
		return nil, clientErr(fmt.Sprintf("type %s must be one of MANAGED | UNMANAGED", in.Type))
	}
	state := in.State
	if state == "" {
		state = "ENABLED"
	}
	if state != "ENABLED" && state != "DISABLED" {
		return nil, clientErr(fmt.Sprintf("state %s must be one of ENABLED | DISABLED", state))
	}
	spec := ComputeEnvironmentSpec{
		Name: in.ComputeEnvironmentName, State: state, Type: "EC2",
		BootTime: Range{Min: 45 * time.Second, Max: 120 * time.Second}, IdleTimeout: 5 * time.Minute,
		FargateVCPUPrice: 0.04048, FargateGBPrice: 0.004445,
	}
	if in.Type == "MANAGED" {
		cr := in.ComputeResources
		if cr == nil {
			return nil, clientErr("computeResources must be specified when creating a MANAGED compute environment")
		}
		switch cr.Type {
		case "EC2", "SPOT", "FARGATE", "FARGATE_SPOT":
		default:
			return nil, clientErr("computeResources.type must be either EC2 | SPOT | FARGATE | FARGATE_SPOT")
		}
		spec.Type = cr.Type
		if cr.MaxvCpus == nil || *cr.MaxvCpus < 0 {
			return nil, clientErr("computeResources.maxvCpus must be specified and not negative")
		}
		spec.MaxVCPUs = int(*cr.MaxvCpus)
		if cr.MinvCpus != nil {
			spec.MinVCPUs = int(*cr.MinvCpus)
		}
		if spec.MinVCPUs > spec.MaxVCPUs {
			return nil, clientErr("maxvCpus must be greater than or equal to minvCpus")
		}
		if len(cr.Subnets) == 0 {
			return nil, clientErr("At least 1 subnet must be provided")
		}
		if cr.Type == "EC2" || cr.Type == "SPOT" {
			if len(cr.InstanceTypes) == 0 {
				return nil, clientErr("At least 1 instance type must be provided")
			}
			spec.InstanceTypes = cr.InstanceTypes
		}
		spec.Tags = cr.Tags
	}
	return s.addComputeEnv(spec, in)
}

// defByRef resolves a job definition by name (latest active revision),
// name:revision or ARN.
func (s *Sim) defByRef(ref string) *jobDef {
	name := ref
	rev := 0
	if strings.HasPrefix(ref, "arn:") {
		name = nameFromArn(ref)
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		r, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return nil
		}
		name, rev = name[:i], r
	}
	revs := s.defs[name]
	if rev > 0 {
		if rev <= len(revs) {
			return revs[rev-1]
		}
		return nil
	}
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].status == "ACTIVE" {
			return revs[i]
		}
	}
	return nil
}

// registerDef registers a new revision of a job definition.
func (s *Sim) registerDef(in *registerJobDefinitionInput) (*jobDef, error) {
	if !nameRE.MatchString(in.JobDefinitionName) {
		return nil, clientErr("jobDefinitionName must be 1-128 letters, numbers, hyphens and underscores, starting with a letter or number")
	}
	switch in.Type {
	case "container":
	case "multinode":
		return nil, clientErr("multinode job definitions are not supported by the simulator")
	default:
		return nil, clientErr(fmt.Sprintf("type %s must be one of container | multinode", in.Type))
	}
	cp := in.ContainerProperties
	if cp == nil {
		return nil, clientErr("containerProperties must be specified for a job definition of type container")
	}
	if cp.Image == "" {
		return nil, clientErr("containerProperties.image must be specified")
	}
	if lc := cp.LogConfiguration; lc != nil && lc.LogDriver == "" {
		return nil, clientErr("containerProperties.logConfiguration.logDriver must be specified")
	}
	d := &jobDef{name: in.JobDefinitionName, status: "ACTIVE", retry: in.RetryStrategy}
	if in.Timeout != nil {
		if in.Timeout.AttemptDurationSeconds > 0 && in.Timeout.AttemptDurationSeconds < 60 {
			return nil, clientErr("timeout.attemptDurationSeconds must be at least 60")
		}
		d.timeout = in.Timeout.AttemptDurationSeconds
	}
	vcpus, mem, gpus, err := resources(cp.Vcpus, cp.Memory, cp.ResourceRequirements)
	if err != nil {
		return nil, err
	}
	if vcpus <= 0 || mem <= 0 {
		return nil, clientErr("containerProperties must specify vCPU and memory (resourceRequirements VCPU and MEMORY)")
	}
	if err := validRetry(in.RetryStrategy); err != nil {
		return nil, err
	}
	d.vcpus, d.memMiB, d.gpus = vcpus, mem, gpus
	revs := s.defs[d.name]
	d.revision = len(revs) + 1
	d.arn = s.arn.jobDef(d.name, d.revision)
	// Without platformCapabilities the job runs on EC2; AWS then reports
	// an empty list.
	platform := nonNil(in.PlatformCapabilities)
	props := *cp
	props.Command = nonNil(props.Command)
	props.Volumes, props.MountPoints, props.Ulimits = []empty{}, []empty{}, []empty{}
	if props.Secrets == nil {
		props.Secrets = []secret{}
	}
	if slices.Contains(platform, "FARGATE") {
		// AWS's defaults for a Fargate definition that names neither.
		if props.FargatePlatformConfiguration == nil {
			props.FargatePlatformConfiguration = &fargatePlatformConfiguration{PlatformVersion: "LATEST"}
		}
		if props.NetworkConfiguration == nil {
			props.NetworkConfiguration = &networkConfiguration{AssignPublicIP: "DISABLED"}
		}
	}
	props.Environment = nonNilKV(props.Environment)
	props.ResourceRequirements = nonNilRR(props.ResourceRequirements)
	params := in.Parameters
	if params == nil {
		params = map[string]string{}
	}
	d.detail = jobDefinitionDetail{
		JobDefinitionName: d.name, JobDefinitionArn: d.arn, Revision: int32(d.revision),
		Status: "ACTIVE", Type: "container", SchedulingPriority: in.SchedulingPriority,
		Parameters: params, RetryStrategy: in.RetryStrategy, ContainerProperties: &props,
		Timeout: in.Timeout, Tags: in.Tags, PropagateTags: in.PropagateTags,
		PlatformCapabilities: platform, ContainerOrchestrationType: "ECS",
	}
	if d.detail.RetryStrategy != nil && d.detail.RetryStrategy.EvaluateOnExit == nil {
		r := *d.detail.RetryStrategy
		r.EvaluateOnExit = []evaluateOnExit{}
		d.detail.RetryStrategy = &r
		d.retry = &r
	}
	d.behavior = &s.sc.DefaultBehavior
	for i := range s.sc.JobDefinitions {
		if sd := &s.sc.JobDefinitions[i]; sd.Name == d.name && sd.Behavior != nil {
			d.behavior = sd.Behavior
		}
	}
	s.defs[d.name] = append(revs, d)
	if len(in.Tags) > 0 {
		s.resTags[d.arn] = copyMap(in.Tags)
	}
	return d, nil
}

func validRetry(r *retryStrategy) error {
	if r == nil {
		return nil
	}
	if r.Attempts < 0 || r.Attempts > 10 {
		return clientErr("retryStrategy.attempts must be between 1 and 10")
	}
	if len(r.EvaluateOnExit) > 5 {
		return clientErr("retryStrategy.evaluateOnExit can have at most 5 entries")
	}
	for _, e := range r.EvaluateOnExit {
		switch strings.ToUpper(e.Action) {
		case "RETRY", "EXIT":
		default:
			return clientErr(fmt.Sprintf("evaluateOnExit action %q must be one of RETRY | EXIT", e.Action))
		}
	}
	return nil
}

// resources reads vCPUs, memory (MiB) and GPUs from the legacy fields or
// resourceRequirements.
func resources(vcpus, memory *int32, reqs []resourceRequirement) (float64, int, int, error) {
	var v float64
	var m, g int
	if vcpus != nil {
		v = float64(*vcpus)
	}
	if memory != nil {
		m = int(*memory)
	}
	for _, r := range reqs {
		switch r.Type {
		case "VCPU":
			f, err := strconv.ParseFloat(r.Value, 64)
			if err != nil || f <= 0 {
				return 0, 0, 0, clientErr(fmt.Sprintf("resourceRequirements VCPU value %q is not a positive number", r.Value))
			}
			v = f
		case "MEMORY":
			n, err := strconv.Atoi(r.Value)
			if err != nil || n <= 0 {
				return 0, 0, 0, clientErr(fmt.Sprintf("resourceRequirements MEMORY value %q is not a positive integer", r.Value))
			}
			m = n
		case "GPU":
			n, err := strconv.Atoi(r.Value)
			if err != nil || n < 0 {
				return 0, 0, 0, clientErr(fmt.Sprintf("resourceRequirements GPU value %q is not a non-negative integer", r.Value))
			}
			g = n
		default:
			return 0, 0, 0, clientErr(fmt.Sprintf("resourceRequirements type %q must be one of GPU | VCPU | MEMORY", r.Type))
		}
	}
	return v, m, g, nil
}

// specToRegister turns a scenario job definition into the request that
// registers it.
func specToRegister(spec *JobDefinitionSpec, account string) *registerJobDefinitionInput {
	in := &registerJobDefinitionInput{
		JobDefinitionName:    spec.Name,
		Type:                 "container",
		Parameters:           spec.Parameters,
		ContainerProperties:  specContainer(spec, account),
		PropagateTags:        spec.PropagateTags,
		Tags:                 spec.Tags,
		PlatformCapabilities: spec.PlatformCapabilities,
	}
	if spec.SchedulingPriority != nil {
		p := int32(*spec.SchedulingPriority)
		in.SchedulingPriority = &p
	}
	if spec.Timeout > 0 {
		in.Timeout = &jobTimeout{AttemptDurationSeconds: int32(spec.Timeout / time.Second)}
	}
	in.RetryStrategy = retryFromSpec(spec.RetryStrategy)
	return in
}

// specContainer is a scenario definition's containerProperties: resources
// the legacy way (vcpus, memory) or as resourceRequirements, and what a
// Fargate definition needs (an execution role, the platform version, the
// network configuration).
func specContainer(spec *JobDefinitionSpec, account string) *containerProperties {
	cp := &containerProperties{
		Image:            spec.Image,
		Command:          spec.Command,
		JobRoleArn:       spec.JobRoleArn,
		ExecutionRoleArn: spec.ExecutionRoleArn,
		Environment:      sortedKV(spec.Environment),
	}
	if spec.LegacyResources {
		cp.Vcpus, cp.Memory = ptr(int32(spec.VCPUs)), ptr(int32(spec.MemoryMiB))
	} else {
		cp.ResourceRequirements = resourceReqs(spec.VCPUs, spec.MemoryMiB, spec.GPUs)
	}
	for _, kv := range sortedKV(spec.Secrets) {
		cp.Secrets = append(cp.Secrets, secret{Name: kv.Name, ValueFrom: kv.Value})
	}
	if lc := spec.LogConfiguration; lc != nil {
		cp.LogConfiguration = &logConfiguration{LogDriver: lc.LogDriver, Options: lc.Options}
	}
	if slices.Contains(spec.PlatformCapabilities, "FARGATE") {
		if cp.ExecutionRoleArn == "" {
			// Fargate pulls the image and writes the logs with it.
			cp.ExecutionRoleArn = "arn:aws:iam::" + account + ":role/ecsTaskExecutionRole"
		}
		cp.FargatePlatformConfiguration = &fargatePlatformConfiguration{PlatformVersion: spec.PlatformVersion}
		cp.NetworkConfiguration = &networkConfiguration{AssignPublicIP: spec.AssignPublicIP}
	}
	return cp
}

// resourceReqs is resourceRequirements as AWS writes them: VCPU, MEMORY
// and, when there are any, GPU.
func resourceReqs(vcpus float64, memMiB, gpus int) []resourceRequirement {
	out := []resourceRequirement{
		{Value: strconv.FormatFloat(vcpus, 'f', -1, 64), Type: "VCPU"},
		{Value: strconv.Itoa(memMiB), Type: "MEMORY"},
	}
	if gpus > 0 {
		out = append(out, resourceRequirement{Value: strconv.Itoa(gpus), Type: "GPU"})
	}
	return out
}

// sortedKV turns a map into name/value pairs sorted by name.
func sortedKV(m map[string]string) []keyValuePair {
	var out []keyValuePair
	for k, v := range m {
		out = append(out, keyValuePair{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func retryFromSpec(r *RetrySpec) *retryStrategy {
	if r == nil {
		return nil
	}
	out := &retryStrategy{Attempts: int32(r.Attempts), EvaluateOnExit: []evaluateOnExit{}}
	for _, e := range r.EvaluateOnExit {
		out.EvaluateOnExit = append(out.EvaluateOnExit, evaluateOnExit{
			OnStatusReason: e.OnStatusReason, OnReason: e.OnReason, OnExitCode: e.OnExitCode,
			Action: strings.ToUpper(e.Action),
		})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilKV(s []keyValuePair) []keyValuePair {
	if s == nil {
		return []keyValuePair{}
	}
	return s
}

func nonNilRR(s []resourceRequirement) []resourceRequirement {
	if s == nil {
		return []resourceRequirement{}
	}
	return s
}
