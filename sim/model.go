package sim

import (
	"fmt"
	"sort"
	"strings"
)

// status is a Batch job status.
type status uint8

const (
	stSubmitted status = iota
	stPending
	stRunnable
	stStarting
	stRunning
	stSucceeded
	stFailed
	numStatus
)

func (s status) String() string {
	switch s {
	case stSubmitted:
		return "SUBMITTED"
	case stPending:
		return "PENDING"
	case stRunnable:
		return "RUNNABLE"
	case stStarting:
		return "STARTING"
	case stRunning:
		return "RUNNING"
	case stSucceeded:
		return "SUCCEEDED"
	case stFailed:
		return "FAILED"
	}
	return "UNKNOWN"
}

func (s status) terminal() bool { return s == stSucceeded || s == stFailed }

func parseStatus(name string) (status, bool) {
	for st := range numStatus {
		if st.String() == name {
			return st, true
		}
	}
	return 0, false
}

// computeEnv is a managed compute environment and its instances.
type computeEnv struct {
	name, arn, uuid           string
	cluster, clusterArn       string
	spec                      ComputeEnvironmentSpec
	types                     []InstanceTypeSpec // by on-demand price
	instanceTypeNames         []string
	fargate, spot, managed    bool
	enabled                   bool
	instances                 []*instance
	vcpusInUse                int     // instance vCPUs (EC2) launched or launching
	fargateVCPUs              float64 // job vCPUs in use (Fargate)
	tags                      map[string]string
	apiTags, resourceTags     map[string]string
	serviceRole, instanceRole string
	subnets, securityGroups   []string
	allocationStrategy        string
	bidPercentage             *int32
	createdBySpec             bool
	costTagID                 int32
	costTagsSet               bool
}

// instance is one EC2 instance of a compute environment.
type instance struct {
	id                   string
	ce                   *computeEnv
	typ                  InstanceTypeSpec
	spot                 bool
	usableMem            int
	freeVCPU             float64
	freeMem              int
	freeGPU              int
	jobs                 []*job // placed (reserved, starting or running)
	idleGen              uint32
	launchedAt, readyAt  int64
	accruedTo            int64
	containerInstanceArn string
	terminated           bool
}

// queue is a job queue.
type queue struct {
	name, arn  string
	priority   int
	state      string
	ces        []*computeEnv
	tags       map[string]string
	timeLimits []TimeLimitActionSpec
	// schedulingPolicyArn makes it a fair-share queue: every job carries a
	// shareIdentifier and a schedulingPriority.
	schedulingPolicyArn string
	jobs                []*job // non-child jobs in submission order (ListJobs)
	runq                runQueue
	group               string
	statusCounts        [numStatus]int
	createdBySpec       bool
}

// logStreamPrefix is the first part of a job's log stream name: the
// awslogs-stream-prefix of the definition's log configuration, else the
// definition's name.
func (d *jobDef) logStreamPrefix() string {
	if lc := d.detail.ContainerProperties.LogConfiguration; lc != nil && lc.LogDriver == "awslogs" {
		if p := lc.Options["awslogs-stream-prefix"]; p != "" {
			return p
		}
	}
	return d.name
}

// jobDef is one revision of a job definition.
type jobDef struct {
	name     string
	revision int
	arn      string
	status   string
	detail   jobDefinitionDetail
	behavior *Behavior
	vcpus    float64
	memMiB   int
	gpus     int
	timeout  int32
	retry    *retryStrategy
}

// attempt is one job attempt.
type attempt struct {
	taskID, ce                               string
	taskArn, containerInstanceArn, logStream string
	instanceType                             string
	instanceID                               string
	spot                                     bool
	startingAt, startedAt, stoppedAt         int64
	exitCode                                 *int32
	reason, statusReason                     string
	// A Fargate task's network interface.
	eniAttachment, privateIP string
}

