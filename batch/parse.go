package batch

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// ErrNotBatchEvent is returned for well-formed JSON that is not an AWS Batch
// job event batchwatch handles (another detail-type, no detail, no job id).
var ErrNotBatchEvent = errors.New("not an AWS Batch job event")

// Parser parses events, reusing its buffers between calls. It is not safe
// for concurrent use: give each goroutine its own.
type Parser struct {
	outer, inner fastjson.Parser
	fill         filler
}

// slabSize is the size of a Parser's string arenas, shared by the events it
// returns (see filler.arena).
const slabSize = 16 << 10

// NewParser returns a parser.
func NewParser() *Parser { return &Parser{fill: filler{slab: slabSize}} }

// Parse parses one message body with a fresh parser; see (*Parser).Parse.
func Parse(body []byte) (*Event, error) { return new(Parser).Parse(body) }

// Parse parses one message body: an EventBridge envelope, or an SNS
// notification whose Message holds one. Unknown fields are ignored; fields of
// an unexpected type read as absent. The error names what is wrong and, when
// known, the event id. The returned event keeps body as its Raw, and its
// strings point into body where they appear there as they are: the caller
// must not modify body afterwards.
//
// The strings of an event share memory with each other (body, and a small
// allocation shared with other events from the same Parser for strings
// written with escapes): a string kept long after its event (a map key,
// say) keeps all of that alive; keep a strings.Clone.
func (p *Parser) Parse(body []byte) (*Event, error) {
	return p.parse(&p.outer, body, true)
}

func (p *Parser) parse(fp *fastjson.Parser, body []byte, allowSNS bool) (*Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty message")
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("not a JSON object (starts with %q)", snippet(body, 16))
	}
	v, err := fp.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var w wireEnvelope
	p.fill.start(body)
	p.fill.fillEnvelope(v, &w)
	if w.DetailType == DetailTypeAttemptUsage && p.fill.detailVal != nil {
		w.Usage = p.fill.fillUsage(p.fill.detailVal)
	}
	if w.Type == "Notification" && w.Message != "" && w.Detail == nil {
		if !allowSNS {
			return nil, errors.New("SNS notification nested in an SNS notification")
		}
		// The message id is copied out of this document, which can then
		// go: the event keeps only the message (a copy of its own).
		msgID := strings.Clone(w.MessageID)
		ev, err := p.parse(&p.inner, p.fill.message, false)
		if err != nil {
			return nil, fmt.Errorf("SNS message %s: %w", msgID, err)
		}
		ev.SNSMessageID = msgID
		return ev, nil
	}
	return fromWire(&w, body)
}

// fromWire checks an envelope and normalizes it.
func fromWire(w *wireEnvelope, body []byte) (*Event, error) {
	switch w.DetailType {
	case DetailTypeJobStateChange, DetailTypeJobQueueBlocked:
	case DetailTypeAttemptUsage:
		if w.Source != SourceUsage {
			return nil, fmt.Errorf("event %q: detail-type %q from source %q: %w", w.ID, w.DetailType, w.Source, ErrNotBatchEvent)
		}
	case "":
		return nil, fmt.Errorf("event %q: no detail-type: %w", w.ID, ErrNotBatchEvent)
	default:
		return nil, fmt.Errorf("event %q: detail-type %q: %w", w.ID, w.DetailType, ErrNotBatchEvent)
	}
	if w.Detail == nil {
		return nil, fmt.Errorf("event %q: no detail: %w", w.ID, ErrNotBatchEvent)
	}
	if w.Detail.JobID == "" {
		return nil, fmt.Errorf("event %q: detail has no jobId: %w", w.ID, ErrNotBatchEvent)
	}
	if w.ID == "" {
		return nil, fmt.Errorf("job %s: event has no id", w.Detail.JobID)
	}
	var t time.Time
	if w.Time != "" {
		var err error
		if t, err = parseTime(w.Time); err != nil {
			return nil, fmt.Errorf("event %q: time %q: %w", w.ID, w.Time, err)
		}
	}
	blk := new(eventBlock)
	ev := &blk.ev
	// Field by field: the block is zero already.
	ev.ID = w.ID
	ev.DetailType = w.DetailType
	ev.Source = w.Source
	ev.Account = w.Account
	ev.Region = w.Region
	ev.Time = t
	ev.Raw = body
	// The event gets its own copy: the fastjson reader fills w.Resources
	// in scratch space.
	switch n := len(w.Resources); {
	case n == 1:
		blk.resources[0] = w.Resources[0]
		ev.Resources = blk.resources[:]
	case n > 1:
		ev.Resources = append([]string(nil), w.Resources...)
	case w.Resources != nil:
		ev.Resources = []string{}
	}
	if w.DetailType == DetailTypeAttemptUsage {
		u, err := normalizeUsage(w.Usage)
		if err != nil {
			return nil, fmt.Errorf("event %q: %w", w.ID, err)
		}
		ev.Usage = u
		ev.Job.ID = w.Detail.JobID
		ev.Job.Queue = u.JobQueue
		return ev, nil
	}
	normalize(w.Detail, &ev.Job, &blk.jobBlock)
	return ev, nil
}

