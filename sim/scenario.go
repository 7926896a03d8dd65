package sim

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed scenarios/*.yaml
var builtinScenarios embed.FS

// Scenario describes the simulated AWS account: its instance types and
// prices, compute environments, job queues, job definitions, the workload
// submitted over the simulated day, where events are delivered and how Cost
// Explorer behaves. See sim/README.md for the format reference.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Account     string `yaml:"account"`
	Region      string `yaml:"region"`

	InstanceTypes       []InstanceTypeSpec       `yaml:"instance_types"`
	ComputeEnvironments []ComputeEnvironmentSpec `yaml:"compute_environments"`
	JobQueues           []JobQueueSpec           `yaml:"job_queues"`
	JobDefinitions      []JobDefinitionSpec      `yaml:"job_definitions"`
	// DefaultBehavior simulates jobs whose definition has no behavior of its
	// own (definitions registered through the API under a new name).
	DefaultBehavior Behavior       `yaml:"default_behavior"`
	Workload        []WorkloadItem `yaml:"workload"`
	Delivery        []DeliverySpec `yaml:"delivery"`
	CostExplorer    CostSpec       `yaml:"cost_explorer"`
	Timing          TimingSpec     `yaml:"timing"`
	// Fleet plays the scenario in several accounts and regions at once
	// (NewFleet): each member gets the same environment and workload under
	// its own account id and region. Empty: one account, Account and Region.
	Fleet []FleetMember `yaml:"fleet"`
	// Faults are injected errors, resets, latency and message faults
	// (sim/faults.go); none by default.
	Faults FaultsSpec `yaml:"faults"`
}

// FleetMember is one simulated account in one region.
type FleetMember struct {
	Account string `yaml:"account"`
	Region  string `yaml:"region"`
}

// InstanceTypeSpec is one EC2 instance type with its hourly prices in USD.
type InstanceTypeSpec struct {
	Name      string  `yaml:"name"`
	VCPUs     int     `yaml:"vcpus"`
	MemoryMiB int     `yaml:"memory_mib"`
	GPUs      int     `yaml:"gpus"`
	OnDemand  float64 `yaml:"on_demand"`
	Spot      float64 `yaml:"spot"`
}

// ComputeEnvironmentSpec is one managed compute environment.
type ComputeEnvironmentSpec struct {
	Name string `yaml:"name"`
	// Type is EC2, SPOT, FARGATE or FARGATE_SPOT.
	Type string `yaml:"type"`
	// InstanceTypes lists instance types or families ("c5") from the
	// instance type table; "optimal" means the c, m and r families.
	InstanceTypes []string `yaml:"instance_types"`
	MinVCPUs      int      `yaml:"min_vcpus"`
	MaxVCPUs      int      `yaml:"max_vcpus"`
	// CapacityVCPUs, when set, is how many vCPUs EC2 can actually supply
	// (below MaxVCPUs): beyond it launches fail and the queue reports
	// CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY.
	CapacityVCPUs int `yaml:"capacity_vcpus"`
	// SpotInterruptionRate is the expected number of reclaims per spot
	// instance-hour.
	SpotInterruptionRate float64 `yaml:"spot_interruption_rate"`
	// RerunProbability is the chance that a job which succeeded on a spot
	// instance is run again because its host was reclaimed right after.
	RerunProbability float64           `yaml:"rerun_probability"`
	BootTime         Range             `yaml:"boot_time"`
	IdleTimeout      time.Duration     `yaml:"idle_timeout"`
	Tags             map[string]string `yaml:"tags"`
	State            string            `yaml:"state"`
	// FargateVCPUPrice and FargateGBPrice are the hourly Fargate prices.
	FargateVCPUPrice float64 `yaml:"fargate_vcpu_price"`
	FargateGBPrice   float64 `yaml:"fargate_gb_price"`
}

// JobQueueSpec is one job queue. With Count > 1 it expands to Count queues
// named <name>-01 … <name>-NN that share the settings; workload items may
// then name the group and submit round-robin.
type JobQueueSpec struct {
	Name                     string                `yaml:"name"`
	Priority                 int                   `yaml:"priority"`
	ComputeEnvironments      []string              `yaml:"compute_environments"`
	State                    string                `yaml:"state"`
	Count                    int                   `yaml:"count"`
	Tags                     map[string]string     `yaml:"tags"`
	JobStateTimeLimitActions []TimeLimitActionSpec `yaml:"job_state_time_limit_actions"`
	// SchedulingPolicy names a fair-share scheduling policy: the queue
	// reports its ARN and every job submitted to it needs a share
	// identifier. Jobs are still taken in age order (shares are not
	// weighted).
	SchedulingPolicy string `yaml:"scheduling_policy"`
}

// TimeLimitActionSpec mirrors JobStateTimeLimitAction: cancel jobs that stay
// RUNNABLE for MaxTime because of Reason.
type TimeLimitActionSpec struct {
	Reason  string        `yaml:"reason"`
	State   string        `yaml:"state"`
	MaxTime time.Duration `yaml:"max_time"`
	Action  string        `yaml:"action"`
}

// JobDefinitionSpec is a job definition registered at start, with the
// behavior of the jobs that use it.
type JobDefinitionSpec struct {
	Name                 string            `yaml:"name"`
	Image                string            `yaml:"image"`
	Command              []string          `yaml:"command"`
	VCPUs                float64           `yaml:"vcpus"`
	MemoryMiB            int               `yaml:"memory_mib"`
	GPUs                 int               `yaml:"gpus"`
	RetryStrategy        *RetrySpec        `yaml:"retry_strategy"`
	Timeout              time.Duration     `yaml:"timeout"`
	PlatformCapabilities []string          `yaml:"platform_capabilities"`
	PropagateTags        bool              `yaml:"propagate_tags"`
	Tags                 map[string]string `yaml:"tags"`
	Parameters           map[string]string `yaml:"parameters"`
	SchedulingPriority   *int              `yaml:"scheduling_priority"`
	JobRoleArn           string            `yaml:"job_role_arn"`
	// ExecutionRoleArn defaults to the account's ecsTaskExecutionRole for
	// Fargate definitions, which need one.
	ExecutionRoleArn string `yaml:"execution_role_arn"`
	// LegacyResources registers vcpus and memory_mib the pre-2020 way
	// (containerProperties.vcpus/memory, no resourceRequirements); jobs
	// then report them the same way.
	LegacyResources  bool                  `yaml:"legacy_resources"`
	Environment      map[string]string     `yaml:"environment"`
	Secrets          map[string]string     `yaml:"secrets"` // name → valueFrom
	LogConfiguration *LogConfigurationSpec `yaml:"log_configuration"`
	// PlatformVersion and AssignPublicIP configure Fargate definitions
	// (defaults LATEST and DISABLED).
	PlatformVersion string    `yaml:"platform_version"`
	AssignPublicIP  string    `yaml:"assign_public_ip"`
	Behavior        *Behavior `yaml:"behavior"`
}

// LogConfigurationSpec mirrors containerProperties.logConfiguration, e.g.
// log_driver awslogs with options awslogs-group, awslogs-region and
// awslogs-stream-prefix.
type LogConfigurationSpec struct {
	LogDriver string            `yaml:"log_driver"`
	Options   map[string]string `yaml:"options"`
}

// RetrySpec mirrors RetryStrategy.
type RetrySpec struct {
	Attempts       int                  `yaml:"attempts"`
	EvaluateOnExit []EvaluateOnExitSpec `yaml:"evaluate_on_exit"`
}

// EvaluateOnExitSpec mirrors EvaluateOnExit.
type EvaluateOnExitSpec struct {
	OnStatusReason string `yaml:"on_status_reason"`
	OnReason       string `yaml:"on_reason"`
	OnExitCode     string `yaml:"on_exit_code"`
	Action         string `yaml:"action"`
}

// Behavior is how simulated jobs of a definition run and fail.
type Behavior struct {
	// Duration of a successful run (RUNNING → exit), before size scaling.
	Duration Dist `yaml:"duration"`
	// Size scales Duration and MemoryNeed by (value/Reference)^Exponent,
	// where value is the job's size (parameter Parameter, or the size the
	// workload drew for the job).
	Size SizeSpec `yaml:"size"`
	// MemoryNeed is the memory the job really uses; above its request the
	// container is killed (OutOfMemoryError). Zero means "fits".
	MemoryNeed Dist `yaml:"memory_need_mib"`
	// StartDelay is STARTING → RUNNING (image pull, container start).
	StartDelay Range    `yaml:"start_delay"`
	Failures   Failures `yaml:"failures"`
	// Usage makes the jobs run wrapped in batchwatch-run (sim/usage.go).
	Usage UsageSpec `yaml:"usage"`
}

// Failures are per-attempt probabilities of each failure mode.
type Failures struct {
	// Exit is the chance the application exits non-zero, with a code drawn
	// from ExitCodes.
	Exit      float64 `yaml:"exit"`
	ExitCodes []int   `yaml:"exit_codes"`
	// ImagePull is the chance the image cannot be pulled.
	ImagePull float64 `yaml:"image_pull"`
	// Hang is the chance the job runs ten times longer than drawn (and so
	// usually hits its timeout).
	Hang float64 `yaml:"hang"`
}

// SizeSpec scales durations and memory need by job size.
type SizeSpec struct {
	Parameter      string  `yaml:"parameter"`
	Reference      float64 `yaml:"reference"`
	Exponent       float64 `yaml:"exponent"`
	MemoryExponent float64 `yaml:"memory_exponent"`
}

// Dist is a log-normal distribution given by its median and sigma (of the
// log), clamped to [Min, Max] when those are set. Durations are given as Go
// durations ("90s", "12m"); memory in MiB.
type Dist struct {
	Median float64 `yaml:"median"`
	Sigma  float64 `yaml:"sigma"`
	Min    float64 `yaml:"min"`
	Max    float64 `yaml:"max"`
}

// UnmarshalYAML accepts durations ("5m") or plain numbers for every field;
// durations become seconds.
func (d *Dist) UnmarshalYAML(n *yaml.Node) error {
	var raw map[string]string
	if err := n.Decode(&raw); err != nil {
		return err
	}
	for k, v := range raw {
		f, err := parseNumberOrDuration(v)
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", n.Line, k, err)
		}
		switch k {
		case "median":
			d.Median = f
		case "sigma":
			d.Sigma = f
		case "min":
			d.Min = f
		case "max":
			d.Max = f
		default:
			return fmt.Errorf("line %d: unknown field %q in distribution", n.Line, k)
		}
	}
	return nil
}

// Range is a uniform range of durations.
type Range struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

func parseNumberOrDuration(s string) (float64, error) {
	var f float64
	if _, err := fmt.Sscanf(s, "%g", &f); err == nil && !strings.ContainsAny(s, "hmsu") {
		return f, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a number nor a duration", s)
	}
	return d.Seconds(), nil
}

// WorkloadItem submits Count jobs (or array jobs) starting at At, one every
// Every.
type WorkloadItem struct {
	Name       string        `yaml:"name"`
	At         time.Duration `yaml:"at"`
	Count      int           `yaml:"count"`
	Every      time.Duration `yaml:"every"`
	Queue      string        `yaml:"queue"`
	Definition string        `yaml:"definition"`
	// JobName may use {n} (submission number) and {item}.
	JobName   string `yaml:"job_name"`
	ArraySize int    `yaml:"array_size"`
	// Sequential makes an array job's children run one after another.
	Sequential bool              `yaml:"sequential"`
	Tags       map[string]string `yaml:"tags"`
	// Parameters may use {n}, {records} (the drawn size) and {account} (an
	// account id drawn from a pool of Accounts).
	Parameters    map[string]string `yaml:"parameters"`
	PropagateTags *bool             `yaml:"propagate_tags"`
	// Records is the size distribution of each job (or array child).
	Records  Dist `yaml:"records"`
	Accounts int  `yaml:"accounts"`
	// DependsOn makes each submission depend on the latest submissions of
	// other items (up to AWS's 20 dependencies).
	DependsOn            []DependencySpec `yaml:"depends_on"`
	CancelProbability    float64          `yaml:"cancel_probability"`
	TerminateProbability float64          `yaml:"terminate_probability"`
	// UserActionDelay is when a user cancels or terminates, after submission.
	UserActionDelay    Range          `yaml:"user_action_delay"`
	VCPUs              float64        `yaml:"vcpus"`
	MemoryMiB          int            `yaml:"memory_mib"`
	ShareIdentifier    string         `yaml:"share_identifier"`
	SchedulingPriority *int           `yaml:"scheduling_priority"`
	Timeout            time.Duration  `yaml:"timeout"`
	RetryStrategy      *RetrySpec     `yaml:"retry_strategy"`
	Behavior           *BehaviorPatch `yaml:"behavior"`
}

// BehaviorPatch overrides parts of a definition's behavior for one workload
// item (e.g. a burst of failing jobs).
type BehaviorPatch struct {
	Failures *Failures `yaml:"failures"`
}

// DependencySpec names a workload item to depend on.
type DependencySpec struct {
	Item string `yaml:"item"`
	// Type is N_TO_N or empty; All waits for every submission of the item
	// (at most 20), otherwise only the latest.
	Type string `yaml:"type"`
	All  bool   `yaml:"all"`
}

// DeliverySpec is one place events are delivered to.
type DeliverySpec struct {
	// Type is queue (one of the simulator's own SQS queues), eventbridge
	// (a rule on the simulator's own default bus targeting its queues),
	// external-eventbridge (PutEvents at EndpointURL) or external-sqs
	// (SendMessageBatch to QueueURL at EndpointURL).
	Type string `yaml:"type"`
	// Queue is the internal queue's name (type queue).
	Queue string `yaml:"queue"`
	// SNSWrap delivers the event wrapped in an SNS notification, as an SNS
	// subscription without raw message delivery does (queue, external-sqs).
	SNSWrap  bool   `yaml:"sns_wrap"`
	TopicARN string `yaml:"topic_arn"`
	// Rule, Pattern and Queues configure type eventbridge.
	Rule    string   `yaml:"rule"`
	Pattern string   `yaml:"pattern"`
	Queues  []string `yaml:"queues"`
	// EndpointURL, Region, Bus, QueueURL and Source configure the external
	// types; Source defaults to aws.batch (a real bus refuses aws.* sources
	// from PutEvents, so set your own there).
	EndpointURL string `yaml:"endpoint_url"`
	Region      string `yaml:"region"`
	Bus         string `yaml:"bus"`
	QueueURL    string `yaml:"queue_url"`
	Source      string `yaml:"source"`
}

// CostSpec configures Cost Explorer.
type CostSpec struct {
	// Lag hides costs younger than this (AWS: up to a day).
	Lag time.Duration `yaml:"lag"`
	// PageSize is the number of (period, group) results per page.
	PageSize int `yaml:"page_size"`
}

// TimingSpec holds the service's own delays.
type TimingSpec struct {
	// SubmitDelay is SUBMITTED → PENDING/RUNNABLE.
	SubmitDelay Range `yaml:"submit_delay"`
	// PendingDelay is PENDING → RUNNABLE for array children without
	// dependencies.
	PendingDelay Range `yaml:"pending_delay"`
	// BlockedAfter is how long a job must wait for capacity before the
	// queue reports CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY.
	BlockedAfter time.Duration `yaml:"blocked_after"`
}

// LoadScenario loads a built-in scenario by name or a YAML file by path.
func LoadScenario(nameOrFile string) (*Scenario, error) {
	var data []byte
	if b, err := builtinScenarios.ReadFile(path.Join("scenarios", nameOrFile+".yaml")); err == nil {
		data = b
	} else {
		b, ferr := os.ReadFile(nameOrFile)
		if ferr != nil {
			return nil, fmt.Errorf("scenario %q is neither built in (%s) nor a readable file: %w",
				nameOrFile, strings.Join(BuiltinScenarios(), ", "), ferr)
		}
		data = b
	}
	return ParseScenario(data)
}

// BuiltinScenarios lists the names of the embedded scenarios.
func BuiltinScenarios() []string {
	entries, err := builtinScenarios.ReadDir("scenarios")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// ParseScenario decodes and validates a scenario; unknown fields are errors.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode scenario: %w", err)
	}
	base, err := defaultInstanceTypes()
	if err != nil {
		return nil, err
	}
	s.InstanceTypes = mergeInstanceTypes(base, s.InstanceTypes)
	s.applyDefaults()
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return &s, nil
}

func (s *Scenario) applyDefaults() {
	if s.Account == "" {
		s.Account = "123456789012"
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	for i := range s.ComputeEnvironments {
		ce := &s.ComputeEnvironments[i]
		if ce.Type == "" {
			ce.Type = "EC2"
		}
		if ce.State == "" {
			ce.State = "ENABLED"
		}
		if ce.BootTime.Max == 0 {
			ce.BootTime = Range{Min: 45 * time.Second, Max: 120 * time.Second}
		}
		if ce.IdleTimeout == 0 {
			ce.IdleTimeout = 5 * time.Minute
		}
		if ce.FargateVCPUPrice == 0 {
			ce.FargateVCPUPrice = 0.04048
		}
		if ce.FargateGBPrice == 0 {
			ce.FargateGBPrice = 0.004445
		}
	}
	for i := range s.JobQueues {
		q := &s.JobQueues[i]
		if q.State == "" {
			q.State = "ENABLED"
		}
		for j := range q.JobStateTimeLimitActions {
			a := &q.JobStateTimeLimitActions[j]
			if a.State == "" {
				a.State = "RUNNABLE"
			}
			if a.Action == "" {
				a.Action = "CANCEL"
			}
		}
	}
	defaultBehavior(&s.DefaultBehavior)
	for i := range s.JobDefinitions {
		d := &s.JobDefinitions[i]
		if d.Image == "" {
			d.Image = "public.ecr.aws/amazonlinux/amazonlinux:latest"
		}
		if d.VCPUs == 0 {
			d.VCPUs = 1
		}
		if d.MemoryMiB == 0 {
			d.MemoryMiB = 2048
		}
		if len(d.PlatformCapabilities) == 0 {
			d.PlatformCapabilities = []string{"EC2"}
		}
		if d.PlatformVersion == "" {
			d.PlatformVersion = "LATEST"
		}
		if d.AssignPublicIP == "" {
			d.AssignPublicIP = "DISABLED"
		}
		if d.Behavior != nil {
			defaultBehavior(d.Behavior)
		}
	}
	for i := range s.Workload {
		w := &s.Workload[i]
		if w.Count == 0 {
			w.Count = 1
		}
		if w.JobName == "" {
			w.JobName = w.Name + "-{n}"
		}
		if w.UserActionDelay.Max == 0 {
			w.UserActionDelay = Range{Min: 10 * time.Second, Max: 10 * time.Minute}
		}
	}
	if len(s.Delivery) == 0 {
		s.Delivery = []DeliverySpec{{Type: "queue", Queue: "batchwatch-events"}}
	}
	for i := range s.Delivery {
		d := &s.Delivery[i]
		if d.Source == "" {
			d.Source = "aws.batch"
		}
		if d.Bus == "" {
			d.Bus = "default"
		}
		if d.Type == "eventbridge" && d.Pattern == "" {
			d.Pattern = `{"source":["aws.batch"]}`
		}
	}
	if s.CostExplorer.PageSize == 0 {
		s.CostExplorer.PageSize = 100
	}
	if s.Timing.SubmitDelay.Max == 0 {
		s.Timing.SubmitDelay = Range{Min: time.Second, Max: 5 * time.Second}
	}
	if s.Timing.PendingDelay.Max == 0 {
		s.Timing.PendingDelay = Range{Min: time.Second, Max: 10 * time.Second}
	}
	if s.Timing.BlockedAfter == 0 {
		s.Timing.BlockedAfter = 10 * time.Minute
	}
}

func defaultBehavior(b *Behavior) {
	if b.Duration.Median == 0 {
		b.Duration = Dist{Median: 120, Sigma: 0.5, Min: 5, Max: 6 * 3600}
	}
	if b.StartDelay.Max == 0 {
		b.StartDelay = Range{Min: 5 * time.Second, Max: 40 * time.Second}
	}
	if len(b.Failures.ExitCodes) == 0 {
		b.Failures.ExitCodes = []int{1}
	}
	if b.Size.Reference == 0 {
		b.Size.Reference = 1
	}
}

func (s *Scenario) validate() error {
	var errs []error
	errs = append(errs, validateFleet(s.Fleet)...)
	types := map[string]bool{}
	for _, it := range s.InstanceTypes {
		if it.Name == "" || it.VCPUs <= 0 || it.MemoryMiB <= 0 {
			errs = append(errs, fmt.Errorf("instance type %q: name, vcpus and memory_mib are required", it.Name))
		}
		types[it.Name] = true
	}
	ces := map[string]bool{}
	for _, ce := range s.ComputeEnvironments {
		if ce.Name == "" || ce.MaxVCPUs <= 0 {
			errs = append(errs, fmt.Errorf("compute environment %q: name and max_vcpus are required", ce.Name))
		}
		switch ce.Type {
		case "EC2", "SPOT":
			if _, err := expandInstanceTypes(ce.InstanceTypes, s.InstanceTypes); err != nil {
				errs = append(errs, fmt.Errorf("compute environment %s: %w", ce.Name, err))
			}
		case "FARGATE", "FARGATE_SPOT":
		default:
			errs = append(errs, fmt.Errorf("compute environment %s: type %q is not EC2, SPOT, FARGATE or FARGATE_SPOT", ce.Name, ce.Type))
		}
		ces[ce.Name] = true
	}
	queues := map[string]bool{}
	fairShare := map[string]bool{}
	for _, q := range s.JobQueues {
		fairShare[q.Name] = q.SchedulingPolicy != ""
		if q.Name == "" || len(q.ComputeEnvironments) == 0 || len(q.ComputeEnvironments) > 3 {
			errs = append(errs, fmt.Errorf("job queue %q: a name and 1 to 3 compute environments are required", q.Name))
		}
		if q.Priority < 0 || q.Priority > 1000 {
			errs = append(errs, fmt.Errorf("job queue %s: priority must be 0-1000", q.Name))
		}
		for _, c := range q.ComputeEnvironments {
			if !ces[c] {
				errs = append(errs, fmt.Errorf("job queue %s: unknown compute environment %q", q.Name, c))
			}
		}
		queues[q.Name] = true
	}
	defs := map[string]bool{}
	for _, d := range s.JobDefinitions {
		if err := d.validate(); err != nil {
			errs = append(errs, err)
		}
		defs[d.Name] = true
	}
	items := map[string]bool{}
	for _, w := range s.Workload {
		if !queues[w.Queue] {
			errs = append(errs, fmt.Errorf("workload %s: unknown queue %q", w.Name, w.Queue))
		}
		if !defs[w.Definition] {
			errs = append(errs, fmt.Errorf("workload %s: unknown job definition %q", w.Name, w.Definition))
		}
		if fairShare[w.Queue] && w.ShareIdentifier == "" {
			errs = append(errs, fmt.Errorf("workload %s: queue %s is fair-share: share_identifier is required", w.Name, w.Queue))
		}
		if w.ArraySize == 1 || w.ArraySize > 10000 || w.ArraySize < 0 {
			errs = append(errs, fmt.Errorf("workload %s: array_size must be 0 (single jobs) or 2-10000", w.Name))
		}
		for _, d := range w.DependsOn {
			if !items[d.Item] {
				errs = append(errs, fmt.Errorf("workload %s: depends on %q, which is not an earlier item", w.Name, d.Item))
			}
		}
		items[w.Name] = true
	}
	for _, d := range s.Delivery {
		switch d.Type {
		case "queue":
			if d.Queue == "" {
				errs = append(errs, errors.New("delivery of type queue needs a queue name"))
			}
		case "eventbridge":
			if d.Rule == "" || len(d.Queues) == 0 {
				errs = append(errs, errors.New("delivery of type eventbridge needs a rule and queues"))
			}
		case "external-eventbridge":
		case "external-sqs":
			if d.QueueURL == "" {
				errs = append(errs, errors.New("delivery of type external-sqs needs queue_url"))
			}
		default:
			errs = append(errs, fmt.Errorf("delivery type %q is not queue, eventbridge, external-eventbridge or external-sqs", d.Type))
		}
	}
	if err := s.Faults.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (d *JobDefinitionSpec) validate() error {
	switch {
	case d.Name == "":
		return errors.New("job definition without a name")
	case d.LegacyResources && (d.VCPUs != math.Trunc(d.VCPUs) || d.GPUs > 0):
		return fmt.Errorf("job definition %s: legacy_resources needs whole vcpus and no gpus", d.Name)
	case d.LogConfiguration != nil && d.LogConfiguration.LogDriver == "":
		return fmt.Errorf("job definition %s: log_configuration needs a log_driver", d.Name)
	}
	return nil
}

// Scaled returns a copy with the workload's counts and array sizes and the
// compute environments' vCPU limits multiplied by f, so a small version
// keeps the shape (queue wait, share of RUNNABLE jobs) of the full one.
func (s *Scenario) Scaled(f float64) *Scenario {
	if f == 1 || f <= 0 {
		return s
	}
	c := *s
	c.Workload = append([]WorkloadItem(nil), s.Workload...)
	for i := range c.Workload {
		w := &c.Workload[i]
		if w.ArraySize >= 2 {
			// Shrink arrays first so a scaled day still has its bursts.
			total := float64(w.Count*w.ArraySize) * f
			if n := int(math.Round(float64(w.ArraySize) * f)); n >= 2 {
				w.ArraySize = n
			} else {
				w.ArraySize = 2
				w.Count = max(1, int(math.Round(total/2)))
			}
			continue
		}
		w.Count = max(1, int(math.Round(float64(w.Count)*f)))
		if w.Every > 0 && f < 1 {
			w.Every = time.Duration(float64(w.Every) / f)
		}
	}
	c.ComputeEnvironments = append([]ComputeEnvironmentSpec(nil), s.ComputeEnvironments...)
	for i := range c.ComputeEnvironments {
		ce := &c.ComputeEnvironments[i]
		largest := 4
		if its, err := expandInstanceTypes(ce.InstanceTypes, s.InstanceTypes); err == nil {
			for _, it := range its {
				largest = max(largest, it.VCPUs)
			}
		}
		ce.MaxVCPUs = max(largest, int(math.Round(float64(ce.MaxVCPUs)*f)))
		if ce.CapacityVCPUs > 0 {
			ce.CapacityVCPUs = max(largest, int(math.Round(float64(ce.CapacityVCPUs)*f)))
		}
		ce.MinVCPUs = min(ce.MinVCPUs, ce.MaxVCPUs)
	}
	return &c
}

// expandInstanceTypes resolves names, families ("c5") and "optimal".
func expandInstanceTypes(names []string, table []InstanceTypeSpec) ([]InstanceTypeSpec, error) {
	var out []InstanceTypeSpec
	seen := map[string]bool{}
	add := func(it InstanceTypeSpec) {
		if !seen[it.Name] {
			seen[it.Name] = true
			out = append(out, it)
		}
	}
	for _, n := range names {
		found := false
		for _, it := range table {
			family, _, _ := strings.Cut(it.Name, ".")
			switch {
			case it.Name == n, family == n,
				n == "optimal" && (strings.HasPrefix(family, "c") || strings.HasPrefix(family, "m") || strings.HasPrefix(family, "r")):
				add(it)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("instance type %q is not in the instance type table", n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no instance types")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OnDemand < out[j].OnDemand })
	return out, nil
}

// validateFleet checks the fleet's members: twelve-digit accounts, a region
// each, no pair twice.
func validateFleet(fleet []FleetMember) []error {
	var errs []error
	seen := map[FleetMember]bool{}
	for _, m := range fleet {
		if len(m.Account) != 12 || strings.Trim(m.Account, "0123456789") != "" || m.Region == "" {
			errs = append(errs, fmt.Errorf("fleet member %s/%s: account must be 12 digits and region set", m.Account, m.Region))
		}
		if seen[m] {
			errs = append(errs, fmt.Errorf("fleet member %s/%s listed twice", m.Account, m.Region))
		}
		seen[m] = true
	}
	return errs
}
