package batch

// Status is an AWS Batch job status.
type Status string

// The job statuses, in lifecycle order.
const (
	StatusSubmitted Status = "SUBMITTED"
	StatusPending   Status = "PENDING"
	StatusRunnable  Status = "RUNNABLE"
	StatusStarting  Status = "STARTING"
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
)

// Statuses lists every status in lifecycle order, for state sets.
var Statuses = []Status{StatusSubmitted, StatusPending, StatusRunnable, StatusStarting, StatusRunning, StatusSucceeded, StatusFailed}

// Rank orders statuses within one attempt: 0 for unknown, 1 SUBMITTED … 5
// RUNNING, 6 for both terminal states.
func (s Status) Rank() uint8 {
	switch s {
	case StatusSubmitted:
		return 1
	case StatusPending:
		return 2
	case StatusRunnable:
		return 3
	case StatusStarting:
		return 4
	case StatusRunning:
		return 5
	case StatusSucceeded, StatusFailed:
		return 6
	}
	return 0
}

// Terminal reports whether the status is SUCCEEDED or FAILED.
func (s Status) Terminal() bool { return s == StatusSucceeded || s == StatusFailed }

// Active reports whether a job in this status still waits or runs.
func (s Status) Active() bool { r := s.Rank(); return r >= 1 && r <= 5 }

// Version orders observations of one job so that the latest state wins
// regardless of arrival order: first by the number of finished attempts (a
// retried job goes back to RUNNABLE with one more attempt), then by status
// rank, then by the observation time in milliseconds. It is the version
// column of the ReplacingMergeTree tables.
func Version(attempts int, s Status, atMs int64) uint64 {
	if attempts < 0 {
		attempts = 0
	}
	if attempts > 0xFFFF {
		attempts = 0xFFFF
	}
	if atMs < 0 {
		atMs = 0
	}
	const msBits = 44 // epoch ms fit in 44 bits until the year 2527
	if atMs >= 1<<msBits {
		atMs = 1<<msBits - 1
	}
	return uint64(attempts)<<48 | uint64(s.Rank()&0xF)<<msBits | uint64(atMs)
}

// Platform is where a job runs.
type Platform string

// Platforms.
const (
	PlatformEC2     Platform = "EC2"
	PlatformFargate Platform = "FARGATE"
	PlatformEKS     Platform = "EKS"
)
