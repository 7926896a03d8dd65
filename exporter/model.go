package exporter

import (
	"strconv"
	"strings"

	"github.com/batchwatch/batchwatch/batch"
)

// Job kinds (label kind of batchwatch_jobs_finished_total).
const (
	kindSingle uint8 = iota
	kindArrayParent
	kindArrayChild
	kindMultinode
	numKinds
)

var kindNames = [numKinds]string{"single", "array_parent", "array_child", "multinode"}

// Status indexes of the exporter's arrays, in lifecycle order (active
// ones first: active relies on it). statusIndex and statusName map them to
// Batch statuses explicitly, whatever the order of batch.Statuses.
const (
	stSubmitted uint8 = iota
	stPending
	stRunnable
	stStarting
	stRunning
	stSucceeded
	stFailed
	numStatus
	stNone uint8 = 255
)

func statusIndex(s batch.Status) uint8 {
	switch s {
	case batch.StatusSubmitted:
		return stSubmitted
	case batch.StatusPending:
		return stPending
	case batch.StatusRunnable:
		return stRunnable
	case batch.StatusStarting:
		return stStarting
	case batch.StatusRunning:
		return stRunning
	case batch.StatusSucceeded:
		return stSucceeded
	case batch.StatusFailed:
		return stFailed
	}
	return stNone
}

// statusName is the Batch status of a status index ("" for none).
func statusName(st uint8) batch.Status {
	switch st {
	case stSubmitted:
		return batch.StatusSubmitted
	case stPending:
		return batch.StatusPending
	case stRunnable:
		return batch.StatusRunnable
	case stStarting:
		return batch.StatusStarting
	case stRunning:
		return batch.StatusRunning
	case stSucceeded:
		return batch.StatusSucceeded
	case stFailed:
		return batch.StatusFailed
	}
	return ""
}

func terminal(st uint8) bool { return st == stSucceeded || st == stFailed }
func active(st uint8) bool   { return st < stSucceeded }

// rank is batch.Status.Rank by index.
func rank(st uint8) uint8 { return statusName(st).Rank() }

// Bits of batch.Version: attempts above bit 48, status rank above bit 44,
// milliseconds below.
const versionMsBits = 44

func versionMs(v uint64) int64     { return int64(v & (1<<versionMsBits - 1)) }
func versionAttempts(v uint64) int { return int(v >> 48) }

// jobEntry is what the exporter keeps of one job: about 150 bytes with its
// map slot, so 100,000 jobs take about 15 MB.
type jobEntry struct {
	id string
	// version is batch.Version of the latest observation applied; its low
	// bits are the observation time in epoch ms.
	version uint64
	// createdMs, enteredMs (when it entered its current status, else its
	// creation), stoppedMs: epoch ms, 0 when unknown.
	createdMs int64
	enteredMs int64
	stoppedMs int64
	// touchedMs is the exporter's clock when an event or a listing last
	// changed the entry.
	touchedMs int64
	req       shape
	// seq changes on every move, invalidating heap items that point here.
	seq     uint32
	seenGen uint32
	queue   uint16
	// attemptsCounted is how many finished attempts the counters took.
	attemptsCounted uint16
	status          uint8
	kind            uint8
	unsched         uint8
	hasReq          bool
	waitCounted     bool
	finishCounted   bool
}

// definitionName is the job definition name of an ARN or name:revision.
func definitionName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	} else if strings.HasPrefix(s, "arn:") {
		return s
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		allDigits := i+1 < len(s)
		for _, r := range s[i+1:] {
			if r < '0' || r > '9' {
				allDigits = false
			}
		}
		if allDigits {
			return s[:i]
		}
	}
	return s
}

// lastSegment returns what follows the last '/' of an ARN.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// ecsCluster returns the cluster name of an ECS task or container instance
// ARN in the long format (…:task/<cluster>/<id>), or "".
func ecsCluster(arn string) string {
	_, rest, ok := strings.Cut(arn, ":task/")
	if !ok {
		_, rest, ok = strings.Cut(arn, ":container-instance/")
	}
	if !ok {
		return ""
	}
	cluster, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return cluster
}

// exitCodeClass maps an exit code to a bounded label value.
func exitCodeClass(code *int) string {
	if code == nil {
		return "none"
	}
	switch c := *code; {
	case c == 1, c == 126, c == 127, c == 137, c == 139, c == 143:
		return strconv.Itoa(c)
	case c >= 2 && c <= 125:
		return "2-125"
	}
	return "other"
}

// ExitCodeClasses lists the exit_code_class label values.
var ExitCodeClasses = []string{"none", "1", "2-125", "126", "127", "137", "139", "143", "other"}
