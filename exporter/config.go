package exporter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/flags"
)

// Config is everything the exporter is told: flags, then the YAML file named
// by --exporter.config for what does not fit in a flag (tiers, prices,
// instance types).
type Config struct {
	// Queues is an allow-list of job queue names; empty discovers every
	// queue with DescribeJobQueues.
	Queues []string
	// Account is the AWS account whose Batch API the exporter's
	// credentials reach: the account label of its metrics; events of other
	// accounts are ignored. Empty: no account label, every event counts.
	Account string
	// ResyncInterval is how often every active job is listed again.
	ResyncInterval time.Duration
	// BatchAPIRate is the budget of Batch requests per second shared by all
	// of the exporter's Batch calls (retries included).
	BatchAPIRate float64
	// PageSize is ListJobs maxResults (AWS allows up to 1000 by status).
	PageSize int
	// CapacityInterval is how often queues and compute environments are
	// described.
	CapacityInterval time.Duration
	// FinishedWindow is how long SUCCEEDED and FAILED jobs stay in the
	// queue gauges after they stopped.
	FinishedWindow time.Duration
	// ListFinishedOnStart lists SUCCEEDED and FAILED jobs at the first
	// resync, so the finished gauges are complete after a restart.
	ListFinishedOnStart bool
	// DescribeLimit caps the DescribeJobs look-ups of jobs a resync no
	// longer finds in an active status (their final event was lost or not
	// delivered yet); beyond it they are dropped.
	DescribeLimit int
	// DedupCapacity is how many finished jobs are remembered after they
	// leave the finished window, so a redelivered event is not counted
	// twice.
	DedupCapacity int

	// SQSQueueURL is the exporter's own queue of Batch events; empty runs
	// on resyncs alone.
	SQSQueueURL string
	// SQSReceivers is the number of concurrent long-polling receivers.
	SQSReceivers int
	// SQSWaitTime is the long-poll wait (at most 20 s).
	SQSWaitTime time.Duration
	// SQSAttributesQueues and SQSAttributesDeadLetterQueues are SQS queues
	// of the pipeline (ingest's, the exporter's, and their dead-letter
	// queues) whose message counts are read every SQSAttributesInterval;
	// SQSQueueURL is read too when any is set.
	SQSAttributesQueues           []string
	SQSAttributesDeadLetterQueues []string
	SQSAttributesInterval         time.Duration

	// TierTag and TierParameter name where a job's size tier comes from
	// (the tag wins when both are set and the job has it).
	TierTag       string
	TierParameter string
	// CostTags are cost-allocation tag keys: labels tag_<key> of the cost
	// metrics and Cost Explorer's group-by (at most two).
	CostTags []string
	// CostRefreshInterval is how often Cost Explorer is asked; 0 disables
	// actual costs.
	CostRefreshInterval time.Duration
	// CostDailyCalls is the most GetCostAndUsage requests (pages
	// included) in any 24 hours.
	CostDailyCalls int
	// CostComputeEnvironmentTag is the tag key whose value names each EC2
	// or Spot compute environment in its computeResources.tags; with it
	// the exporter serves the idle cost (idle.go).
	CostComputeEnvironmentTag string

	// File holds what --exporter.config says (defaults when no file).
	File *FileConfig
}

