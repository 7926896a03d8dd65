package usage

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Source and DetailType identify the usage event on an EventBridge bus.
const (
	Source     = "batchwatch.usage"
	DetailType = "Batch Job Attempt Usage"
	// SchemaVersion is the version of the detail's fields; readers ignore
	// fields they do not know.
	SchemaVersion = 1
)

// Record is the detail of one usage event: what one attempt of a job used.
// Byte and second figures are plain numbers so that any JSON reader can take
// them; zero means "not measured" only where the field says so.
type Record struct {
	SchemaVersion      int     `json:"schemaVersion"`
	JobID              string  `json:"jobId"`
	JobAttempt         int     `json:"jobAttempt"`
	ArrayIndex         int     `json:"arrayIndex"`
	JobQueue           string  `json:"jobQueue,omitempty"`
	ComputeEnvironment string  `json:"computeEnvironment,omitempty"`
	Source             string  `json:"source"`
	StartedAt          int64   `json:"startedAt"`
	StoppedAt          int64   `json:"stoppedAt"`
	WallSeconds        float64 `json:"wallSeconds"`
	CPUSeconds         float64 `json:"cpuSeconds"`
	CPUMeanVCPUs       float64 `json:"cpuMeanVcpus"`
	CPUP95VCPUs        float64 `json:"cpuP95Vcpus"`
	CPUMaxVCPUs        float64 `json:"cpuMaxVcpus"`
	CPUThrottledSecs   float64 `json:"cpuThrottledSeconds"`
	CPULimitVCPUs      float64 `json:"cpuLimitVcpus"`
	MemoryPeakBytes    uint64  `json:"memoryPeakBytes"`
	MemoryLimitBytes   uint64  `json:"memoryLimitBytes"`
	OOMKilled          bool    `json:"oomKilled"`
	ExitCode           int     `json:"exitCode"`
	Signal             string  `json:"signal,omitempty"`
	Samples            int     `json:"samples"`
	GPUCount           int     `json:"gpuCount"`
	GPUMemoryPeakBytes uint64  `json:"gpuMemoryPeakBytes"`
	GPUUtilMeanPercent float64 `json:"gpuUtilMeanPercent"`
	GPUUtilP95Percent  float64 `json:"gpuUtilP95Percent"`
}

// Identity is who the attempt is, as AWS Batch tells the container through its
// environment.
type Identity struct {
	JobID              string
	JobAttempt         int
	ArrayIndex         int
	JobQueue           string
	ComputeEnvironment string
}

// IdentityFromEnv reads AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT,
// AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JQ_NAME and AWS_BATCH_CE_NAME through
// getenv. A job that is not an array child gets array index -1; outside Batch
// the job id is empty and the attempt 0.
func IdentityFromEnv(getenv func(string) string) (Identity, error) {
	id := Identity{
		JobID:              getenv("AWS_BATCH_JOB_ID"),
		ArrayIndex:         -1,
		JobQueue:           getenv("AWS_BATCH_JQ_NAME"),
		ComputeEnvironment: getenv("AWS_BATCH_CE_NAME"),
	}
	if v := getenv("AWS_BATCH_JOB_ATTEMPT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return id, fmt.Errorf("AWS_BATCH_JOB_ATTEMPT %q: not a non-negative integer", v)
		}
		id.JobAttempt = n
	}
	if v := getenv("AWS_BATCH_JOB_ARRAY_INDEX"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return id, fmt.Errorf("AWS_BATCH_JOB_ARRAY_INDEX %q: not a non-negative integer", v)
		}
		id.ArrayIndex = n
	}
	return id, nil
}

// Envelope is the record as it travels: the fields of an EventBridge event
// that a reader of the stderr line or of the queue needs.
type Envelope struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Time       string `json:"time"`
	Detail     Record `json:"detail"`
}

// LogLine is the one JSON line batchwatch-run writes on stderr: the event as
// EventBridge would deliver it, minus the fields only EventBridge fills in.
func LogLine(r Record) ([]byte, error) {
	b, err := json.Marshal(Envelope{
		Source:     Source,
		DetailType: DetailType,
		Time:       time.UnixMilli(r.StoppedAt).UTC().Format(time.RFC3339),
		Detail:     r,
	})
	if err != nil {
		return nil, fmt.Errorf("encode usage line: %w", err)
	}
	return append(b, '\n'), nil
}
