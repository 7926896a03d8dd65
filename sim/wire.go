package sim

// Wire shapes of the AWS Batch REST-JSON API (service model
// batch/2016-08-10) and of the EventBridge envelope. Field names follow the
// model exactly; the event's detail is the DescribeJobs JobDetail, built by
// the same code.

type keyValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type resourceRequirement struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

type evaluateOnExit struct {
	OnStatusReason string `json:"onStatusReason,omitempty"`
	OnReason       string `json:"onReason,omitempty"`
	OnExitCode     string `json:"onExitCode,omitempty"`
	Action         string `json:"action"`
}

type retryStrategy struct {
	Attempts       int32            `json:"attempts,omitempty"`
	EvaluateOnExit []evaluateOnExit `json:"evaluateOnExit"`
}

type jobTimeout struct {
	AttemptDurationSeconds int32 `json:"attemptDurationSeconds,omitempty"`
}

type jobDependency struct {
	JobID string `json:"jobId,omitempty"`
	Type  string `json:"type,omitempty"`
}

type empty struct{}

type containerDetail struct {
	Image                string                `json:"image,omitempty"`
	Vcpus                *int32                `json:"vcpus,omitempty"`
	Memory               *int32                `json:"memory,omitempty"`
	Command              []string              `json:"command"`
	JobRoleArn           string                `json:"jobRoleArn,omitempty"`
	ExecutionRoleArn     string                `json:"executionRoleArn,omitempty"`
	Volumes              []empty               `json:"volumes"`
	Environment          []keyValuePair        `json:"environment"`
	MountPoints          []empty               `json:"mountPoints"`
	Ulimits              []empty               `json:"ulimits"`
	ExitCode             *int32                `json:"exitCode,omitempty"`
	Reason               string                `json:"reason,omitempty"`
	ContainerInstanceArn string                `json:"containerInstanceArn,omitempty"`
	TaskArn              string                `json:"taskArn,omitempty"`
	LogStreamName        string                `json:"logStreamName,omitempty"`
	NetworkInterfaces    []empty               `json:"networkInterfaces"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements"`
	Secrets              []empty               `json:"secrets"`
	LogConfiguration     *logConfiguration     `json:"logConfiguration,omitempty"`
}

type attemptContainerDetail struct {
	ContainerInstanceArn string  `json:"containerInstanceArn,omitempty"`
	TaskArn              string  `json:"taskArn,omitempty"`
	ExitCode             *int32  `json:"exitCode,omitempty"`
	Reason               string  `json:"reason,omitempty"`
	LogStreamName        string  `json:"logStreamName,omitempty"`
	NetworkInterfaces    []empty `json:"networkInterfaces"`
}

type attemptDetail struct {
	Container    attemptContainerDetail `json:"container"`
	StartedAt    int64                  `json:"startedAt,omitempty"`
	StoppedAt    int64                  `json:"stoppedAt,omitempty"`
	StatusReason string                 `json:"statusReason,omitempty"`
}

type arrayPropertiesDetail struct {
	StatusSummary map[string]int32 `json:"statusSummary,omitempty"`
	Size          int32            `json:"size,omitempty"`
	Index         *int32           `json:"index,omitempty"`
}

// jobDetail is DescribeJobs' JobDetail and the event's detail.
type jobDetail struct {
	JobArn               string                 `json:"jobArn"`
	JobName              string                 `json:"jobName"`
	JobID                string                 `json:"jobId"`
	JobQueue             string                 `json:"jobQueue"`
	Status               string                 `json:"status"`
	StatusReason         string                 `json:"statusReason,omitempty"`
	Attempts             []attemptDetail        `json:"attempts"`
	CreatedAt            int64                  `json:"createdAt"`
	StartedAt            int64                  `json:"startedAt,omitempty"`
	StoppedAt            int64                  `json:"stoppedAt,omitempty"`
	RetryStrategy        *retryStrategy         `json:"retryStrategy,omitempty"`
	DependsOn            []jobDependency        `json:"dependsOn"`
	JobDefinition        string                 `json:"jobDefinition"`
	Parameters           map[string]string      `json:"parameters"`
	Container            *containerDetail       `json:"container,omitempty"`
	Tags                 map[string]string      `json:"tags,omitempty"`
	PropagateTags        bool                   `json:"propagateTags"`
	PlatformCapabilities []string               `json:"platformCapabilities"`
	ArrayProperties      *arrayPropertiesDetail `json:"arrayProperties,omitempty"`
	Timeout              *jobTimeout            `json:"timeout,omitempty"`
	ShareIdentifier      string                 `json:"shareIdentifier,omitempty"`
	SchedulingPriority   *int32                 `json:"schedulingPriority,omitempty"`
	IsCancelled          bool                   `json:"isCancelled,omitempty"`
	IsTerminated         bool                   `json:"isTerminated,omitempty"`
}