// AddFlags registers the --exporter.* flags.
func AddFlags(fg flags.Group) (*Config, *string) {
	c := &Config{}
	fg.Flag("exporter.queues", "Job queues to watch (names, comma-separated or repeated); default: every queue DescribeJobQueues returns.").StringsVar(&c.Queues)
	fg.Flag("exporter.account", "AWS account id (12 digits) whose Batch API these credentials reach: the account label of the job and queue metrics; events of other accounts are ignored. Default: no account label.").StringVar(&c.Account)
	fg.Flag("exporter.resync-interval", "List every active job again this often (ListJobs, all pages); between resyncs the queue gauges follow the SQS events.").Default("10m").DurationVar(&c.ResyncInterval)
	fg.Flag("exporter.batch-api-rate", "Batch API requests per second the exporter may use, shared by all its Batch calls (the account shares about 50/s with the job submitters).").Default("2").Float64Var(&c.BatchAPIRate)
	fg.Flag("exporter.list-page-size", "ListJobs maxResults per page (1-1000).").Default("1000").IntVar(&c.PageSize)
	fg.Flag("exporter.capacity-interval", "Describe job queues and compute environments this often.").Default("1m").DurationVar(&c.CapacityInterval)
	fg.Flag("exporter.finished-window", "SUCCEEDED and FAILED jobs count in batchwatch_queue_jobs for this long after they stopped.").Default("1h").DurationVar(&c.FinishedWindow)
	fg.Flag("exporter.list-finished-on-start", "At the first resync also list SUCCEEDED and FAILED jobs (all pages), so the finished gauges are complete after a restart.").Default("true").BoolVar(&c.ListFinishedOnStart)
	fg.Flag("exporter.describe-limit", "At most this many jobs per resync that vanished from the active statuses without an event are looked up with DescribeJobs (100 per call); the rest are dropped.").Default("1000").IntVar(&c.DescribeLimit)
	fg.Flag("exporter.dedup-capacity", "Finished jobs remembered after they leave the finished window, so that redelivered events are not counted twice.").Default("500000").IntVar(&c.DedupCapacity)
	fg.Flag("exporter.sqs-queue-url", "The exporter's own SQS queue of AWS Batch events (a second target of the EventBridge rule, or an SNS subscription). Without it the gauges are only updated at resyncs and the job histograms and counters stay empty.").StringVar(&c.SQSQueueURL)
	fg.Flag("exporter.sqs-receivers", "Concurrent long-polling SQS receivers.").Default("4").IntVar(&c.SQSReceivers)
	fg.Flag("exporter.sqs-wait-time", "SQS long-poll wait (at most 20s).").Default("20s").DurationVar(&c.SQSWaitTime)
	fg.Flag("exporter.sqs-attributes-queue", "SQS queue URL of the pipeline (ingest's) whose visible and in-flight message counts are exported (GetQueueAttributes); repeated or comma-separated. The exporter's own --exporter.sqs-queue-url is added when any is set.").StringsVar(&c.SQSAttributesQueues)
	fg.Flag("exporter.sqs-attributes-dead-letter-queue", "Dead-letter queue URL of ingest's or the exporter's queue, exported the same way (alerts fire on any message); repeated or comma-separated.").StringsVar(&c.SQSAttributesDeadLetterQueues)
	fg.Flag("exporter.sqs-attributes-interval", "Read the SQS queues' attributes this often (one GetQueueAttributes per queue).").Default("1m").DurationVar(&c.SQSAttributesInterval)
	fg.Flag("exporter.tier-tag", "Job tag holding the size tier (label tier; empty when the job has none).").StringVar(&c.TierTag)
	fg.Flag("exporter.tier-parameter", "Job parameter holding the size tier, when the tag is not set.").StringVar(&c.TierParameter)
	fg.Flag("exporter.cost-tags", "Cost-allocation tag keys (comma-separated, at most 2): labels tag_<key> on the cost metrics and Cost Explorer's group-by.").StringsVar(&c.CostTags)
	fg.Flag("exporter.cost-refresh-interval", "Ask Cost Explorer (GetCostAndUsage, USD 0.01 per request) this often; 0 disables actual costs.").Default("6h").DurationVar(&c.CostRefreshInterval)
	fg.Flag("exporter.cost-daily-calls", "At most this many Cost Explorer requests (pages included) in any 24 hours.").Default("24").IntVar(&c.CostDailyCalls)
	fg.Flag("exporter.cost-compute-environment-tag", "Cost-allocation tag key whose value names each EC2/Spot compute environment in its computeResources.tags (on its instances): serves the idle cost per compute environment, Cost Explorer's minus the estimate (one more request per refresh).").StringVar(&c.CostComputeEnvironmentTag)
	file := fg.Flag("exporter.config", "YAML file with tiers, the price table for estimated costs and extra instance types (see exporter/README.md).").String()
	return c, file
}

