package batch

// The wire shapes: the EventBridge envelope, the SNS notification that may
// wrap it, and the parts of JobDetail batchwatch reads. Field names follow
// the AWS Batch API reference (JobDetail, AttemptDetail, ContainerDetail,
// EksAttemptDetail, EcsProperties).

// Fields marked "unread" are not used by normalize, and the fastjson reader
// leaves them empty.

type wireEnvelope struct {
	Version    string      `json:"version"` // unread
	ID         string      `json:"id"`
	DetailType string      `json:"detail-type"`
	Source     string      `json:"source"`
	Account    string      `json:"account"`
	Time       string      `json:"time"`
	Region     string      `json:"region"`
	Resources  []string    `json:"resources"`
	Detail     *wireDetail `json:"detail"`
	// Usage is the detail again, read as a usage record, when the
	// detail-type is DetailTypeAttemptUsage.
	Usage *wireUsage `json:"-"`

	// SNS notification fields (SNS → SQS without raw message delivery).
	Type      string `json:"Type"`
	Message   string `json:"Message"`
	MessageID string `json:"MessageId"`
	TopicArn  string `json:"TopicArn"` // unread
}

type wireDetail struct {
	JobArn               string             `json:"jobArn"`
	JobName              string             `json:"jobName"`
	JobID                string             `json:"jobId"`
	JobQueue             string             `json:"jobQueue"`
	Status               string             `json:"status"`
	StatusReason         string             `json:"statusReason"`
	ShareIdentifier      string             `json:"shareIdentifier"`
	SchedulingPriority   *int64             `json:"schedulingPriority"`
	Attempts             []wireAttempt      `json:"attempts"`
	CreatedAt            int64              `json:"createdAt"`
	StartedAt            int64              `json:"startedAt"`
	StoppedAt            int64              `json:"stoppedAt"`
	RetryStrategy        *wireRetryStrategy `json:"retryStrategy"`
	DependsOn            []wireDependency   `json:"dependsOn"`
	JobDefinition        string             `json:"jobDefinition"`
	Parameters           map[string]string  `json:"parameters"`
	Container            *wireContainer     `json:"container"`
	NodeDetails          *wireNodeDetails   `json:"nodeDetails"`
	NodeProperties       *wireNodeProps     `json:"nodeProperties"`
	ArrayProperties      *wireArrayProps    `json:"arrayProperties"`
	Timeout              *wireTimeout       `json:"timeout"`
	Tags                 map[string]string  `json:"tags"`
	PropagateTags        bool               `json:"propagateTags"`
	PlatformCapabilities []string           `json:"platformCapabilities"`
	EksProperties        *wireEksProps      `json:"eksProperties"`
	EksAttempts          []wireEksAttempt   `json:"eksAttempts"`
	EcsProperties        *wireEcsProps      `json:"ecsProperties"`

	// The fastjson reader fills these instead of Tags and Parameters:
	// sorted by key, as normalize would sort the maps, in scratch space.
	tagKVs, paramKVs []KV
}

type wireRetryStrategy struct {
	Attempts int `json:"attempts"`
}

type wireDependency struct {
	JobID string `json:"jobId"`
	Type  string `json:"type"` // unread
}

type wireAttempt struct {
	Container      *wireAttemptContainer `json:"container"`
	StartedAt      int64                 `json:"startedAt"`
	StoppedAt      int64                 `json:"stoppedAt"`
	StatusReason   string                `json:"statusReason"`
	TaskProperties []wireAttemptTask     `json:"taskProperties"`
}

type wireAttemptContainer struct {
	ContainerInstanceArn string `json:"containerInstanceArn"`
	ExitCode             *int   `json:"exitCode"`
	LogStreamName        string `json:"logStreamName"`
	Reason               string `json:"reason"`
	TaskArn              string `json:"taskArn"`
}

type wireAttemptTask struct {
	ContainerInstanceArn string                      `json:"containerInstanceArn"`
	TaskArn              string                      `json:"taskArn"`
	Containers           []wireAttemptTaskContainers `json:"containers"`
}

