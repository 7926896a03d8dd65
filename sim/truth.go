package sim

import (
	"bufio"
	"encoding/json"
	"net/http"
)

// TruthJob is the ground truth about one job (array parents and children
// included), for reconciling what batchwatch stored and exported.
type TruthJob struct {
	JobID         string            `json:"job_id"`
	JobName       string            `json:"job_name"`
	JobQueue      string            `json:"job_queue"`
	JobDefinition string            `json:"job_definition"`
	Status        string            `json:"status"`
	StatusReason  string            `json:"status_reason,omitempty"`
	Attempts      int               `json:"attempts"`
	CreatedAtMS   int64             `json:"created_at_ms"`
	StartedAtMS   int64             `json:"started_at_ms"`
	StoppedAtMS   int64             `json:"stopped_at_ms"`
	ArrayParentID string            `json:"array_parent_id,omitempty"`
	ArrayIndex    *int              `json:"array_index,omitempty"`
	ArraySize     int               `json:"array_size,omitempty"`
	Tags          map[string]string `json:"tags"`
	Parameters    map[string]string `json:"parameters"`
	VCPUs         float64           `json:"vcpus"`
	MemoryMiB     int               `json:"memory_mib"`
	GPUs          int               `json:"gpus,omitempty"`
	ExitCode      *int32            `json:"exit_code,omitempty"`
	IsCancelled   bool              `json:"is_cancelled,omitempty"`
	IsTerminated  bool              `json:"is_terminated,omitempty"`
	// Events is how many events the job produced so far.
	Events       int            `json:"events"`
	AttemptsInfo []TruthAttempt `json:"attempt_details"`
}

// TruthAttempt is one attempt of a job.
type TruthAttempt struct {
	StartedAtMS   int64  `json:"started_at_ms"`
	StoppedAtMS   int64  `json:"stopped_at_ms"`
	ExitCode      *int32 `json:"exit_code,omitempty"`
	StatusReason  string `json:"status_reason,omitempty"`
	Reason        string `json:"reason,omitempty"`
	InstanceType  string `json:"instance_type,omitempty"`
	InstanceID    string `json:"instance_id,omitempty"`
	Spot          bool   `json:"spot"`
	LogStreamName string `json:"log_stream_name,omitempty"`
	TaskArn       string `json:"task_arn,omitempty"`
}

// Truth returns the ground truth of every job, in submission order.
func (s *Sim) Truth() []TruthJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TruthJob, len(s.allJobs))
	for i, j := range s.allJobs {
		out[i] = s.truth(j)
	}
	return out
}

func (s *Sim) truth(j *job) TruthJob {
	t := TruthJob{
		JobID: j.id, JobName: j.name, JobQueue: j.q.name, JobDefinition: j.def.arn,
		Status: j.status.String(), StatusReason: j.statusReason, Attempts: len(j.attempts),
		CreatedAtMS: j.createdAt, StartedAtMS: j.startedAt, StoppedAtMS: j.stoppedAt,
		ArraySize: j.size, Tags: j.tags, Parameters: j.params, VCPUs: j.vcpus, MemoryMiB: j.memMiB,
		GPUs: j.gpus, IsCancelled: j.isCancelled, IsTerminated: j.isTerminated, Events: j.events,
		AttemptsInfo: make([]TruthAttempt, 0, len(j.attempts)),
	}
	if t.Tags == nil {
		t.Tags = map[string]string{}
	}
	if j.parent != nil {
		t.ArrayParentID = j.parent.id
		t.ArrayIndex = ptr(j.index)
	}
	for _, a := range j.attempts {
		t.AttemptsInfo = append(t.AttemptsInfo, TruthAttempt{
			StartedAtMS: a.startedAt, StoppedAtMS: a.stoppedAt, ExitCode: a.exitCode,
			StatusReason: a.statusReason, Reason: a.reason, InstanceType: a.instanceType,
			InstanceID: a.instanceID, Spot: a.spot, LogStreamName: a.logStream, TaskArn: a.taskArn,
		})
	}
	if n := len(j.attempts); n > 0 && j.status.terminal() {
		t.ExitCode = j.attempts[n-1].exitCode
	}
	return t
}

// serveTruth streams the ground truth as JSON lines.
func (s *Sim) serveTruth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	for _, t := range s.Truth() {
		if err := enc.Encode(&t); err != nil {
			return
		}
	}
	_ = bw.Flush()
}
