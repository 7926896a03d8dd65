package batch

// Summary is the flat view `batchwatch inspect event` prints, one per event.
// Pointers and empty strings become JSON null where the event does not say.
type Summary struct {
	DetailType            string            `json:"detail_type"`
	EventID               string            `json:"event_id"`
	Account               *string           `json:"account"`
	Region                *string           `json:"region"`
	Time                  *string           `json:"time"`
	SNSMessageID          *string           `json:"sns_message_id"`
	JobID                 string            `json:"job_id"`
	JobName               *string           `json:"job_name"`
	JobQueue              *string           `json:"job_queue"`
	Status                *string           `json:"status"`
	StatusReason          *string           `json:"status_reason"`
	FailureClass          *string           `json:"failure_class"`
	JobDefinition         *string           `json:"job_definition"`
	JobDefinitionRevision *int              `json:"job_definition_revision"`
	Attempts              int               `json:"attempts"`
	ExitCode              *int              `json:"exit_code"`
	CreatedAtMs           *int64            `json:"created_at_ms"`
	StartedAtMs           *int64            `json:"started_at_ms"`
	StoppedAtMs           *int64            `json:"stopped_at_ms"`
	QueueWaitMs           *int64            `json:"queue_wait_ms"`
	RunTimeMs             *int64            `json:"run_time_ms"`
	VCPUs                 *float64          `json:"vcpus"`
	MemoryMiB             *int64            `json:"memory_mib"`
	GPUs                  *int64            `json:"gpus"`
	Platform              string            `json:"platform"`
	ArrayParentID         *string           `json:"array_parent_id"`
	ArrayIndex            *int              `json:"array_index"`
	ArraySize             *int              `json:"array_size"`
	NodeParentID          *string           `json:"node_parent_id"`
	NodeIndex             *int              `json:"node_index"`
	LogStream             *string           `json:"log_stream"`
	LogDriver             *string           `json:"log_driver"`
	LogGroup              *string           `json:"log_group"`
	LogRegion             *string           `json:"log_region"`
	Tags                  map[string]string `json:"tags"`
	Parameters            map[string]string `json:"parameters"`
	// Usage is what the attempt used, for a usage event (batchwatch-run's).
	Usage *Usage `json:"usage,omitempty"`
}

// Summary flattens the event.
func (e *Event) Summary() Summary {
	j := &e.Job
	s := Summary{
		DetailType:    e.DetailType,
		EventID:       e.ID,
		Account:       str(e.Account),
		Region:        str(e.Region),
		SNSMessageID:  str(e.SNSMessageID),
		JobID:         j.ID,
		JobName:       str(j.Name),
		JobQueue:      str(j.Queue),
		Status:        str(string(j.Status)),
		StatusReason:  str(j.StatusReason),
		FailureClass:  str(string(j.FailureClass)),
		JobDefinition: str(j.Definition),
		Attempts:      len(j.Attempts),
		ExitCode:      j.ExitCode,
		CreatedAtMs:   positive(j.CreatedAtMs),
		StartedAtMs:   positive(j.StartedAtMs),
		StoppedAtMs:   positive(j.StoppedAtMs),
		QueueWaitMs:   nonNegative(j.QueueWaitMs()),
		RunTimeMs:     nonNegative(j.RunTimeMs()),
		VCPUs:         j.VCPUs,
		MemoryMiB:     j.MemoryMiB,
		GPUs:          j.GPUs,
		Platform:      string(j.Platform),
		ArrayParentID: str(j.ArrayParentID),
		ArrayIndex:    j.ArrayIndex,
		NodeParentID:  str(j.NodeParentID),
		NodeIndex:     j.NodeIndex,
		LogStream:     str(j.LogStream),
		LogDriver:     str(j.Log.Driver),
		LogGroup:      str(j.LogGroup()),
		LogRegion:     str(j.LogRegion(e.Region)),
		Tags:          kvMap(j.Tags),
		Parameters:    kvMap(j.Parameters),
		Usage:         e.Usage,
	}
	if !e.Time.IsZero() {
		t := e.Time.Format("2006-01-02T15:04:05Z")
		s.Time = &t
	}
	if j.DefinitionRevision > 0 {
		r := j.DefinitionRevision
		s.JobDefinitionRevision = &r
	}
	if j.ArraySize > 0 {
		n := j.ArraySize
		s.ArraySize = &n
	}
	return s
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func positive(v int64) *int64 {
	if v <= 0 {
		return nil
	}
	return &v
}

func nonNegative(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}

func kvMap(kvs []KV) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}