// eventBlock is an event allocated together with the small values its
// pointers and slices usually point to.
type eventBlock struct {
	ev        Event
	resources [1]string
	jobBlock
}

// jobBlock holds values a Job points to, so that a typical job takes one
// allocation rather than one per pointer. Whatever does not fit is
// allocated on its own.
type jobBlock struct {
	ints      [3]int
	nints     int
	vcpus     float64
	memoryMiB int64
	gpus      int64
	priority  int64
	attempt   [1]Attempt
	kv        [8]KV
}

// kvs copies tags and parameters out of the reader's scratch space: into b
// when they fit, else into one new slice.
func (b *jobBlock) kvs(tags, params []KV) ([]KV, []KV) {
	nt, np := len(tags), len(params)
	if nt+np == 0 {
		return nil, nil
	}
	var all []KV
	if nt+np <= len(b.kv) {
		all = b.kv[:nt+np]
	} else {
		all = make([]KV, nt+np)
	}
	copy(all, tags)
	copy(all[nt:], params)
	var t, p []KV
	if nt > 0 {
		t = all[:nt:nt]
	}
	if np > 0 {
		p = all[nt : nt+np : nt+np]
	}
	return t, p
}

// intPtr returns a pointer to a copy of n.
func (b *jobBlock) intPtr(n int) *int {
	if b.nints < len(b.ints) {
		p := &b.ints[b.nints]
		b.nints++
		*p = n
		return p
	}
	p := new(int)
	*p = n
	return p
}

