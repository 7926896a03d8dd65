package sim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// apiError is an AWS error response.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func clientErr(msg string) error {
	return &apiError{status: http.StatusBadRequest, code: "ClientException", msg: msg}
}

func newRequestID() string { return uuid.NewString() }

type batchOp struct {
	name   string
	method string
	fn     func(s *Sim, body []byte, r *http.Request) (any, error)
}

// batchOpFor maps a REST path of the Batch API (service model
// batch/2016-08-10) to the simulator's handler.
func batchOpFor(method, path string) (batchOp, bool) {
	if strings.HasPrefix(path, "/v1/tags/") {
		switch method {
		case http.MethodPost:
			return batchOp{"TagResource", method, (*Sim).apiTagResource}, true
		case http.MethodGet:
			return batchOp{"ListTagsForResource", method, (*Sim).apiListTagsForResource}, true
		case http.MethodDelete:
			return batchOp{"UntagResource", method, (*Sim).apiUntagResource}, true
		}
		return batchOp{}, false
	}
	var op batchOp
	switch path {
	case "/v1/submitjob":
		op = batchOp{"SubmitJob", http.MethodPost, (*Sim).apiSubmitJob}
	case "/v1/describejobs":
		op = batchOp{"DescribeJobs", http.MethodPost, (*Sim).apiDescribeJobs}
	case "/v1/listjobs":
		op = batchOp{"ListJobs", http.MethodPost, (*Sim).apiListJobs}
	case "/v1/terminatejob":
		op = batchOp{"TerminateJob", http.MethodPost, (*Sim).apiTerminateJob}
	case "/v1/canceljob":
		op = batchOp{"CancelJob", http.MethodPost, (*Sim).apiCancelJob}
	case "/v1/describejobqueues":
		op = batchOp{"DescribeJobQueues", http.MethodPost, (*Sim).apiDescribeJobQueues}
	case "/v1/describecomputeenvironments":
		op = batchOp{"DescribeComputeEnvironments", http.MethodPost, (*Sim).apiDescribeComputeEnvironments}
	case "/v1/createcomputeenvironment":
		op = batchOp{"CreateComputeEnvironment", http.MethodPost, (*Sim).apiCreateComputeEnvironment}
	case "/v1/updatecomputeenvironment":
		op = batchOp{"UpdateComputeEnvironment", http.MethodPost, (*Sim).apiUpdateComputeEnvironment}
	case "/v1/deletecomputeenvironment":
		op = batchOp{"DeleteComputeEnvironment", http.MethodPost, (*Sim).apiDeleteComputeEnvironment}
	case "/v1/createjobqueue":
		op = batchOp{"CreateJobQueue", http.MethodPost, (*Sim).apiCreateJobQueue}
	case "/v1/updatejobqueue":
		op = batchOp{"UpdateJobQueue", http.MethodPost, (*Sim).apiUpdateJobQueue}
	case "/v1/deletejobqueue":
		op = batchOp{"DeleteJobQueue", http.MethodPost, (*Sim).apiDeleteJobQueue}
	case "/v1/registerjobdefinition":
		op = batchOp{"RegisterJobDefinition", http.MethodPost, (*Sim).apiRegisterJobDefinition}
	case "/v1/describejobdefinitions":
		op = batchOp{"DescribeJobDefinitions", http.MethodPost, (*Sim).apiDescribeJobDefinitions}
	case "/v1/deregisterjobdefinition":
		op = batchOp{"DeregisterJobDefinition", http.MethodPost, (*Sim).apiDeregisterJobDefinition}
	default:
		return batchOp{}, false
	}
	return op, method == op.method
}

// serveBatch answers the Batch REST-JSON API. All calls share one token
// bucket (AWS: about 50 calls per second per account and region); above
// it, calls get HTTP 429 TooManyRequestsException, which the SDKs retry as
// a throttle.
func (s *Sim) serveBatch(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newRequestID())
	op, ok := batchOpFor(r.Method, r.URL.Path)
	if !ok {
		writeBatchError(w, &apiError{status: http.StatusNotFound, code: "UnknownOperationException",
			msg: fmt.Sprintf("%s %s is not an operation of the AWS Batch API the simulator implements", r.Method, r.URL.Path)})
		return
	}
	s.metrics.apiCalls.WithLabelValues(op.name).Inc()
	if s.limiter != nil && !s.limiter.Allow() {
		s.metrics.apiThrottled.WithLabelValues(op.name).Inc()
		writeBatchError(w, &apiError{status: http.StatusTooManyRequests, code: "TooManyRequestsException", msg: "Too Many Requests"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeBatchError(w, &apiError{status: http.StatusBadRequest, code: "ClientException", msg: "cannot read the request body"})
		return
	}
	out, err := op.fn(s, body, r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, code: "ServerException", msg: err.Error()}
		}
		s.metrics.apiErrors.WithLabelValues(op.name).Inc()
		writeBatchError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		s.log.WithError(err).WithField("operation", op.name).Debug("write response failed")
	}
}

