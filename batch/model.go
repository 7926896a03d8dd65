package batch

import "time"

// Detail types batchwatch handles.
const (
	DetailTypeJobStateChange  = "Batch Job State Change"
	DetailTypeJobQueueBlocked = "Batch Job Queue Blocked"
)

// Event is one parsed EventBridge event from AWS Batch.
type Event struct {
	ID         string
	DetailType string
	Source     string
	Account    string
	Region     string
	// Time is the envelope time (second precision).
	Time      time.Time
	Resources []string
	// Job is the normalized view of the event's detail; of a usage event
	// only the job id and queue.
	Job Job
	// Usage is set for a usage event (DetailTypeAttemptUsage) and nil for
	// AWS Batch's own.
	Usage *Usage
	// Raw is the EventBridge envelope as received (unwrapped from SNS).
	Raw []byte
	// SNSMessageID is set when the event arrived wrapped in an SNS notification.
	SNSMessageID string
}

// ObservedAtMs is the latest time the event speaks of, in epoch ms: the
// envelope time or any job time after it. Used for Version.
func (e *Event) ObservedAtMs() int64 {
	t := e.Time.UnixMilli()
	if e.Time.IsZero() {
		t = 0
	}
	for _, v := range []int64{e.Job.CreatedAtMs, e.Job.StartedAtMs, e.Job.StoppedAtMs} {
		if v > t {
			t = v
		}
	}
	if n := len(e.Job.Attempts); n > 0 {
		last := e.Job.Attempts[n-1]
		if last.StoppedAtMs > t {
			t = last.StoppedAtMs
		}
	}
	return t
}

// Version orders this event among the job's observations (see Version).
func (e *Event) Version() uint64 {
	return Version(len(e.Job.Attempts), e.Job.Status, e.ObservedAtMs())
}

// KV is one tag or parameter.
type KV struct {
	Key   string
	Value string
}

// Job is the normalized view of a JobDetail. Zero values mean "not said":
// empty strings, 0 times, nil pointers.
type Job struct {
	ID   string
	Name string
	ARN  string
	// Queue and QueueARN: the job queue name (last ARN segment) and as given.
	Queue    string
	QueueARN string
	Status   Status
	// StatusReason is detail.statusReason.
	StatusReason string
	FailureClass FailureClass
	// Definition is the job definition name, DefinitionRevision its revision
	// (0 when not given), DefinitionARN as given.
	Definition         string
	DefinitionRevision int
	DefinitionARN      string

	CreatedAtMs int64
	StartedAtMs int64
	StoppedAtMs int64

	Attempts []Attempt
	// ExitCode is the last attempt's exit code, else the container's.
	ExitCode *int
	// LogStream is the last attempt's log stream, else the container's.
	LogStream string

	VCPUs     *float64
	MemoryMiB *int64
	GPUs      *int64
	Image     string
	// InstanceType is container.instanceType when Batch reports it.
	InstanceType string
	Platform     Platform
	// Log is where the job's container writes its logs, as its
	// logConfiguration says (zero when the event does not say).
	Log LogConfig

	// Array job linkage: parents have ArraySize > 0, children ArrayIndex.
	ArrayParentID string
	ArrayIndex    *int
	ArraySize     int
	StatusSummary map[string]int

	// Multi-node linkage: node jobs are "<jobId>#<node>".
	NodeParentID string
	NodeIndex    *int
	NumNodes     int

	DependsOn          []string
	RetryAttempts      int
	TimeoutSeconds     int64
	ShareIdentifier    string
	SchedulingPriority *int64
	PropagateTags      bool
	Tags               []KV // sorted by key
	Parameters         []KV // sorted by key
}

// Attempt is one finished (or, from a RUNNING event, current) attempt.
type Attempt struct {
	Index                int
	StartedAtMs          int64
	StoppedAtMs          int64
	ExitCode             *int
	Reason               string // container reason
	StatusReason         string
	LogStream            string
	TaskARN              string
	ContainerInstanceARN string
	FailureClass         FailureClass
}