// Prepare splits comma-separated list flags, applies the file's defaults
// and checks the result.
func (c *Config) Prepare(file *FileConfig) error {
	c.Queues = splitList(c.Queues)
	c.CostTags = splitList(c.CostTags)
	c.SQSAttributesQueues = splitList(c.SQSAttributesQueues)
	c.SQSAttributesDeadLetterQueues = splitList(c.SQSAttributesDeadLetterQueues)
	if len(c.SQSAttributesQueues)+len(c.SQSAttributesDeadLetterQueues) > 0 {
		if c.SQSQueueURL != "" {
			c.SQSAttributesQueues = append(c.SQSAttributesQueues, c.SQSQueueURL)
		}
		if c.SQSAttributesInterval <= 0 {
			return errors.New("--exporter.sqs-attributes-interval must be positive")
		}
	}
	if file == nil {
		file = &FileConfig{}
	}
	if c.TierTag == "" && c.TierParameter == "" {
		c.TierTag, c.TierParameter = file.Tier.Tag, file.Tier.Parameter
	}
	if len(c.CostTags) == 0 {
		c.CostTags = splitList(file.Cost.Tags)
	}
	if c.CostComputeEnvironmentTag == "" {
		c.CostComputeEnvironmentTag = file.Cost.ComputeEnvironmentTag
	}
	c.File = file
	if c.ResyncInterval <= 0 {
		return errors.New("--exporter.resync-interval must be positive")
	}
	if c.BatchAPIRate <= 0 {
		return errors.New("--exporter.batch-api-rate must be positive")
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		return fmt.Errorf("--exporter.list-page-size %d: must be 1-1000", c.PageSize)
	}
	if c.CapacityInterval <= 0 {
		return errors.New("--exporter.capacity-interval must be positive")
	}
	if c.FinishedWindow <= 0 {
		return errors.New("--exporter.finished-window must be positive")
	}
	if c.SQSReceivers < 1 {
		c.SQSReceivers = 1
	}
	if c.SQSWaitTime < 0 || c.SQSWaitTime > 20*time.Second {
		return fmt.Errorf("--exporter.sqs-wait-time %s: must be 0-20s", c.SQSWaitTime)
	}
	if len(c.CostTags) > 2 {
		return fmt.Errorf("%d cost tags: Cost Explorer groups by at most 2", len(c.CostTags))
	}
	seen := map[string]string{}
	for _, k := range c.CostTags {
		l := TagLabel(k)
		if prev, ok := seen[l]; ok {
			return fmt.Errorf("cost tags %q and %q both become label %s", prev, k, l)
		}
		seen[l] = k
	}
	if c.CostDailyCalls < 1 {
		return errors.New("--exporter.cost-daily-calls must be at least 1")
	}
	return file.validate()
}

func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

var labelUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// TagLabel is the label name of cost-allocation tag key k: tag_<key> with
// every character outside [a-zA-Z0-9_] replaced by '_'.
func TagLabel(k string) string { return "tag_" + labelUnsafe.ReplaceAllString(k, "_") }

// FileConfig is the --exporter.config YAML file.
type FileConfig struct {
	Tier struct {
		Tag       string `yaml:"tag"`
		Parameter string `yaml:"parameter"`
		// Values is an allow-list; other values become "other". Empty
		// allows any value.
		Values []string `yaml:"values"`
	} `yaml:"tier"`
	Cost struct {
		Tags []string `yaml:"tags"`
		// Metric is the Cost Explorer metric (default UnblendedCost).
		Metric string `yaml:"metric"`
		// ComputeEnvironmentTag is used when
		// --exporter.cost-compute-environment-tag is not given.
		ComputeEnvironmentTag string `yaml:"compute_environment_tag"`
	} `yaml:"cost"`
	// Prices are USD per hour for the estimated costs, by capacity:
	// on_demand, spot, fargate, fargate_spot.
	Prices map[string]Price `yaml:"prices"`
	// MemoryReserve is what the ECS agent and the OS keep of an instance's
	// memory: max(min_mib, percent % of it).
	MemoryReserve struct {
		MinMiB  *int     `yaml:"min_mib"`
		Percent *float64 `yaml:"percent"`
	} `yaml:"memory_reserve"`
	// InstanceTypes add to or replace the built-in table.
	InstanceTypes []InstanceType `yaml:"instance_types"`
}

