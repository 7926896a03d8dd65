//go:build integration

package ingest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"time"
)

// A realistic event mix for tests, built from AWS's documented event shape
// (detail = JobDetail). Each job knows its expected final state.

type mixEvent struct {
	DetailType string
	Time       time.Time
	Detail     map[string]any
}

// Envelope renders the EventBridge envelope with the given id.
func (e mixEvent) Envelope(id string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": id, "detail-type": e.DetailType, "source": "aws.batch",
		"account": "123456789012", "time": e.Time.UTC().Format("2006-01-02T15:04:05Z"),
		"region": "us-east-1", "resources": []string{e.Detail["jobArn"].(string)}, "detail": e.Detail,
	})
	return b
}

// DetailJSON is the detail as PutEvents takes it.
func (e mixEvent) DetailJSON() string {
	b, _ := json.Marshal(e.Detail)
	return string(b)
}

type mixJob struct {
	ID           string
	Queue        string
	FinalStatus  string
	FailureClass string
	Attempts     int
	Events       []mixEvent
}

type mixBuilder struct {
	rng  *rand.Rand
	t0   time.Time
	jobs []*mixJob
	n    int
}

func newMix(seed int64, t0 time.Time) *mixBuilder {
	return &mixBuilder{rng: rand.New(rand.NewSource(seed)), t0: t0}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// job adds one job; kind is ok, app_error, spot_retry, oom, dependency or
// blocked.
func (b *mixBuilder) job(kind, queue string, extra map[string]any) *mixJob {
	b.n++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012d", b.rng.Uint32(), b.n)
	created := b.t0.Add(time.Duration(b.n) * time.Second)
	j := &mixJob{ID: id, Queue: queue}
	base := func() map[string]any {
		d := map[string]any{
			"jobArn":        "arn:aws:batch:us-east-1:123456789012:job/" + id,
			"jobName":       "build-" + kind,
			"jobId":         id,
			"jobQueue":      "arn:aws:batch:us-east-1:123456789012:job-queue/" + queue,
			"createdAt":     ms(created),
			"jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/model-build:4",
			"parameters":    map[string]any{"accountId": fmt.Sprintf("acct-%03d", b.n%7)},
			"tags":          map[string]any{"product": "models", "tier": "small", "team": "ml-platform"},
			"propagateTags": true,
			"retryStrategy": map[string]any{"attempts": 3, "evaluateOnExit": []any{map[string]any{"onStatusReason": "Host EC2*", "action": "RETRY"}, map[string]any{"onReason": "*", "action": "EXIT"}}},
			"dependsOn":     []any{},
			"attempts":      []any{},
			"container": map[string]any{
				"image":                "123456789012.dkr.ecr.us-east-1.amazonaws.com/model-build:1",
				"resourceRequirements": []any{map[string]any{"type": "VCPU", "value": "2"}, map[string]any{"type": "MEMORY", "value": "4096"}},
			},
			"platformCapabilities": []any{"EC2"},
			"eksAttempts":          []any{},
		}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	at := created
	var attempts []any
	emit := func(status string, mutate func(map[string]any)) {
		at = at.Add(time.Duration(10+b.rng.Intn(50)) * time.Second)
		d := base()
		d["status"] = status
		d["attempts"] = append([]any(nil), attempts...)
		if mutate != nil {
			mutate(d)
		}
		j.Events = append(j.Events, mixEvent{DetailType: "Batch Job State Change", Time: at, Detail: d})
	}
	attempt := func(exit any, reason, statusReason string) (start, stop time.Time) {
		emit("RUNNABLE", nil)
		emit("STARTING", nil)
		start = at.Add(5 * time.Second)
		emit("RUNNING", func(d map[string]any) { d["startedAt"] = ms(start) })
		stop = start.Add(time.Duration(60+b.rng.Intn(600)) * time.Second)
		at = stop
		c := map[string]any{"logStreamName": fmt.Sprintf("model-build/default/%s-%d", id[:8], len(attempts)), "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/ce/" + id[:8]}
		if exit != nil {
			c["exitCode"] = exit
		}
		if reason != "" {
			c["reason"] = reason
		}
		attempts = append(attempts, map[string]any{"container": c, "startedAt": ms(start), "stoppedAt": ms(stop), "statusReason": statusReason})
		return start, stop
	}
	final := func(status, reason string, start, stop time.Time) {
		emit(status, func(d map[string]any) {
			d["statusReason"] = reason
			if !start.IsZero() {
				d["startedAt"], d["stoppedAt"] = ms(start), ms(stop)
			} else {
				d["stoppedAt"] = ms(at)
			}
		})
		j.FinalStatus = status
		j.Attempts = len(attempts)
	}
	switch kind {
	case "ok":
		s, e := attempt(0, "", "Essential container in task exited")
		final("SUCCEEDED", "Essential container in task exited", s, e)
	case "app_error":
		s, e := attempt(1, "", "Essential container in task exited")
		final("FAILED", "Essential container in task exited", s, e)
		j.FailureClass = "app_error"
	case "oom":
		s, e := attempt(137, "OutOfMemoryError: Container killed due to memory usage", "Essential container in task exited")
		final("FAILED", "Essential container in task exited", s, e)
		j.FailureClass = "oom"
	case "spot_retry":
		attempt(nil, "", "Host EC2 (instance i-0a1b2c3d4e5f60718) terminated.")
		s, e := attempt(0, "", "Essential container in task exited")
		final("SUCCEEDED", "Essential container in task exited", s, e)
	case "dependency":
		emit("PENDING", nil)
		final("FAILED", "Dependent Job failed", time.Time{}, time.Time{})
		j.FailureClass = "dependency"
	case "blocked":
		emit("RUNNABLE", nil)
		at = at.Add(10 * time.Minute)
		d := base()
		d["status"] = "RUNNABLE"
		d["statusReason"] = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue."
		j.Events = append(j.Events, mixEvent{DetailType: "Batch Job Queue Blocked", Time: at, Detail: d})
		j.FinalStatus = "RUNNABLE"
	default:
		panic("unknown kind " + kind)
	}
	b.jobs = append(b.jobs, j)
	return j
}

// standard builds n jobs of every kind across three queues.
func (b *mixBuilder) standard(n int) {
	kinds := []string{"ok", "ok", "ok", "app_error", "spot_retry", "oom", "dependency", "blocked"}
	queues := []string{"builds-low", "builds-medium", "builds-high"}
	for i := 0; i < n; i++ {
		b.job(kinds[i%len(kinds)], queues[i%len(queues)], nil)
	}
}

// events returns every event, shuffled (SQS does not keep order).
func (b *mixBuilder) events() []mixEvent {
	var out []mixEvent
	for _, j := range b.jobs {
		out = append(out, j.Events...)
	}
	b.rng.Shuffle(len(out), func(i, k int) { out[i], out[k] = out[k], out[i] })
	return out
}

// arrayJob adds an array parent with the given id and size whose children
// all succeed, and returns the parent.
func (b *mixBuilder) arrayJob(parentID, queue string, size int) *mixJob {
	created := b.t0.Add(time.Duration(b.n+1) * time.Second)
	parent := &mixJob{ID: parentID, Queue: queue, FinalStatus: "SUCCEEDED"}
	detail := func(id, status string, at time.Time, extra map[string]any) map[string]any {
		d := map[string]any{
			"jobArn": "arn:aws:batch:us-east-1:123456789012:job/" + id, "jobName": "nightly-builds", "jobId": id,
			"jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/" + queue, "status": status,
			"createdAt": ms(created), "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/model-build:4",
			"attempts": []any{}, "tags": map[string]any{"product": "models", "tier": "medium"},
			"container": map[string]any{"resourceRequirements": []any{map[string]any{"type": "VCPU", "value": "4"}, map[string]any{"type": "MEMORY", "value": "8192"}}},
		}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	summary := func(succeeded int) map[string]any {
		return map[string]any{"SUCCEEDED": succeeded, "RUNNING": size - succeeded}
	}
	at := created.Add(5 * time.Second)
	parent.Events = append(parent.Events,
		mixEvent{"Batch Job State Change", at, detail(parentID, "PENDING", at, map[string]any{"arrayProperties": map[string]any{"size": size, "statusSummary": summary(0)}})})
	for i := 0; i < size; i++ {
		cid := fmt.Sprintf("%s:%d", parentID, i)
		child := &mixJob{ID: cid, Queue: queue, FinalStatus: "SUCCEEDED", Attempts: 1}
		start, stop := at.Add(time.Minute), at.Add(time.Duration(5+i)*time.Minute)
		ap := map[string]any{"index": i}
		att := []any{map[string]any{"container": map[string]any{"exitCode": 0, "logStreamName": fmt.Sprintf("model-build/default/c%d", i)}, "startedAt": ms(start), "stoppedAt": ms(stop)}}
		child.Events = []mixEvent{
			{"Batch Job State Change", at.Add(10 * time.Second), detail(cid, "RUNNABLE", at, map[string]any{"arrayProperties": ap})},
			{"Batch Job State Change", start, detail(cid, "RUNNING", start, map[string]any{"arrayProperties": ap, "startedAt": ms(start)})},
			{"Batch Job State Change", stop, detail(cid, "SUCCEEDED", stop, map[string]any{"arrayProperties": ap, "startedAt": ms(start), "stoppedAt": ms(stop), "attempts": att})},
		}
		b.jobs = append(b.jobs, child)
	}
	end := at.Add(time.Duration(5+size) * time.Minute)
	parent.Events = append(parent.Events,
		mixEvent{"Batch Job State Change", end, detail(parentID, "SUCCEEDED", end, map[string]any{"arrayProperties": map[string]any{"size": size, "statusSummary": summary(size)}, "stoppedAt": ms(end)})})
	b.jobs = append(b.jobs, parent)
	return parent
}