// DefaultLogGroup is the CloudWatch Logs group of jobs whose container
// has no log configuration of its own (AWS Batch's default).
const DefaultLogGroup = "/aws/batch/job"

// LogDriverAWSLogs is the log driver that writes to CloudWatch Logs.
const LogDriverAWSLogs = "awslogs"

// LogConfig is a container's logConfiguration: the driver, and for awslogs
// the group, region and stream prefix of its options, as given.
type LogConfig struct {
	Driver       string
	Group        string
	Region       string
	StreamPrefix string
}

// LogGroup is the CloudWatch Logs group the job's log streams are in: the
// awslogs-group of its log configuration, DefaultLogGroup when the
// container has none (or awslogs without a group), and "" when its logs do
// not go to CloudWatch Logs through Batch: another log driver, or an EKS
// job (its pods log through the cluster's own agent).
func (j *Job) LogGroup() string {
	switch {
	case j.Log.Driver != "" && j.Log.Driver != LogDriverAWSLogs:
		return ""
	case j.Log.Group != "":
		return j.Log.Group
	case j.Platform == PlatformEKS:
		return ""
	}
	return DefaultLogGroup
}

// LogRegion is the region of the job's CloudWatch Logs group: the
// awslogs-region option, else eventRegion (the job's own region, where
// awslogs writes by default); "" when LogGroup is "".
func (j *Job) LogRegion(eventRegion string) string {
	if j.LogGroup() == "" {
		return ""
	}
	if j.Log.Driver == LogDriverAWSLogs && j.Log.Region != "" {
		return j.Log.Region
	}
	return eventRegion
}

// IsArrayParent reports whether the job is an array parent.
func (j *Job) IsArrayParent() bool { return j.ArraySize > 0 && j.ArrayIndex == nil }

// IsArrayChild reports whether the job is a child of an array job.
func (j *Job) IsArrayChild() bool { return j.ArrayParentID != "" }

// IsNode reports whether the job is one node of a multi-node parallel job.
func (j *Job) IsNode() bool { return j.NodeParentID != "" }

// FirstStartedAtMs is the start of the first attempt, else the job start.
func (j *Job) FirstStartedAtMs() int64 {
	first := j.StartedAtMs
	for _, a := range j.Attempts {
		if a.StartedAtMs > 0 && (first == 0 || a.StartedAtMs < first) {
			first = a.StartedAtMs
		}
	}
	return first
}

// QueueWaitMs is the time from creation to the first start, or -1.
func (j *Job) QueueWaitMs() int64 {
	first := j.FirstStartedAtMs()
	if j.CreatedAtMs <= 0 || first <= 0 || first < j.CreatedAtMs {
		return -1
	}
	return first - j.CreatedAtMs
}

// RunTimeMs is the duration of the last attempt (or the job's own
// start/stop when no attempt says), or -1.
func (j *Job) RunTimeMs() int64 {
	if n := len(j.Attempts); n > 0 {
		a := j.Attempts[n-1]
		if a.StartedAtMs > 0 && a.StoppedAtMs >= a.StartedAtMs {
			return a.StoppedAtMs - a.StartedAtMs
		}
	}
	if j.StartedAtMs > 0 && j.StoppedAtMs >= j.StartedAtMs {
		return j.StoppedAtMs - j.StartedAtMs
	}
	return -1
}

// TotalTimeMs is creation to stop, or -1.
func (j *Job) TotalTimeMs() int64 {
	if j.CreatedAtMs > 0 && j.StoppedAtMs >= j.CreatedAtMs {
		return j.StoppedAtMs - j.CreatedAtMs
	}
	return -1
}

// Tag returns the value of tag k.
func (j *Job) Tag(k string) (string, bool) { return lookup(j.Tags, k) }

// Parameter returns the value of parameter k.
func (j *Job) Parameter(k string) (string, bool) { return lookup(j.Parameters, k) }

func lookup(kvs []KV, k string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return "", false
}