// job is a Batch job, an array parent or an array child.
type job struct {
	seq                       uint64
	id, name, arn             string
	q                         *queue
	def                       *jobDef
	parent                    *job
	index                     int
	size                      int
	children                  []*job
	childCounts               [numStatus]int32
	status                    status
	statusReason              string
	createdAt                 int64
	startedAt, stoppedAt      int64
	attempts                  []attempt
	cur                       *attempt
	retry                     *retryStrategy
	dependsOn                 []jobDependency
	params                    map[string]string
	tags                      map[string]string
	propagateTags             bool
	timeout                   int32
	shareID                   string
	schedPrio                 *int32
	vcpus                     float64
	memMiB                    int
	gpus                      int
	command                   []string
	env                       []keyValuePair
	platform                  []string
	isCancelled, isTerminated bool

	// Simulation state.
	size0         float64 // the job's size for duration scaling
	behavior      *Behavior
	failures      Failures
	waitingOn     int
	dependents    []*job
	gen           uint32
	inst          *instance
	fargateCE     *computeEnv
	runnableSince int64
	blocked       string // blocked reason code while RUNNABLE at the head
	blockCheck    bool
	depFailed     bool
	queued        bool
	qgen          uint32
	outcome       outcome
	termReason    string
	reruns        int
	events        int
	costCE        *computeEnv
	costTagID     int32
	memNeed       float64 // MiB, drawn at RUNNING (usage events report it)
}

type outcomeKind uint8

const (
	outSuccess outcomeKind = iota
	outExit
	outOOM
	outTimeout
	outImagePull
	outSpot
	outTerminated
)

type outcome struct {
	kind     outcomeKind
	exitCode int32
}

// runQueue holds a queue's RUNNABLE jobs that still wait for placement,
// ordered by age (submission sequence). Placed or removed jobs are dropped
// lazily: an entry is alive while its job is queued with the same
// generation.
type runQueue struct {
	jobs []qent
	head int
	live int
}

type qent struct {
	j   *job
	gen uint32
}

func (e qent) alive() bool { return e.j.queued && e.j.qgen == e.gen }

func (r *runQueue) push(e qent) {
	n := len(r.jobs)
	if n == r.head || r.jobs[n-1].j.seq < e.j.seq {
		r.jobs = append(r.jobs, e)
	} else {
		i := sort.Search(n-r.head, func(i int) bool { return r.jobs[r.head+i].j.seq > e.j.seq }) + r.head
		r.jobs = append(r.jobs, qent{})
		copy(r.jobs[i+1:], r.jobs[i:])
		r.jobs[i] = e
	}
	r.live++
}

// compact drops dead entries at the head, and everywhere once they
// dominate.
func (r *runQueue) compact() {
	for r.head < len(r.jobs) && !r.jobs[r.head].alive() {
		r.jobs[r.head] = qent{}
		r.head++
	}
	if dead := len(r.jobs) - r.head - r.live; dead < 1024 || dead < r.live {
		return
	}
	out := r.jobs[:0]
	for _, e := range r.jobs[r.head:] {
		if e.alive() {
			out = append(out, e)
		}
	}
	clear(r.jobs[len(out):])
	r.jobs = out
	r.head = 0
}

// arns builds the account's resource names.
type arns struct{ partition, region, account string }

func (a arns) job(id string) string {
	return fmt.Sprintf("arn:%s:batch:%s:%s:job/%s", a.partition, a.region, a.account, id)
}
func (a arns) schedulingPolicy(name string) string {
	return fmt.Sprintf("arn:%s:batch:%s:%s:scheduling-policy/%s", a.partition, a.region, a.account, name)
}
func (a arns) queue(name string) string {
	return fmt.Sprintf("arn:%s:batch:%s:%s:job-queue/%s", a.partition, a.region, a.account, name)
}
func (a arns) ce(name string) string {
	return fmt.Sprintf("arn:%s:batch:%s:%s:compute-environment/%s", a.partition, a.region, a.account, name)
}
func (a arns) jobDef(name string, rev int) string {
	return fmt.Sprintf("arn:%s:batch:%s:%s:job-definition/%s:%d", a.partition, a.region, a.account, name, rev)
}
func (a arns) cluster(name string) string {
	return fmt.Sprintf("arn:%s:ecs:%s:%s:cluster/%s", a.partition, a.region, a.account, name)
}
func (a arns) task(cluster, id string) string {
	return fmt.Sprintf("arn:%s:ecs:%s:%s:task/%s/%s", a.partition, a.region, a.account, cluster, id)
}
func (a arns) containerInstance(cluster, id string) string {
	return fmt.Sprintf("arn:%s:ecs:%s:%s:container-instance/%s/%s", a.partition, a.region, a.account, cluster, id)
}

func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// nameFromArn returns the resource name of an ARN (after the last "/"), or
// the input when it is not an ARN.
func nameFromArn(s string) string {
	if !strings.HasPrefix(s, "arn:") {
		return s
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