// parseTime parses an RFC 3339 time into UTC. EventBridge always writes
// "2006-01-02T15:04:05Z"; that shape is read directly when every field is in
// range (days up to 28, so no month-length check is needed), anything else
// goes to time.Parse, which also produces the errors.
func parseTime(s string) (time.Time, error) {
	if len(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z' {
		year, ok1 := digits(s[0:4])
		month, ok2 := digits(s[5:7])
		day, ok3 := digits(s[8:10])
		hour, ok4 := digits(s[11:13])
		minute, ok5 := digits(s[14:16])
		sec, ok6 := digits(s[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 &&
			month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour <= 23 && minute <= 59 && sec <= 59 {
			// Days since 1970-01-01 of a proleptic Gregorian date
			// (H. Hinnant's days_from_civil), as time.Date would count.
			y := year
			if month <= 2 {
				y--
			}
			era := y / 400
			if y < 0 {
				era = (y - 399) / 400
			}
			yoe := y - era*400
			mp := (month + 9) % 12 // March = 0
			doy := (153*mp+2)/5 + day - 1
			days := era*146097 + yoe*365 + yoe/4 - yoe/100 + doy - 719468
			return time.Unix(int64(days)*86400+int64(hour*3600+minute*60+sec), 0).UTC(), nil
		}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// digits reads a run of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int(c)
	}
	return n, true
}

// ParseJobDetail normalizes a JobDetail as DescribeJobs returns it (JSON).
func ParseJobDetail(detail []byte) (Job, error) {
	var fp fastjson.Parser
	v, err := fp.ParseBytes(detail)
	if err != nil {
		return Job{}, fmt.Errorf("job detail: invalid JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return Job{}, errors.New("job detail is not a JSON object")
	}
	var d wireDetail
	var fl filler
	fl.reset(len(detail))
	fl.fillDetail(v, &d)
	if d.JobID == "" {
		return Job{}, errors.New("job detail has no jobId")
	}
	var j Job
	normalize(&d, &j, new(jobBlock))
	return j, nil
}

func snippet(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// normalize sets the zero *j from d, copying out everything it keeps: with
// the fastjson reader, d and what it points to are scratch space reused by
// the next event. Pointers in j point into b where there is room.
func normalize(d *wireDetail, j *Job, b *jobBlock) {
	j.ID = d.JobID
	j.Name = d.JobName
	j.ARN = d.JobArn
	j.QueueARN = d.JobQueue
	j.Queue = lastSegment(d.JobQueue)
	j.Status = Status(strings.ToUpper(d.Status))
	j.StatusReason = d.StatusReason
	j.DefinitionARN = d.JobDefinition
	j.CreatedAtMs = d.CreatedAt
	j.StartedAtMs = d.StartedAt
	j.StoppedAtMs = d.StoppedAt
	j.ShareIdentifier = d.ShareIdentifier
	j.PropagateTags = d.PropagateTags
	if d.SchedulingPriority != nil {
		b.priority = *d.SchedulingPriority
		j.SchedulingPriority = &b.priority
	}
	j.Definition, j.DefinitionRevision = splitDefinition(d.JobDefinition)
	if d.RetryStrategy != nil {
		j.RetryAttempts = d.RetryStrategy.Attempts
	}
	if d.Timeout != nil {
		j.TimeoutSeconds = d.Timeout.AttemptDurationSeconds
	}
	for _, dep := range d.DependsOn {
		if dep.JobID != "" {
			j.DependsOn = append(j.DependsOn, dep.JobID)
		}
	}
	j.Tags, j.Parameters = b.kvs(d.tagKVs, d.paramKVs)
	if d.Tags != nil {
		j.Tags = sortedKVs(d.Tags)
	}
	if d.Parameters != nil {
		j.Parameters = sortedKVs(d.Parameters)
	}

	// Platform.
	j.Platform = platformOf(d)

	// Array and node linkage.
	linkage(d, j, b)

	// Resources and container.
	resources(d, j, b)
	j.Log = logConfig(d)

	// Attempts.
	attemptFields(d, j, b)

	// Failure class from the last attempt, then the job.
	classifyFailure(d, j)
}

// platformOf tells EKS, Fargate and EC2 jobs apart.
func platformOf(d *wireDetail) Platform {
	switch {
	case d.EksProperties != nil || len(d.EksAttempts) > 0:
		return PlatformEKS
	case containsFold(d.PlatformCapabilities, "FARGATE"):
		return PlatformFargate
	default:
		return PlatformEC2
	}
}

// linkage sets the array parent, index and size and the multi-node
// parent, index and node count.
func linkage(d *wireDetail, j *Job, b *jobBlock) {
	if ap := d.ArrayProperties; ap != nil {
		if ap.Index != nil {
			j.ArrayIndex = b.intPtr(*ap.Index)
			if i := strings.LastIndexByte(d.JobID, ':'); i > 0 {
				j.ArrayParentID = d.JobID[:i]
			}
		} else if ap.Size > 0 {
			j.ArraySize = ap.Size
		}
		if len(ap.StatusSummary) > 0 {
			j.StatusSummary = ap.StatusSummary
		}
	}
	if j.ArrayIndex == nil {
		// Children are "<parent>:<index>" even when arrayProperties is absent.
		if i := strings.LastIndexByte(d.JobID, ':'); i > 0 {
			if idx, err := strconv.Atoi(d.JobID[i+1:]); err == nil && idx >= 0 {
				j.ArrayParentID = d.JobID[:i]
				j.ArrayIndex = b.intPtr(idx)
				j.ArraySize = 0
			}
		}
	}
	if i := strings.LastIndexByte(d.JobID, '#'); i > 0 {
		j.NodeParentID = d.JobID[:i]
		if idx, err := strconv.Atoi(d.JobID[i+1:]); err == nil {
			j.NodeIndex = b.intPtr(idx)
		}
	}
	if d.NodeDetails != nil && d.NodeDetails.NodeIndex != nil && j.NodeIndex == nil {
		j.NodeIndex = b.intPtr(*d.NodeDetails.NodeIndex)
	}
	if d.NodeProperties != nil {
		j.NumNodes = d.NodeProperties.NumNodes
	}
}

// attemptFields sets the attempts and the job's exit code and log stream:
// the last attempt's, else the container's or the first ECS container's.
func attemptFields(d *wireDetail, j *Job, b *jobBlock) {
	j.Attempts = attempts(d, b)
	if n := len(j.Attempts); n > 0 {
		last := j.Attempts[n-1]
		j.ExitCode = last.ExitCode
		j.LogStream = last.LogStream
	}
	if c := d.Container; c != nil {
		if j.ExitCode == nil && c.ExitCode != nil {
			j.ExitCode = b.intPtr(*c.ExitCode)
		}
		if j.LogStream == "" {
			j.LogStream = c.LogStreamName
		}
	}
	if j.ExitCode == nil && d.EcsProperties != nil {
		j.ExitCode = ecsExitCode(d.EcsProperties)
	}
	if j.LogStream == "" && d.EcsProperties != nil {
		for _, tp := range d.EcsProperties.TaskProperties {
			for _, c := range tp.Containers {
				if c.LogStreamName != "" && j.LogStream == "" {
					j.LogStream = c.LogStreamName
				}
			}
		}
	}
}

// classifyFailure sets the failure class of a FAILED job from the last
// attempt's reasons, then the job's.
func classifyFailure(d *wireDetail, j *Job) {
	var containerReason, attemptReason string
	if n := len(j.Attempts); n > 0 {
		containerReason = j.Attempts[n-1].Reason
		attemptReason = j.Attempts[n-1].StatusReason
	}
	if containerReason == "" && d.Container != nil {
		containerReason = d.Container.Reason
	}
	// Classify says FailureNone for any other status: skip building its
	// reason (matchReason lowercases, which allocates).
	if j.Status == StatusFailed {
		reason := j.StatusReason
		if attemptReason != "" && matchReason(reason) == FailureNone {
			reason = attemptReason + " " + reason
		}
		j.FailureClass = Classify(j.Status, reason, containerReason, j.ExitCode, len(j.Attempts) > 0 || j.StartedAtMs > 0)
	}
}

// logConfig reads the job's log configuration: the container's, else that
// of the first container of ecsProperties that has one. EKS jobs have none.
func logConfig(d *wireDetail) LogConfig {
	lc := (*wireLogConfiguration)(nil)
	if d.Container != nil {
		lc = d.Container.LogConfiguration
	}
	if lc == nil && d.EcsProperties != nil {
		for _, tp := range d.EcsProperties.TaskProperties {
			for _, c := range tp.Containers {
				if lc == nil {
					lc = c.LogConfiguration
				}
			}
		}
	}
	if lc == nil {
		return LogConfig{}
	}
	return LogConfig{Driver: lc.LogDriver, Group: lc.Options.Group, Region: lc.Options.Region, StreamPrefix: lc.Options.StreamPrefix}
}

// newAttempts returns an empty slice with room for n attempts.
func (b *jobBlock) newAttempts(n int) []Attempt {
	if n <= len(b.attempt) {
		return b.attempt[:0:n]
	}
	return make([]Attempt, 0, n)
}

func attempts(d *wireDetail, b *jobBlock) []Attempt {
	if len(d.EksAttempts) > 0 {
		out := b.newAttempts(len(d.EksAttempts))
		for i, a := range d.EksAttempts {
			at := Attempt{Index: i, StartedAtMs: a.StartedAt, StoppedAtMs: a.StoppedAt, StatusReason: a.StatusReason}
			for _, c := range a.Containers {
				if c.ExitCode != nil && (at.ExitCode == nil || *c.ExitCode != 0) {
					at.ExitCode = b.intPtr(*c.ExitCode)
				}
				if c.Reason != "" && at.Reason == "" {
					at.Reason = c.Reason
				}
			}
			at.TaskARN = a.PodName
			at.ContainerInstanceARN = a.NodeName
			at.FailureClass = attemptClass(at)
			out = append(out, at)
		}
		return out
	}
	if len(d.Attempts) == 0 {
		return nil
	}
	out := b.newAttempts(len(d.Attempts))
	for i, a := range d.Attempts {
		at := Attempt{Index: i, StartedAtMs: a.StartedAt, StoppedAtMs: a.StoppedAt, StatusReason: a.StatusReason}
		if c := a.Container; c != nil {
			if c.ExitCode != nil {
				at.ExitCode = b.intPtr(*c.ExitCode)
			}
			at.Reason = c.Reason
			at.LogStream = c.LogStreamName
			at.TaskARN = c.TaskArn
			at.ContainerInstanceARN = c.ContainerInstanceArn
		}
		for _, tp := range a.TaskProperties {
			if at.TaskARN == "" {
				at.TaskARN = tp.TaskArn
			}
			if at.ContainerInstanceARN == "" {
				at.ContainerInstanceARN = tp.ContainerInstanceArn
			}
			for _, c := range tp.Containers {
				if c.ExitCode != nil && (at.ExitCode == nil || *c.ExitCode != 0) {
					at.ExitCode = b.intPtr(*c.ExitCode)
				}
				if at.Reason == "" {
					at.Reason = c.Reason
				}
				if at.LogStream == "" {
					at.LogStream = c.LogStreamName
				}
			}
		}
		at.FailureClass = attemptClass(at)
		out = append(out, at)
	}
	return out
}

// attemptClass classifies a finished attempt: failed when it has a non-zero
// exit code or a failure reason and no zero exit code.
func attemptClass(a Attempt) FailureClass {
	if a.ExitCode != nil && *a.ExitCode == 0 {
		return FailureNone
	}
	if a.ExitCode == nil && a.Reason == "" && a.StatusReason == "" {
		return FailureNone
	}
	return Classify(StatusFailed, a.StatusReason, a.Reason, a.ExitCode, true)
}

func ecsExitCode(p *wireEcsProps) *int {
	var out *int
	for _, tp := range p.TaskProperties {
		for _, c := range tp.Containers {
			if c.ExitCode != nil && (out == nil || *c.ExitCode != 0) {
				ec := *c.ExitCode
				out = &ec
			}
		}
	}
	return out
}

func resources(d *wireDetail, j *Job, b *jobBlock) {
	var r resourceSum
	switch {
	case d.Container != nil:
		c := d.Container
		j.Image = c.Image
		j.InstanceType = c.InstanceType
		r.add(c.ResourceRequirements)
		if !r.haveV && c.Vcpus > 0 {
			r.vcpus, r.haveV = c.Vcpus, true
		}
		if !r.haveM && c.Memory > 0 {
			r.mem, r.haveM = c.Memory, true
		}
	case d.EcsProperties != nil:
		for _, tp := range d.EcsProperties.TaskProperties {
			for _, c := range tp.Containers {
				if j.Image == "" {
					j.Image = c.Image
				}
				r.add(c.ResourceRequirements)
			}
		}
	case d.EksProperties != nil && d.EksProperties.PodProperties != nil:
		for _, c := range d.EksProperties.PodProperties.Containers {
			if j.Image == "" {
				j.Image = c.Image
			}
			r.addEks(c.Resources)
		}
	}
	if r.haveV {
		b.vcpus = r.vcpus
		j.VCPUs = &b.vcpus
	}
	if r.haveM {
		b.memoryMiB = int64(math.Round(r.mem))
		j.MemoryMiB = &b.memoryMiB
	}
	if r.haveG {
		b.gpus = int64(math.Round(r.gpus))
		j.GPUs = &b.gpus
	}
}

// resourceSum adds up a job's vCPUs, memory (MiB) and GPUs over its
// containers, remembering which of them any container gave.
type resourceSum struct {
	vcpus, mem, gpus    float64
	haveV, haveM, haveG bool
}

// add adds ECS resourceRequirements (VCPU, MEMORY, GPU).
func (r *resourceSum) add(reqs []wireResourceRequirement) {
	for _, rr := range reqs {
		v, ok := quantity(strings.TrimSpace(rr.Value))
		if !ok {
			continue
		}
		switch strings.ToUpper(rr.Type) {
		case "VCPU":
			r.vcpus += v
			r.haveV = true
		case "MEMORY":
			r.mem += v
			r.haveM = true
		case "GPU":
			r.gpus += v
			r.haveG = true
		}
	}
}

// addEks adds an EKS container's limits, else its requests (Kubernetes
// quantities: cpu in cores, memory converted to MiB).
func (r *resourceSum) addEks(c *wireEksResources) {
	if c == nil {
		return
	}
	res := c.Limits
	if len(res) == 0 {
		res = c.Requests
	}
	if v, ok := cpuQuantity(res["cpu"]); ok {
		r.vcpus += v
		r.haveV = true
	}
	if v, ok := memoryQuantityMiB(res["memory"]); ok {
		r.mem += v
		r.haveM = true
	}
	if v, ok := cpuQuantity(res["nvidia.com/gpu"]); ok {
		r.gpus += v
		r.haveG = true
	}
}

// quantity parses a non-negative finite number. Plain integers, what Batch
// writes, are read directly; they are exact in a float64 up to 15 digits,
// as ParseFloat would give them.
func quantity(s string) (float64, bool) {
	if n, ok := digits(s); ok && len(s) > 0 && len(s) <= 15 {
		return float64(n), true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// cpuQuantity parses a Kubernetes CPU quantity ("2", "500m", "0.5").
func cpuQuantity(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	scale := 1.0
	if strings.HasSuffix(s, "m") {
		s, scale = s[:len(s)-1], 0.001
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v * scale, true
}

// memoryQuantityMiB parses a Kubernetes memory quantity ("1024Mi", "2Gi",
// "1G", "1000000") into MiB.
func memoryQuantityMiB(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	units := []struct {
		suffix string
		bytes  float64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = s[:len(s)-len(u.suffix)], u.bytes
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v * mult / (1 << 20), true
}

// lastSegment returns what follows the last '/' of an ARN, or s itself.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// splitDefinition splits "arn:…:job-definition/name:3" or "name:3" into
// name and revision (0 when absent).
func splitDefinition(s string) (string, int) {
	name := lastSegment(s)
	if strings.HasPrefix(s, "arn:") && !strings.Contains(s, "/") {
		return s, 0
	}
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		if rev, err := strconv.Atoi(name[i+1:]); err == nil && rev > 0 {
			return name[:i], rev
		}
	}
	return name, 0
}

func sortedKVs(m map[string]string) []KV {
	if len(m) == 0 {
		return nil
	}
	out := make([]KV, 0, len(m))
	for k, v := range m {
		out = append(out, KV{Key: k, Value: v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