// Price is the hourly price of one vCPU, one GiB of memory and one GPU.
type Price struct {
	VCPUHour float64 `yaml:"vcpu_hour"`
	GiBHour  float64 `yaml:"gib_hour"`
	GPUHour  float64 `yaml:"gpu_hour"`
}

// Capacity label values.
const (
	CapacityOnDemand    = "on_demand"
	CapacitySpot        = "spot"
	CapacityFargate     = "fargate"
	CapacityFargateSpot = "fargate_spot"
)

// Capacities lists the capacity label values.
var Capacities = []string{CapacityOnDemand, CapacitySpot, CapacityFargate, CapacityFargateSpot}

// DefaultPrices are us-east-1 Linux prices split per vCPU, GiB and GPU:
// EC2 from m5/g4dn on-demand rates (a vCPU costs about nine GiB, as on
// Fargate), spot at 40 % of on-demand, Fargate and Fargate Spot list prices.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		CapacityOnDemand:    {VCPUHour: 0.03334, GiBHour: 0.003664, GPUHour: 0.334},
		CapacitySpot:        {VCPUHour: 0.013336, GiBHour: 0.0014656, GPUHour: 0.1336},
		CapacityFargate:     {VCPUHour: 0.04048, GiBHour: 0.004445},
		CapacityFargateSpot: {VCPUHour: 0.012144, GiBHour: 0.0013335},
	}
}

// LoadFileConfig reads the YAML file at path; an empty path gives the
// defaults.
func LoadFileConfig(path string) (*FileConfig, error) {
	fc := &FileConfig{}
	if path == "" {
		return fc, fc.validate()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read exporter config: %w", err)
	}
	return ParseFileConfig(b)
}

// ParseFileConfig parses the YAML of an --exporter.config file; unknown
// keys are errors, so that a typo does not go unnoticed.
func ParseFileConfig(b []byte) (*FileConfig, error) {
	fc := &FileConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty document decodes to io.EOF: all defaults.
	if err := dec.Decode(fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse exporter config: %w", err)
	}
	return fc, fc.validate()
}

func (fc *FileConfig) validate() error {
	if fc.Cost.Metric == "" {
		fc.Cost.Metric = "UnblendedCost"
	}
	prices := DefaultPrices()
	for k, p := range fc.Prices {
		if _, ok := prices[k]; !ok {
			return fmt.Errorf("prices: unknown capacity %q (want on_demand, spot, fargate, fargate_spot)", k)
		}
		if p.VCPUHour < 0 || p.GiBHour < 0 || p.GPUHour < 0 {
			return fmt.Errorf("prices.%s: negative price", k)
		}
		prices[k] = p
	}
	fc.Prices = prices
	if fc.MemoryReserve.MinMiB == nil {
		v := 256
		fc.MemoryReserve.MinMiB = &v
	}
	if fc.MemoryReserve.Percent == nil {
		v := 6.0
		fc.MemoryReserve.Percent = &v
	}
	if *fc.MemoryReserve.MinMiB < 0 || *fc.MemoryReserve.Percent < 0 || *fc.MemoryReserve.Percent >= 100 {
		return errors.New("memory_reserve: min_mib must be ≥ 0 and percent in [0, 100)")
	}
	for _, t := range fc.InstanceTypes {
		if !strings.Contains(t.Name, ".") || t.VCPUs <= 0 || t.MemoryMiB <= 0 || t.GPUs < 0 {
			return fmt.Errorf("instance_types: %q needs a family.size name, vcpus > 0 and memory_mib > 0", t.Name)
		}
	}
	return nil
}