type wireAttemptTaskContainers struct {
	Name          string `json:"name"`
	ExitCode      *int   `json:"exitCode"`
	LogStreamName string `json:"logStreamName"`
	Reason        string `json:"reason"`
}

type wireResourceRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type wireContainer struct {
	Image                string                    `json:"image"`
	Vcpus                float64                   `json:"vcpus"`
	Memory               float64                   `json:"memory"`
	ResourceRequirements []wireResourceRequirement `json:"resourceRequirements"`
	ExitCode             *int                      `json:"exitCode"`
	Reason               string                    `json:"reason"`
	LogStreamName        string                    `json:"logStreamName"`
	TaskArn              string                    `json:"taskArn"`              // unread
	ContainerInstanceArn string                    `json:"containerInstanceArn"` // unread
	InstanceType         string                    `json:"instanceType"`
	LogConfiguration     *wireLogConfiguration     `json:"logConfiguration"`
}

// wireLogConfiguration is a container's LogConfiguration. Of the driver's
// options only those of awslogs that say where the logs go are read.
type wireLogConfiguration struct {
	LogDriver string         `json:"logDriver"`
	Options   wireLogOptions `json:"options"`
}

type wireLogOptions struct {
	Group        string `json:"awslogs-group"`
	Region       string `json:"awslogs-region"`
	StreamPrefix string `json:"awslogs-stream-prefix"`
}

type wireNodeDetails struct {
	NodeIndex  *int `json:"nodeIndex"`
	IsMainNode bool `json:"isMainNode"`
}

type wireNodeProps struct {
	NumNodes int `json:"numNodes"`
	MainNode int `json:"mainNode"`
}

type wireArrayProps struct {
	Size          int            `json:"size"`
	Index         *int           `json:"index"`
	StatusSummary map[string]int `json:"statusSummary"`
}

type wireTimeout struct {
	AttemptDurationSeconds int64 `json:"attemptDurationSeconds"`
}

type wireEksProps struct {
	PodProperties *wireEksPod `json:"podProperties"`
}

type wireEksPod struct {
	Containers []wireEksContainer `json:"containers"`
	PodName    string             `json:"podName"`
	NodeName   string             `json:"nodeName"`
}

type wireEksResources struct {
	Limits   map[string]string `json:"limits"`
	Requests map[string]string `json:"requests"`
}

type wireEksContainer struct {
	Name      string            `json:"name"`
	Image     string            `json:"image"`
	Resources *wireEksResources `json:"resources"`
	ExitCode  *int              `json:"exitCode"`
	Reason    string            `json:"reason"`
}

type wireEksAttemptContainer struct {
	Name     string `json:"name"`
	ExitCode *int   `json:"exitCode"`
	Reason   string `json:"reason"`
}

type wireEksAttempt struct {
	Containers   []wireEksAttemptContainer `json:"containers"`
	PodName      string                    `json:"podName"`
	NodeName     string                    `json:"nodeName"`
	StartedAt    int64                     `json:"startedAt"`
	StoppedAt    int64                     `json:"stoppedAt"`
	StatusReason string                    `json:"statusReason"`
}

type wireEcsProps struct {
	TaskProperties []wireEcsTask `json:"taskProperties"`
}

type wireEcsTask struct {
	Containers           []wireEcsContainer `json:"containers"`
	TaskArn              string             `json:"taskArn"`
	ContainerInstanceArn string             `json:"containerInstanceArn"`
}

type wireEcsContainer struct {
	Name                 string                    `json:"name"`
	Image                string                    `json:"image"`
	Essential            *bool                     `json:"essential"`
	ResourceRequirements []wireResourceRequirement `json:"resourceRequirements"`
	ExitCode             *int                      `json:"exitCode"`
	Reason               string                    `json:"reason"`
	LogStreamName        string                    `json:"logStreamName"`
	LogConfiguration     *wireLogConfiguration     `json:"logConfiguration"`
}
