package batch

import "strings"

// FailureClass is a bounded classification of why a job or an attempt failed,
// safe to use as a metric label.
type FailureClass string

// The failure classes. None is the empty string: the job did not fail.
const (
	FailureNone          FailureClass = ""
	FailureAppError      FailureClass = "app_error"
	FailureOOM           FailureClass = "oom"
	FailureSpotReclaimed FailureClass = "spot_reclaimed"
	FailureImagePull     FailureClass = "image_pull"
	FailureResourceInit  FailureClass = "resource_init"
	FailureTimeout       FailureClass = "timeout"
	FailureDependency    FailureClass = "dependency"
	// FailureStateTimeLimit is a job Batch itself cancelled because it
	// stayed RUNNABLE past its queue's jobStateTimeLimitActions (the
	// capacity or the configuration cannot run it); before this class
	// existed it was counted as cancelled.
	FailureStateTimeLimit FailureClass = "state_time_limit"
	// FailureCancelled and FailureTerminated are jobs a person or a
	// program stopped with CancelJob or TerminateJob.
	FailureCancelled  FailureClass = "cancelled"
	FailureTerminated FailureClass = "terminated"
	FailureOther      FailureClass = "other"
)

// FailureClasses lists every non-empty class, for state sets.
var FailureClasses = []FailureClass{
	FailureAppError, FailureOOM, FailureSpotReclaimed, FailureImagePull, FailureResourceInit,
	FailureTimeout, FailureDependency, FailureStateTimeLimit, FailureCancelled, FailureTerminated, FailureOther,
}

// Actionable reports whether a failure of this class says something is
// wrong with the job, its image or its capacity, as opposed to a job that
// a person or a program cancelled or terminated on purpose (cancelled,
// terminated) or that failed only because a job it depends on failed
// (dependency: the job it waited for is counted already). Failure-spike
// pages count actionable failures only; dashboards show every class.
func (c FailureClass) Actionable() bool {
	switch c {
	case FailureNone, FailureCancelled, FailureTerminated, FailureDependency:
		return false
	}
	return true
}

// reasonPatterns maps texts AWS Batch, ECS and EKS put into statusReason or
// container reason to a class. Checked in order, case-insensitively.
var reasonPatterns = []struct {
	substr string
	class  FailureClass
}{
	{"outofmemoryerror", FailureOOM},
	{"oomkilled", FailureOOM},
	{"out of memory", FailureOOM},
	{"host ec2", FailureSpotReclaimed}, // "Host EC2 (instance i-…) terminated."
	{"spot instance", FailureSpotReclaimed},
	{"cannotpullcontainer", FailureImagePull},
	{"cannotpullimagemanifest", FailureImagePull},
	{"errimagepull", FailureImagePull},
	{"imagepullbackoff", FailureImagePull},
	{"resourceinitializationerror", FailureResourceInit},
	{"cannotcreatevolumeerror", FailureResourceInit},
	{"cannotstartcontainererror", FailureResourceInit},
	{"task failed to start", FailureResourceInit},
	// Docker could not inspect the container: an agent/host problem, not
	// the job's; its text mentions "timed out", which is not a job timeout.
	{"cannotinspectcontainererror", FailureOther},
	{"exceeded timeout", FailureTimeout},
	{"deadlineexceeded", FailureTimeout},
	{"dependent job failed", FailureDependency},
	{"jobstatetimelimit", FailureStateTimeLimit},
	{"cancel", FailureCancelled},
	{"terminated by user", FailureTerminated},
	{"terminate", FailureTerminated},
}

// Classify returns the failure class of a FAILED job or a failed attempt
// from its status reason, container reason and exit code. It returns
// FailureNone when status is not FAILED.
//
// Callers of CancelJob and TerminateJob choose their own reason text; an
// unrecognised reason on a job that never ran is therefore taken as a
// cancellation, and on a job that ran as a termination.
func Classify(status Status, statusReason, containerReason string, exitCode *int, ran bool) FailureClass {
	if status != StatusFailed {
		return FailureNone
	}
	for _, text := range []string{containerReason, statusReason} {
		if c := matchReason(text); c != FailureNone {
			return c
		}
	}
	essential := strings.Contains(strings.ToLower(containerReason+" "+statusReason), "essential container in task exited")
	switch {
	case exitCode != nil && *exitCode != 0:
		return FailureAppError
	case essential:
		return FailureAppError
	case statusReason != "" && !ran:
		return FailureCancelled
	case statusReason != "" && ran:
		return FailureTerminated
	}
	return FailureOther
}

func matchReason(text string) FailureClass {
	if text == "" {
		return FailureNone
	}
	lower := strings.ToLower(text)
	for _, p := range reasonPatterns {
		if strings.Contains(lower, p.substr) {
			return p.class
		}
	}
	return FailureNone
}