func writeBatchError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.msg})
}

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return clientErr("Cannot parse the request body: " + err.Error())
	}
	return nil
}

func (s *Sim) queueByRef(ref string) *queue { return s.queues[nameFromArn(ref)] }

func (s *Sim) apiSubmitJob(body []byte, _ *http.Request) (any, error) {
	if len(body) > 30*1024 {
		return nil, clientErr("Job submission payload exceeds the limit of 30 KiB")
	}
	var in submitJobInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.JobName == "" || in.JobQueue == "" || in.JobDefinition == "" {
		return nil, clientErr("jobName, jobQueue and jobDefinition are required")
	}
	if !nameRE.MatchString(in.JobName) {
		return nil, clientErr("Job name must start with a letter or number and contain up to 128 letters, numbers, hyphens and underscores")
	}
	if in.NodeOverrides != nil || in.EksPropertiesOverride != nil || in.EcsPropertiesOverride != nil {
		return nil, clientErr("nodeOverrides, eksPropertiesOverride and ecsPropertiesOverride are not supported by the simulator")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	q := s.queueByRef(in.JobQueue)
	if q == nil {
		return nil, clientErr(fmt.Sprintf("JobQueue %s not found.", in.JobQueue))
	}
	if q.state != "ENABLED" {
		return nil, clientErr(fmt.Sprintf("JobQueue %s is not in ENABLED state.", in.JobQueue))
	}
	def := s.defByRef(in.JobDefinition)
	if def == nil {
		return nil, clientErr(fmt.Sprintf("JobDefinition name %s does not exist or is not in ACTIVE status", in.JobDefinition))
	}
	r := submitReq{
		name: in.JobName, q: q, def: def, deps: in.DependsOn, tags: in.Tags,
		vcpus: def.vcpus, memMiB: def.memMiB, gpus: def.gpus, retry: def.retry,
		propagateTags: in.PropagateTags, timeout: def.timeout, schedPrio: def.detail.SchedulingPriority,
		shareID: in.ShareIdentifier,
	}
	if in.ArrayProperties != nil && in.ArrayProperties.Size != 0 {
		if in.ArrayProperties.Size < 2 || in.ArrayProperties.Size > 10000 {
			return nil, clientErr("arrayProperties.size must be between 2 and 10000")
		}
		r.arraySize = int(in.ArrayProperties.Size)
	}
	if len(in.DependsOn) > 20 {
		return nil, clientErr("A job can depend on at most 20 jobs")
	}
	if len(in.Tags) > 50 {
		return nil, clientErr("A job can have at most 50 tags")
	}
	r.params = copyMap(def.detail.Parameters)
	if r.params == nil {
		r.params = map[string]string{}
	}
	for k, v := range in.Parameters {
		r.params[k] = v
	}
	if o := in.ContainerOverrides; o != nil {
		v, m, g, err := resources(o.Vcpus, o.Memory, o.ResourceRequirements)
		if err != nil {
			return nil, err
		}
		if v > 0 {
			r.vcpus = v
		}
		if m > 0 {
			r.memMiB = m
		}
		for _, rr := range o.ResourceRequirements {
			if rr.Type == "GPU" {
				r.gpus = g
			}
		}
		r.command = o.Command
		r.env = o.Environment
	}
	if in.RetryStrategy != nil {
		if err := validRetry(in.RetryStrategy); err != nil {
			return nil, err
		}
		rs := *in.RetryStrategy
		if rs.EvaluateOnExit == nil {
			rs.EvaluateOnExit = []evaluateOnExit{}
		}
		r.retry = &rs
	}
	if in.Timeout != nil {
		if in.Timeout.AttemptDurationSeconds > 0 && in.Timeout.AttemptDurationSeconds < 60 {
			return nil, clientErr("timeout.attemptDurationSeconds must be at least 60")
		}
		r.timeout = in.Timeout.AttemptDurationSeconds
	}
	if in.SchedulingPriorityOverride != nil {
		r.schedPrio = in.SchedulingPriorityOverride
	}
	if q.schedulingPolicyArn != "" && r.shareID == "" {
		return nil, clientErr(fmt.Sprintf("JobQueue %s has a fair share scheduling policy: shareIdentifier must be specified", in.JobQueue))
	}
	j, err := s.submit(r)
	if err != nil {
		return nil, err
	}
	return map[string]string{"jobArn": j.arn, "jobName": j.name, "jobId": j.id}, nil
}

func (s *Sim) apiDescribeJobs(body []byte, _ *http.Request) (any, error) {
	var in struct {
		Jobs []string `json:"jobs"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Jobs) > 100 {
		return nil, clientErr("1 validation error detected: Value at 'jobs' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*jobDetail, 0, len(in.Jobs))
	for _, id := range in.Jobs {
		if j := s.jobs[nameFromArn(id)]; j != nil {
			out = append(out, s.detail(j))
		}
	}
	return map[string]any{"jobs": out}, nil
}

type listJobsInput struct {
	JobQueue       string         `json:"jobQueue"`
	ArrayJobID     string         `json:"arrayJobId"`
	MultiNodeJobID string         `json:"multiNodeJobId"`
	JobStatus      string         `json:"jobStatus"`
	MaxResults     int            `json:"maxResults"`
	NextToken      string         `json:"nextToken"`
	Filters        []keyValuesArg `json:"filters"`
}

type keyValuesArg struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// apiListJobs pages like AWS: newest first, up to 1000 per page by status
// and 100 with a filter (fewer with maxResults), with an opaque nextToken
// that stays valid while jobs change status.
func (s *Sim) apiListJobs(body []byte, _ *http.Request) (any, error) {
	var in listJobsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	n := 0
	for _, v := range []string{in.JobQueue, in.ArrayJobID, in.MultiNodeJobID} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return nil, clientErr("Exactly one of jobQueue, arrayJobId and multiNodeJobId must be specified")
	}
	if in.MultiNodeJobID != "" {
		return map[string]any{"jobSummaryList": []jobSummary{}}, nil
	}
	if len(in.Filters) > 1 {
		return nil, clientErr("Only one filter can be used at a time")
	}
	var st status
	useStatus := true
	shareFilter := false
	var match func(*job) bool
	if len(in.Filters) == 1 {
		f := in.Filters[0]
		var err error
		match, err = listFilter(f)
		if err != nil {
			return nil, err
		}
		shareFilter = f.Name == "SHARE_IDENTIFIER"
		useStatus = shareFilter && in.JobStatus != ""
	}
	if useStatus {
		name := in.JobStatus
		if name == "" {
			name = "RUNNING"
		}
		var ok bool
		if st, ok = parseStatus(name); !ok {
			return nil, clientErr("jobStatus must be one of SUBMITTED | PENDING | RUNNABLE | STARTING | RUNNING | SUCCEEDED | FAILED")
		}
	}
	limit := 1000
	if len(in.Filters) > 0 {
		limit = 100
	}
	if in.MaxResults > 0 && in.MaxResults < limit {
		limit = in.MaxResults
	}
	var cursor uint64
	if in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		c, perr := strconv.ParseUint(string(raw), 10, 64)
		if err != nil || perr != nil {
			return nil, clientErr("Invalid nextToken")
		}
		cursor = c
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	keep := func(j *job) bool {
		if useStatus && j.status != st {
			return false
		}
		return match == nil || match(j)
	}
	out := []jobSummary{}
	var last uint64
	more := false
	if in.ArrayJobID != "" {
		parent := s.jobs[nameFromArn(in.ArrayJobID)]
		if parent == nil || parent.size == 0 {
			return nil, clientErr(fmt.Sprintf("Array job %s not found.", in.ArrayJobID))
		}
		// Children in index order.
		start := sort.Search(len(parent.children), func(i int) bool { return parent.children[i].seq > cursor })
		for _, c := range parent.children[start:] {
			if !keep(c) {
				continue
			}
			if len(out) == limit {
				more = true
				break
			}
			out = append(out, s.summary(c))
			last = c.seq
		}
	} else {
		q := s.queueByRef(in.JobQueue)
		if q == nil {
			return nil, clientErr(fmt.Sprintf("JobQueue %s not found.", in.JobQueue))
		}
		// Newest first.
		end := len(q.jobs)
		if cursor > 0 {
			end = sort.Search(len(q.jobs), func(i int) bool { return q.jobs[i].seq >= cursor })
		}
		for i := end - 1; i >= 0; i-- {
			j := q.jobs[i]
			if !keep(j) {
				continue
			}
			if len(out) == limit {
				more = true
				break
			}
			out = append(out, s.summary(j))
			last = j.seq
		}
	}
	resp := map[string]any{"jobSummaryList": out}
	if more {
		resp["nextToken"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(last, 10)))
	}
	return resp, nil
}

func listFilter(f keyValuesArg) (func(*job) bool, error) {
	if len(f.Values) == 0 {
		return nil, clientErr("A filter must have at least one value")
	}
	v := f.Values[0]
	switch f.Name {
	case "JOB_NAME":
		want := strings.ToLower(v)
		if p, ok := strings.CutSuffix(want, "*"); ok {
			return func(j *job) bool { return strings.HasPrefix(strings.ToLower(j.name), p) }, nil
		}
		return func(j *job) bool { return strings.ToLower(j.name) == want }, nil
	case "JOB_DEFINITION":
		if strings.HasPrefix(v, "arn:") {
			return func(j *job) bool { return j.def.arn == v }, nil
		}
		if p, ok := strings.CutSuffix(v, "*"); ok {
			return func(j *job) bool { return strings.HasPrefix(j.def.name, p) }, nil
		}
		if name, rev, ok := strings.Cut(v, ":"); ok {
			return func(j *job) bool { return j.def.name == name && strconv.Itoa(j.def.revision) == rev }, nil
		}
		return func(j *job) bool { return j.def.name == v }, nil
	case "BEFORE_CREATED_AT", "AFTER_CREATED_AT":
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, clientErr(fmt.Sprintf("%s must be epoch milliseconds", f.Name))
		}
		if f.Name == "BEFORE_CREATED_AT" {
			return func(j *job) bool { return j.createdAt < t }, nil
		}
		return func(j *job) bool { return j.createdAt > t }, nil
	case "SHARE_IDENTIFIER":
		return func(j *job) bool { return j.shareID == v }, nil
	}
	return nil, clientErr("filter name must be one of JOB_NAME | JOB_DEFINITION | BEFORE_CREATED_AT | AFTER_CREATED_AT | SHARE_IDENTIFIER")
}

func (s *Sim) summary(j *job) jobSummary {
	sum := jobSummary{
		JobArn: j.arn, JobID: j.id, JobName: j.name, CreatedAt: j.createdAt, Status: j.status.String(),
		StatusReason: j.statusReason, StartedAt: j.startedAt, StoppedAt: j.stoppedAt, JobDefinition: j.def.arn,
	}
	switch {
	case j.size > 0:
		sum.ArrayProperties = &arrayPropertiesSummary{Size: int32(j.size)}
	case j.parent != nil:
		sum.ArrayProperties = &arrayPropertiesSummary{Index: ptr(int32(j.index))}
	}
	if j.status.terminal() && len(j.attempts) > 0 {
		a := j.attempts[len(j.attempts)-1]
		sum.Container = &containerSummary{ExitCode: a.exitCode, Reason: a.reason}
	}
	return sum
}

func (s *Sim) apiTerminateJob(body []byte, _ *http.Request) (any, error) {
	return s.stopJob(body, true)
}

func (s *Sim) apiCancelJob(body []byte, _ *http.Request) (any, error) {
	return s.stopJob(body, false)
}

func (s *Sim) stopJob(body []byte, terminate bool) (any, error) {
	var in struct {
		JobID  string `json:"jobId"`
		Reason string `json:"reason"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.JobID == "" || in.Reason == "" {
		return nil, clientErr("jobId and reason are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	if j := s.jobs[nameFromArn(in.JobID)]; j != nil {
		s.cancel(j, in.Reason, terminate)
		s.schedule(event{at: s.cur, kind: evDispatch})
		s.wakeUp()
	}
	return struct{}{}, nil
}

// pageNames pages a sorted list of names by maxResults/nextToken.
func pageNames(names []string, maxResults int, token string, limit int) ([]string, string, error) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, perr := strconv.Atoi(string(raw))
		if err != nil || perr != nil || n < 0 || n > len(names) {
			return nil, "", clientErr("Invalid nextToken")
		}
		start = n
	}
	if maxResults <= 0 || maxResults > limit {
		maxResults = limit
	}
	end := min(len(names), start+maxResults)
	next := ""
	if end < len(names) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return names[start:end], next, nil
}

func (s *Sim) apiDescribeJobQueues(body []byte, _ *http.Request) (any, error) {
	var in struct {
		JobQueues  []string `json:"jobQueues"`
		MaxResults int      `json:"maxResults"`
		NextToken  string   `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	if len(in.JobQueues) > 0 {
		for _, ref := range in.JobQueues {
			if q := s.queueByRef(ref); q != nil {
				names = append(names, q.name)
			}
		}
	} else {
		for name := range s.queues {
			names = append(names, name)
		}
		sort.Strings(names)
	}
	page, next, err := pageNames(names, in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	out := []jobQueueDetail{}
	for _, name := range page {
		out = append(out, s.queueDetail(s.queues[name]))
	}
	resp := map[string]any{"jobQueues": out}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (s *Sim) queueDetail(q *queue) jobQueueDetail {
	d := jobQueueDetail{
		JobQueueName: q.name, JobQueueArn: q.arn, State: q.state, Status: "VALID",
		StatusReason: "JobQueue Healthy", Priority: int32(q.priority), SchedulingPolicyArn: q.schedulingPolicyArn,
		ComputeEnvironmentOrder: []computeEnvironmentOrder{}, Tags: s.resTags[q.arn],
	}
	for i, ce := range q.ces {
		d.ComputeEnvironmentOrder = append(d.ComputeEnvironmentOrder, computeEnvironmentOrder{Order: int32(i + 1), ComputeEnvironment: ce.arn})
	}
	for _, a := range q.timeLimits {
		d.JobStateTimeLimitActions = append(d.JobStateTimeLimitActions, jobStateTimeLimitAction{
			Reason: a.Reason, State: a.State, MaxTimeSeconds: int32(a.MaxTime.Seconds()), Action: a.Action,
		})
	}
	return d
}

func (s *Sim) apiDescribeComputeEnvironments(body []byte, _ *http.Request) (any, error) {
	var in struct {
		ComputeEnvironments []string `json:"computeEnvironments"`
		MaxResults          int      `json:"maxResults"`
		NextToken           string   `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	if len(in.ComputeEnvironments) > 0 {
		for _, ref := range in.ComputeEnvironments {
			if ce := s.ces[nameFromArn(ref)]; ce != nil {
				names = append(names, ce.name)
			}
		}
	} else {
		for name := range s.ces {
			names = append(names, name)
		}
		sort.Strings(names)
	}
	page, next, err := pageNames(names, in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	out := []computeEnvironmentDetail{}
	for _, name := range page {
		out = append(out, s.ceDetail(s.ces[name]))
	}
	resp := map[string]any{"computeEnvironments": out}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (s *Sim) ceDetail(ce *computeEnv) computeEnvironmentDetail {
	state := "ENABLED"
	if !ce.enabled {
		state = "DISABLED"
	}
	d := computeEnvironmentDetail{
		ComputeEnvironmentName: ce.name, ComputeEnvironmentArn: ce.arn, EcsClusterArn: ce.clusterArn,
		Tags: s.resTags[ce.arn], Type: "MANAGED", State: state, Status: "VALID",
		StatusReason: "ComputeEnvironment Healthy", ServiceRole: ce.serviceRole,
		ContainerOrchestrationType: "ECS", UUID: ce.uuid,
	}
	if !ce.managed {
		d.Type = "UNMANAGED"
		return d
	}
	desired := int32(ce.vcpusInUse)
	if ce.fargate {
		desired = int32(ce.fargateVCPUs)
	}
	cr := &computeResources{
		Type: ce.spec.Type, MaxvCpus: int32(ce.spec.MaxVCPUs), Subnets: nonNil(ce.subnets),
		SecurityGroupIds: ce.securityGroups, Tags: ce.resourceTags, BidPercentage: ce.bidPercentage,
	}
	if ce.resourceTags == nil && ce.createdBySpec {
		cr.Tags = ce.tags
	}
	if !ce.fargate {
		cr.AllocationStrategy = ce.allocationStrategy
		cr.MinvCpus = ptr(int32(ce.spec.MinVCPUs))
		cr.DesiredvCpus = &desired
		cr.InstanceTypes = ce.instanceTypeNames
		cr.InstanceRole = ce.instanceRole
	}
	d.ComputeResources = cr
	return d
}

func (s *Sim) apiCreateComputeEnvironment(body []byte, _ *http.Request) (any, error) {
	var in createCEInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ce, err := s.createComputeEnv(&in)
	if err != nil {
		return nil, err
	}
	return map[string]string{"computeEnvironmentName": ce.name, "computeEnvironmentArn": ce.arn}, nil
}

func (s *Sim) apiUpdateComputeEnvironment(body []byte, _ *http.Request) (any, error) {
	var in struct {
		ComputeEnvironment string `json:"computeEnvironment"`
		State              string `json:"state"`
		ComputeResources   *struct {
			MinvCpus *int32 `json:"minvCpus"`
			MaxvCpus *int32 `json:"maxvCpus"`
		} `json:"computeResources"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ce := s.ces[nameFromArn(in.ComputeEnvironment)]
	if ce == nil {
		return nil, clientErr(fmt.Sprintf("ComputeEnvironment %s not found.", in.ComputeEnvironment))
	}
	switch in.State {
	case "ENABLED":
		ce.enabled = true
	case "DISABLED":
		ce.enabled = false
	case "":
	default:
		return nil, clientErr(fmt.Sprintf("state %s must be one of ENABLED | DISABLED", in.State))
	}
	if cr := in.ComputeResources; cr != nil {
		if cr.MaxvCpus != nil {
			ce.spec.MaxVCPUs = int(*cr.MaxvCpus)
		}
		if cr.MinvCpus != nil {
			ce.spec.MinVCPUs = int(*cr.MinvCpus)
		}
	}
	s.schedule(event{at: s.nowLocked(), kind: evDispatch})
	s.wakeUp()
	return map[string]string{"computeEnvironmentName": ce.name, "computeEnvironmentArn": ce.arn}, nil
}

func (s *Sim) apiDeleteComputeEnvironment(body []byte, _ *http.Request) (any, error) {
	var in struct {
		ComputeEnvironment string `json:"computeEnvironment"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ce := s.ces[nameFromArn(in.ComputeEnvironment)]
	if ce == nil {
		return nil, clientErr(fmt.Sprintf("ComputeEnvironment %s not found.", in.ComputeEnvironment))
	}
	if ce.enabled {
		return nil, clientErr("Cannot delete, found existing JobQueue relationship or the compute environment is ENABLED")
	}
	for _, q := range s.queues {
		if slices.Contains(q.ces, ce) {
			return nil, clientErr("Cannot delete, found existing JobQueue relationship")
		}
	}
	s.syncClock()
	for _, inst := range slices.Clone(ce.instances) {
		s.reclaim(inst)
	}
	delete(s.ces, ce.name)
	s.ceOrder = slices.DeleteFunc(s.ceOrder, func(c *computeEnv) bool { return c == ce })
	delete(s.resTags, ce.arn)
	return struct{}{}, nil
}

type createJobQueueInput struct {
	JobQueueName             string                    `json:"jobQueueName"`
	State                    string                    `json:"state"`
	Priority                 *int32                    `json:"priority"`
	ComputeEnvironmentOrder  []computeEnvironmentOrder `json:"computeEnvironmentOrder"`
	Tags                     map[string]string         `json:"tags"`
	JobStateTimeLimitActions []jobStateTimeLimitAction `json:"jobStateTimeLimitActions"`
	SchedulingPolicyArn      string                    `json:"schedulingPolicyArn"`
}

func (s *Sim) queueCEs(order []computeEnvironmentOrder) ([]*computeEnv, error) {
	if len(order) == 0 || len(order) > 3 {
		return nil, clientErr("computeEnvironmentOrder must have 1 to 3 entries")
	}
	sorted := slices.Clone(order)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Order < sorted[j].Order })
	var out []*computeEnv
	for _, o := range sorted {
		ce := s.ces[nameFromArn(o.ComputeEnvironment)]
		if ce == nil {
			return nil, clientErr(fmt.Sprintf("ComputeEnvironment %s not found.", o.ComputeEnvironment))
		}
		out = append(out, ce)
	}
	return out, nil
}

func timeLimitSpecs(in []jobStateTimeLimitAction) ([]TimeLimitActionSpec, error) {
	var out []TimeLimitActionSpec
	for _, a := range in {
		if a.MaxTimeSeconds < 600 || a.MaxTimeSeconds > 86400 {
			return nil, clientErr("jobStateTimeLimitActions.maxTimeSeconds must be between 600 and 86400")
		}
		out = append(out, TimeLimitActionSpec{Reason: a.Reason, State: a.State, Action: a.Action,
			MaxTime: secondsDuration(a.MaxTimeSeconds)})
	}
	return out, nil
}

func (s *Sim) apiCreateJobQueue(body []byte, _ *http.Request) (any, error) {
	var in createJobQueueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.JobQueueName) {
		return nil, clientErr("jobQueueName must be 1-128 letters, numbers, hyphens and underscores, starting with a letter or number")
	}
	if in.Priority == nil || *in.Priority < 0 || *in.Priority > 1000 {
		return nil, clientErr("priority must be between 0 and 1000")
	}
	state := in.State
	if state == "" {
		state = "ENABLED"
	}
	if state != "ENABLED" && state != "DISABLED" {
		return nil, clientErr(fmt.Sprintf("state %s must be one of ENABLED | DISABLED", state))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[in.JobQueueName]; ok {
		return nil, clientErr(fmt.Sprintf("Object already exists: JobQueue %s", in.JobQueueName))
	}
	ces, err := s.queueCEs(in.ComputeEnvironmentOrder)
	if err != nil {
		return nil, err
	}
	limits, err := timeLimitSpecs(in.JobStateTimeLimitActions)
	if err != nil {
		return nil, err
	}
	q := s.addQueue(in.JobQueueName, int(*in.Priority), state, ces, in.Tags, limits)
	q.schedulingPolicyArn = in.SchedulingPolicyArn
	return map[string]string{"jobQueueName": q.name, "jobQueueArn": q.arn}, nil
}

func (s *Sim) apiUpdateJobQueue(body []byte, _ *http.Request) (any, error) {
	var in createJobQueueInput
	var ref struct {
		JobQueue string `json:"jobQueue"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := decode(body, &ref); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueByRef(ref.JobQueue)
	if q == nil {
		return nil, clientErr(fmt.Sprintf("JobQueue %s not found.", ref.JobQueue))
	}
	switch in.State {
	case "ENABLED", "DISABLED":
		q.state = in.State
	case "":
	default:
		return nil, clientErr(fmt.Sprintf("state %s must be one of ENABLED | DISABLED", in.State))
	}
	if in.Priority != nil {
		q.priority = int(*in.Priority)
		sort.SliceStable(s.queueOrder, func(i, j int) bool { return s.queueOrder[i].priority > s.queueOrder[j].priority })
	}
	if len(in.ComputeEnvironmentOrder) > 0 {
		ces, err := s.queueCEs(in.ComputeEnvironmentOrder)
		if err != nil {
			return nil, err
		}
		q.ces = ces
	}
	if in.JobStateTimeLimitActions != nil {
		limits, err := timeLimitSpecs(in.JobStateTimeLimitActions)
		if err != nil {
			return nil, err
		}
		q.timeLimits = limits
	}
	s.schedule(event{at: s.nowLocked(), kind: evDispatch})
	s.wakeUp()
	return map[string]string{"jobQueueName": q.name, "jobQueueArn": q.arn}, nil
}

func (s *Sim) apiDeleteJobQueue(body []byte, _ *http.Request) (any, error) {
	var in struct {
		JobQueue string `json:"jobQueue"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueByRef(in.JobQueue)
	if q == nil {
		return nil, clientErr(fmt.Sprintf("JobQueue %s not found.", in.JobQueue))
	}
	if q.state != "DISABLED" {
		return nil, clientErr("JobQueue must be DISABLED before it can be deleted")
	}
	s.syncClock()
	for _, j := range slices.Clone(q.jobs) {
		s.cancel(j, "Job queue deleted", true)
	}
	delete(s.queues, q.name)
	s.queueOrder = slices.DeleteFunc(s.queueOrder, func(o *queue) bool { return o == q })
	delete(s.resTags, q.arn)
	return struct{}{}, nil
}

func (s *Sim) apiRegisterJobDefinition(body []byte, _ *http.Request) (any, error) {
	var in registerJobDefinitionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.registerDef(&in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"jobDefinitionName": d.name, "jobDefinitionArn": d.arn, "revision": d.revision}, nil
}

func (s *Sim) apiDescribeJobDefinitions(body []byte, _ *http.Request) (any, error) {
	var in struct {
		JobDefinitions    []string `json:"jobDefinitions"`
		JobDefinitionName string   `json:"jobDefinitionName"`
		Status            string   `json:"status"`
		MaxResults        int      `json:"maxResults"`
		NextToken         string   `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.JobDefinitions) > 100 {
		return nil, clientErr("jobDefinitions can have at most 100 entries")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var defs []*jobDef
	switch {
	case len(in.JobDefinitions) > 0:
		for _, ref := range in.JobDefinitions {
			name := nameFromArn(ref)
			if strings.Contains(name, ":") {
				if d := s.defByRef(ref); d != nil {
					defs = append(defs, d)
				}
				continue
			}
			defs = append(defs, s.defs[name]...)
		}
	case in.JobDefinitionName != "":
		defs = append(defs, s.defs[in.JobDefinitionName]...)
	default:
		names := make([]string, 0, len(s.defs))
		for n := range s.defs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			defs = append(defs, s.defs[n]...)
		}
	}
	if in.Status != "" {
		defs = slices.DeleteFunc(defs, func(d *jobDef) bool { return d.status != in.Status })
	}
	keys := make([]string, len(defs))
	for i := range defs {
		keys[i] = strconv.Itoa(i)
	}
	page, next, err := pageNames(keys, in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	out := []jobDefinitionDetail{}
	for _, k := range page {
		i, _ := strconv.Atoi(k)
		d := defs[i].detail
		d.Status = defs[i].status
		out = append(out, d)
	}
	resp := map[string]any{"jobDefinitions": out}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}

func (s *Sim) apiDeregisterJobDefinition(body []byte, _ *http.Request) (any, error) {
	var in struct {
		JobDefinition string `json:"jobDefinition"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := nameFromArn(in.JobDefinition)
	if !strings.Contains(name, ":") {
		return nil, clientErr("jobDefinition must be name:revision or an ARN")
	}
	d := s.defByRef(in.JobDefinition)
	if d == nil {
		return nil, clientErr(fmt.Sprintf("JobDefinition %s does not exist", in.JobDefinition))
	}
	d.status = "INACTIVE"
	return struct{}{}, nil
}

func tagArn(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/v1/tags/")
	if v, err := url.PathUnescape(p); err == nil {
		return v
	}
	return p
}

// tagsOf returns the tag map of a resource ARN and a setter for it.
func (s *Sim) tagsOf(arn string) (map[string]string, func(map[string]string), error) {
	if strings.Contains(arn, ":job/") {
		j := s.jobs[nameFromArn(arn)]
		if j == nil {
			return nil, nil, clientErr(fmt.Sprintf("Resource %s not found.", arn))
		}
		return j.tags, func(m map[string]string) { j.tags = m; j.costCE = nil }, nil
	}
	known := false
	switch {
	case strings.Contains(arn, ":job-queue/"):
		known = s.queueByRef(arn) != nil
	case strings.Contains(arn, ":compute-environment/"):
		known = s.ces[nameFromArn(arn)] != nil
	case strings.Contains(arn, ":job-definition/"):
		known = s.defByRef(arn) != nil
	}
	if !known {
		return nil, nil, clientErr(fmt.Sprintf("Resource %s not found.", arn))
	}
	return s.resTags[arn], func(m map[string]string) {
		s.resTags[arn] = m
		if ce := s.ces[nameFromArn(arn)]; ce != nil && strings.Contains(arn, ":compute-environment/") {
			ce.tags = m
			ce.costTagsSet = false
		}
	}, nil
}

func (s *Sim) apiTagResource(body []byte, r *http.Request) (any, error) {
	var in struct {
		Tags map[string]string `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, set, err := s.tagsOf(tagArn(r))
	if err != nil {
		return nil, err
	}
	next := copyMap(cur)
	if next == nil {
		next = map[string]string{}
	}
	for k, v := range in.Tags {
		next[k] = v
	}
	if len(next) > 50 {
		return nil, clientErr("A resource can have at most 50 tags")
	}
	set(next)
	return struct{}{}, nil
}

func (s *Sim) apiUntagResource(_ []byte, r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, set, err := s.tagsOf(tagArn(r))
	if err != nil {
		return nil, err
	}
	next := copyMap(cur)
	for _, k := range r.URL.Query()["tagKeys"] {
		delete(next, k)
	}
	set(next)
	return struct{}{}, nil
}

func (s *Sim) apiListTagsForResource(_ []byte, r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, _, err := s.tagsOf(tagArn(r))
	if err != nil {
		return nil, err
	}
	if cur == nil {
		cur = map[string]string{}
	}
	return map[string]any{"tags": cur}, nil
}