// envelope is the EventBridge event.
type envelope struct {
	Version    string     `json:"version"`
	ID         string     `json:"id"`
	DetailType string     `json:"detail-type"`
	Source     string     `json:"source"`
	Account    string     `json:"account"`
	Time       string     `json:"time"`
	Region     string     `json:"region"`
	Resources  []string   `json:"resources"`
	Detail     *jobDetail `json:"detail"`
}

type containerSummary struct {
	ExitCode *int32 `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

type arrayPropertiesSummary struct {
	Size  int32  `json:"size,omitempty"`
	Index *int32 `json:"index,omitempty"`
}

type jobSummary struct {
	JobArn          string                  `json:"jobArn"`
	JobID           string                  `json:"jobId"`
	JobName         string                  `json:"jobName"`
	CreatedAt       int64                   `json:"createdAt"`
	Status          string                  `json:"status"`
	StatusReason    string                  `json:"statusReason,omitempty"`
	StartedAt       int64                   `json:"startedAt,omitempty"`
	StoppedAt       int64                   `json:"stoppedAt,omitempty"`
	Container       *containerSummary       `json:"container,omitempty"`
	ArrayProperties *arrayPropertiesSummary `json:"arrayProperties,omitempty"`
	JobDefinition   string                  `json:"jobDefinition,omitempty"`
}

// Requests.

type containerOverrides struct {
	Vcpus                *int32                `json:"vcpus"`
	Memory               *int32                `json:"memory"`
	Command              []string              `json:"command"`
	InstanceType         string                `json:"instanceType"`
	Environment          []keyValuePair        `json:"environment"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements"`
}

type submitJobInput struct {
	JobName                    string                `json:"jobName"`
	JobQueue                   string                `json:"jobQueue"`
	JobDefinition              string                `json:"jobDefinition"`
	ArrayProperties            *struct{ Size int32 } `json:"arrayProperties"`
	DependsOn                  []jobDependency       `json:"dependsOn"`
	Parameters                 map[string]string     `json:"parameters"`
	ContainerOverrides         *containerOverrides   `json:"containerOverrides"`
	RetryStrategy              *retryStrategy        `json:"retryStrategy"`
	PropagateTags              *bool                 `json:"propagateTags"`
	Timeout                    *jobTimeout           `json:"timeout"`
	Tags                       map[string]string     `json:"tags"`
	SchedulingPriorityOverride *int32                `json:"schedulingPriorityOverride"`
	ShareIdentifier            string                `json:"shareIdentifier"`
	NodeOverrides              any                   `json:"nodeOverrides"`
	EksPropertiesOverride      any                   `json:"eksPropertiesOverride"`
	EcsPropertiesOverride      any                   `json:"ecsPropertiesOverride"`
}

type computeEnvironmentOrder struct {
	Order              int32  `json:"order"`
	ComputeEnvironment string `json:"computeEnvironment"`
}

type jobStateTimeLimitAction struct {
	Reason         string `json:"reason"`
	State          string `json:"state"`
	MaxTimeSeconds int32  `json:"maxTimeSeconds"`
	Action         string `json:"action"`
}

type jobQueueDetail struct {
	JobQueueName             string                    `json:"jobQueueName"`
	JobQueueArn              string                    `json:"jobQueueArn"`
	State                    string                    `json:"state"`
	SchedulingPolicyArn      string                    `json:"schedulingPolicyArn,omitempty"`
	Status                   string                    `json:"status"`
	StatusReason             string                    `json:"statusReason"`
	Priority                 int32                     `json:"priority"`
	ComputeEnvironmentOrder  []computeEnvironmentOrder `json:"computeEnvironmentOrder"`
	Tags                     map[string]string         `json:"tags,omitempty"`
	JobStateTimeLimitActions []jobStateTimeLimitAction `json:"jobStateTimeLimitActions,omitempty"`
}

