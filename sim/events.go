package sim

import (
	"encoding/json"
	"strconv"
	"time"
)

const (
	detailTypeState   = "Batch Job State Change"
	detailTypeBlocked = "Batch Job Queue Blocked"
)

// detail builds a job's JobDetail: the DescribeJobs shape, also the
// event's detail.
func (s *Sim) detail(j *job) *jobDetail {
	d := &jobDetail{
		JobArn:               j.arn,
		JobName:              j.name,
		JobID:                j.id,
		JobQueue:             j.q.arn,
		Status:               j.status.String(),
		StatusReason:         j.statusReason,
		Attempts:             make([]attemptDetail, 0, len(j.attempts)),
		CreatedAt:            j.createdAt,
		StartedAt:            j.startedAt,
		StoppedAt:            j.stoppedAt,
		RetryStrategy:        j.retry,
		DependsOn:            j.dependsOn,
		JobDefinition:        j.def.arn,
		Parameters:           j.params,
		Tags:                 j.tags,
		PropagateTags:        j.propagateTags,
		PlatformCapabilities: j.platform,
		ShareIdentifier:      j.shareID,
		SchedulingPriority:   j.schedPrio,
		IsCancelled:          j.isCancelled,
		IsTerminated:         j.isTerminated,
	}
	if d.Parameters == nil {
		d.Parameters = map[string]string{}
	}
	if d.DependsOn == nil {
		d.DependsOn = []jobDependency{}
	}
	if d.PlatformCapabilities == nil {
		d.PlatformCapabilities = []string{}
	}
	if j.timeout > 0 {
		d.Timeout = &jobTimeout{AttemptDurationSeconds: j.timeout}
	}
	for i := range j.attempts {
		a := &j.attempts[i]
		d.Attempts = append(d.Attempts, attemptDetail{
			Container: attemptContainerDetail{
				ContainerInstanceArn: a.containerInstanceArn,
				TaskArn:              a.taskArn,
				ExitCode:             a.exitCode,
				Reason:               a.reason,
				LogStreamName:        a.logStream,
				NetworkInterfaces:    []empty{},
			},
			StartedAt:    a.startedAt,
			StoppedAt:    a.stoppedAt,
			StatusReason: a.statusReason,
		})
	}
	switch {
	case j.size > 0:
		sum := make(map[string]int32, numStatus)
		for st := range numStatus {
			sum[st.String()] = j.childCounts[st]
		}
		d.ArrayProperties = &arrayPropertiesDetail{StatusSummary: sum, Size: int32(j.size)}
	case j.parent != nil:
		d.ArrayProperties = &arrayPropertiesDetail{Index: ptr(int32(j.index))}
	}
	d.Container = s.containerDetail(j)
	return d
}

func (s *Sim) containerDetail(j *job) *containerDetail {
	props := j.def.detail.ContainerProperties
	c := &containerDetail{
		Image:             props.Image,
		Command:           props.Command,
		JobRoleArn:        props.JobRoleArn,
		ExecutionRoleArn:  props.ExecutionRoleArn,
		Volumes:           []empty{},
		Environment:       props.Environment,
		MountPoints:       []empty{},
		Ulimits:           []empty{},
		NetworkInterfaces: []empty{},
		Secrets:           []empty{},
		LogConfiguration:  props.LogConfiguration,
	}
	if j.command != nil {
		c.Command = j.command
	}
	if len(j.env) > 0 {
		c.Environment = append(append([]keyValuePair{}, props.Environment...), j.env...)
	}
	if props.Vcpus != nil && len(props.ResourceRequirements) == 0 {
		// Registered with the legacy fields: AWS reports them the same way.
		c.Vcpus = ptr(int32(j.vcpus))
		c.Memory = ptr(int32(j.memMiB))
		c.ResourceRequirements = []resourceRequirement{}
	} else {
		c.ResourceRequirements = []resourceRequirement{
			{Value: strconv.FormatFloat(j.vcpus, 'f', -1, 64), Type: "VCPU"},
			{Value: strconv.Itoa(j.memMiB), Type: "MEMORY"},
		}
		if j.gpus > 0 {
			c.ResourceRequirements = append(c.ResourceRequirements, resourceRequirement{Value: strconv.Itoa(j.gpus), Type: "GPU"})
		}
	}
	if j.size > 0 {
		return c
	}
	var a *attempt
	switch {
	case j.cur != nil:
		a = j.cur
	case len(j.attempts) > 0 && j.status.terminal():
		a = &j.attempts[len(j.attempts)-1]
	}
	if a != nil {
		c.TaskArn = a.taskArn
		c.ContainerInstanceArn = a.containerInstanceArn
		c.LogStreamName = a.logStream
		c.ExitCode = a.exitCode
		c.Reason = a.reason
	}
	return c
}

// emitState emits the job's state change event.
func (s *Sim) emitState(j *job) {
	j.events++
	s.emit(detailTypeState, s.detail(j), []string{j.arn})
}

// emitBlocked emits a Batch Job Queue Blocked event for the job at the head
// of its queue (AWS's sample carries no tags).
func (s *Sim) emitBlocked(j *job) {
	j.events++
	d := s.detail(j)
	d.Tags = nil
	s.emit(detailTypeBlocked, d, []string{j.arn, j.q.arn})
}

func (s *Sim) emit(detailType string, d *jobDetail, resources []string) {
	env := envelope{
		Version:    "0",
		ID:         s.rng.uuid(),
		DetailType: detailType,
		Source:     "aws.batch",
		Account:    s.sc.Account,
		Time:       time.UnixMilli(s.cur).UTC().Format("2006-01-02T15:04:05Z"),
		Region:     s.sc.Region,
		Resources:  resources,
		Detail:     d,
	}
	body, err := json.Marshal(&env)
	if err != nil {
		// Every field is a plain string, number, slice or map.
		s.log.WithError(err).Error("marshal event")
		return
	}
	s.metrics.emitted.WithLabelValues(detailType).Inc()
	s.out.push(outItem{body: body, at: s.cur})
}