type computeResources struct {
	Type               string            `json:"type"`
	AllocationStrategy string            `json:"allocationStrategy,omitempty"`
	MinvCpus           *int32            `json:"minvCpus,omitempty"`
	MaxvCpus           int32             `json:"maxvCpus"`
	DesiredvCpus       *int32            `json:"desiredvCpus,omitempty"`
	InstanceTypes      []string          `json:"instanceTypes,omitempty"`
	Subnets            []string          `json:"subnets"`
	SecurityGroupIds   []string          `json:"securityGroupIds,omitempty"`
	InstanceRole       string            `json:"instanceRole,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	BidPercentage      *int32            `json:"bidPercentage,omitempty"`
	SpotIamFleetRole   string            `json:"spotIamFleetRole,omitempty"`
}

type computeEnvironmentDetail struct {
	ComputeEnvironmentName     string            `json:"computeEnvironmentName"`
	ComputeEnvironmentArn      string            `json:"computeEnvironmentArn"`
	EcsClusterArn              string            `json:"ecsClusterArn,omitempty"`
	Tags                       map[string]string `json:"tags,omitempty"`
	Type                       string            `json:"type"`
	State                      string            `json:"state"`
	Status                     string            `json:"status"`
	StatusReason               string            `json:"statusReason"`
	ComputeResources           *computeResources `json:"computeResources,omitempty"`
	ServiceRole                string            `json:"serviceRole,omitempty"`
	ContainerOrchestrationType string            `json:"containerOrchestrationType"`
	UUID                       string            `json:"uuid"`
}

type containerProperties struct {
	Image                string                `json:"image,omitempty"`
	Vcpus                *int32                `json:"vcpus,omitempty"`
	Memory               *int32                `json:"memory,omitempty"`
	Command              []string              `json:"command"`
	JobRoleArn           string                `json:"jobRoleArn,omitempty"`
	ExecutionRoleArn     string                `json:"executionRoleArn,omitempty"`
	Volumes              []empty               `json:"volumes"`
	Environment          []keyValuePair        `json:"environment"`
	MountPoints          []empty               `json:"mountPoints"`
	Ulimits              []empty               `json:"ulimits"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements"`
	Secrets              []empty               `json:"secrets"`
	LogConfiguration     *logConfiguration     `json:"logConfiguration,omitempty"`
}

// logConfiguration is a container's LogConfiguration (AWS Batch API
// reference): the driver and its options, as registered and as a job
// detail reports them.
type logConfiguration struct {
	LogDriver     string            `json:"logDriver"`
	Options       map[string]string `json:"options,omitempty"`
	SecretOptions []empty           `json:"secretOptions"`
}

type jobDefinitionDetail struct {
	JobDefinitionName          string               `json:"jobDefinitionName"`
	JobDefinitionArn           string               `json:"jobDefinitionArn"`
	Revision                   int32                `json:"revision"`
	Status                     string               `json:"status"`
	Type                       string               `json:"type"`
	SchedulingPriority         *int32               `json:"schedulingPriority,omitempty"`
	Parameters                 map[string]string    `json:"parameters"`
	RetryStrategy              *retryStrategy       `json:"retryStrategy,omitempty"`
	ContainerProperties        *containerProperties `json:"containerProperties,omitempty"`
	Timeout                    *jobTimeout          `json:"timeout,omitempty"`
	Tags                       map[string]string    `json:"tags,omitempty"`
	PropagateTags              bool                 `json:"propagateTags"`
	PlatformCapabilities       []string             `json:"platformCapabilities"`
	ContainerOrchestrationType string               `json:"containerOrchestrationType"`
}

type registerJobDefinitionInput struct {
	JobDefinitionName    string               `json:"jobDefinitionName"`
	Type                 string               `json:"type"`
	Parameters           map[string]string    `json:"parameters"`
	SchedulingPriority   *int32               `json:"schedulingPriority"`
	ContainerProperties  *containerProperties `json:"containerProperties"`
	RetryStrategy        *retryStrategy       `json:"retryStrategy"`
	PropagateTags        bool                 `json:"propagateTags"`
	Timeout              *jobTimeout          `json:"timeout"`
	Tags                 map[string]string    `json:"tags"`
	PlatformCapabilities []string             `json:"platformCapabilities"`
	NodeProperties       any                  `json:"nodeProperties"`
	EksProperties        any                  `json:"eksProperties"`
	EcsProperties        any                  `json:"ecsProperties"`
}
