package submitter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Plan says how items become AWS Batch jobs: size ranges choose a tier,
// tier and priority choose a job queue, and every job carries the plan's
// job definition, tags, parameters and retry strategy. See README.md for
// the format.
type Plan struct {
	// Product is stamped on every job as the tag "product".
	Product string
	// JobDefinition is the default job definition (name, name:revision or
	// ARN); a tier may override it.
	JobDefinition string
	// JobNamePrefix starts every job name; defaults to Product.
	JobNamePrefix string
	// SizeParameter, when set, passes each item's size to single jobs as
	// the job parameter of that name (Ref::<name> in the definition).
	SizeParameter string
	// Tiers in escalation order: an item whose job runs out of memory is
	// resubmitted in the next tier.
	Tiers []Tier
	// Sizes map size ranges to tiers.
	Sizes []SizeRange
	// Priorities are the priority names items may use.
	Priorities      []string
	DefaultPriority string
	// Queues are rules from (tier, priority) to job queue; the first rule
	// that matches wins.
	Queues []QueueRule
	// Tags are stamped on every job, below the ones batchwatch sets
	// (product, tier, run_id).
	Tags map[string]string
	// Parameters are passed to every job, below the item's own.
	Parameters    map[string]string
	RetryStrategy RetryStrategy
	FanIn         *FanIn
	Prices        Prices
}

// Tier is one size class of jobs.
type Tier struct {
	Name      string
	VCPUs     float64
	MemoryMiB int
	GPUs      int
	// Timeout is the attempt duration limit (0: the definition's).
	Timeout time.Duration
	// JobDefinition overrides the plan's for this tier.
	JobDefinition string
	// ExpectedDuration is a typical run time, for dry-run estimates;
	// defaults to Timeout (an upper bound), else one hour.
	ExpectedDuration time.Duration
	Line             int
}

// Estimate is the duration used for cost estimates.
func (t Tier) Estimate() time.Duration {
	switch {
	case t.ExpectedDuration > 0:
		return t.ExpectedDuration
	case t.Timeout > 0:
		return t.Timeout
	}
	return time.Hour
}

// SizeRange maps sizes in [Min, Max) to a tier; Max is +Inf when open.
type SizeRange struct {
	Min, Max float64
	Tier     string
	Line     int
}

// QueueRule maps a tier and a priority to a job queue; an empty Tier or
// Priority matches any.
type QueueRule struct {
	Tier, Priority, Queue string
	Line                  int
}

// RetryStrategy mirrors Batch's retryStrategy.
type RetryStrategy struct {
	Attempts       int
	EvaluateOnExit []EvaluateOnExit
}

// EvaluateOnExit mirrors one evaluateOnExit condition; Action is RETRY or
// EXIT.
type EvaluateOnExit struct {
	OnStatusReason, OnReason, OnExitCode, Action string
}

// DefaultRetryStrategy retries spot reclaims and exits on everything else,
// application errors and out-of-memory kills included (escalation handles
// those one tier up instead of retrying the same size).
func DefaultRetryStrategy() RetryStrategy {
	return RetryStrategy{Attempts: 3, EvaluateOnExit: []EvaluateOnExit{
		{OnStatusReason: "Host EC2*", Action: "RETRY"},
		{OnReason: "*", Action: "EXIT"},
	}}
}

// FanIn is a final job that runs after every other job of the run.
type FanIn struct {
	Name          string
	JobDefinition string
	Queue         string
	Parameters    map[string]string
	VCPUs         float64
	MemoryMiB     int
	// BarrierJobDefinition runs the no-op jobs that gather more than 20
	// dependencies (Batch's limit per job) into a tree.
	BarrierJobDefinition string
}

// Prices are hourly USD prices for dry-run estimates.
type Prices struct {
	VCPUHour      float64
	MemoryGiBHour float64
	GPUHour       float64
}

// DefaultPrices are Fargate's on-demand prices in us-east-1.
func DefaultPrices() Prices {
	return Prices{VCPUHour: 0.04048, MemoryGiBHour: 0.004445, GPUHour: 0}
}

// planFile is the YAML document.
type planFile struct {
	Product         string            `yaml:"product"`
	JobDefinition   string            `yaml:"job_definition"`
	JobNamePrefix   string            `yaml:"job_name_prefix"`
	SizeParameter   string            `yaml:"size_parameter"`
	Tiers           []tierFile        `yaml:"tiers"`
	Sizes           []sizeFile        `yaml:"sizes"`
	Priorities      []string          `yaml:"priorities"`
	DefaultPriority string            `yaml:"default_priority"`
	Queues          []queueFile       `yaml:"queues"`
	Tags            map[string]string `yaml:"tags"`
	Parameters      map[string]string `yaml:"parameters"`
	RetryStrategy   *retryFile        `yaml:"retry_strategy"`
	FanIn           *fanInFile        `yaml:"fan_in"`
	Prices          *pricesFile       `yaml:"prices"`
}

type tierFile struct {
	Name             string        `yaml:"name"`
	VCPUs            float64       `yaml:"vcpus"`
	MemoryMiB        int           `yaml:"memory_mib"`
	GPUs             int           `yaml:"gpus"`
	Timeout          time.Duration `yaml:"timeout"`
	JobDefinition    string        `yaml:"job_definition"`
	ExpectedDuration time.Duration `yaml:"expected_duration"`
}

type sizeFile struct {
	Min  *float64 `yaml:"min"`
	Max  *float64 `yaml:"max"`
	Tier string   `yaml:"tier"`
}

type queueFile struct {
	Tier     string `yaml:"tier"`
	Priority string `yaml:"priority"`
	Queue    string `yaml:"queue"`
}

type retryFile struct {
	Attempts       int        `yaml:"attempts"`
	EvaluateOnExit []exitFile `yaml:"evaluate_on_exit"`
}

type exitFile struct {
	OnStatusReason string `yaml:"on_status_reason"`
	OnReason       string `yaml:"on_reason"`
	OnExitCode     string `yaml:"on_exit_code"`
	Action         string `yaml:"action"`
}

type fanInFile struct {
	Name                 string            `yaml:"name"`
	JobDefinition        string            `yaml:"job_definition"`
	Queue                string            `yaml:"queue"`
	Parameters           map[string]string `yaml:"parameters"`
	VCPUs                float64           `yaml:"vcpus"`
	MemoryMiB            int               `yaml:"memory_mib"`
	BarrierJobDefinition string            `yaml:"barrier_job_definition"`
}

type pricesFile struct {
	VCPUHour      *float64 `yaml:"vcpu_hour"`
	MemoryGiBHour *float64 `yaml:"memory_gib_hour"`
	GPUHour       *float64 `yaml:"gpu_hour"`
}

var (
	// Batch job names: a letter or digit, then up to 127 letters, digits,
	// hyphens and underscores.
	jobNameCharRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
	tierNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	yamlLineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	inTypeRE      = regexp.MustCompile(` in type [A-Za-z0-9_.]+`)
)

// ParsePlan decodes and validates a plan. name is the file name used in
// error messages; every error names its line.
func ParsePlan(name string, data []byte) (*Plan, error) {
	e := &errs{file: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		yamlErrors(e, err)
		return nil, e.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f planFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			e.add(0, "the plan is empty")
		} else {
			yamlErrors(e, err)
		}
		return nil, e.err()
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	p := buildPlan(&f, doc, e)
	if err := e.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// yamlErrors turns yaml.v3's "line N: msg" errors into LineErrors.
func yamlErrors(e *errs, err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		m = inTypeRE.ReplaceAllString(m, "")
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			var line int
			fmt.Sscanf(sm[1], "%d", &line)
			e.add(line, "%s", sm[2])
			continue
		}
		e.add(0, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

// child returns the value node of key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// elem returns element i of a sequence node, or nil.
func elem(n *yaml.Node, i int) *yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return n.Content[i]
}

// line of a node, or of its parent when missing.
func line(n *yaml.Node, fallback int) int {
	if n == nil {
		return fallback
	}
	return n.Line
}

// planBuilder holds what buildPlan's steps share: the decoded file, its
// YAML nodes (for line numbers), the errors so far and the plan.
type planBuilder struct {
	f       *planFile
	doc     *yaml.Node
	e       *errs
	p       *Plan
	top     int
	tierIdx map[string]int
	prioSet map[string]bool
}

// buildPlan validates a decoded plan file step by step; every problem is
// added to e with its line.
func buildPlan(f *planFile, doc *yaml.Node, e *errs) *Plan {
	p := &Plan{
		Product:         strings.TrimSpace(f.Product),
		JobDefinition:   strings.TrimSpace(f.JobDefinition),
		JobNamePrefix:   strings.TrimSpace(f.JobNamePrefix),
		SizeParameter:   strings.TrimSpace(f.SizeParameter),
		Priorities:      f.Priorities,
		DefaultPriority: f.DefaultPriority,
		Tags:            f.Tags,
		Parameters:      f.Parameters,
		RetryStrategy:   DefaultRetryStrategy(),
		Prices:          DefaultPrices(),
	}
	top := line(doc, 1)
	if p.Product == "" {
		e.add(top, "product is required (it is stamped on every job as the tag \"product\")")
	}
	if p.JobNamePrefix == "" {
		p.JobNamePrefix = p.Product
	}
	if p.JobNamePrefix != "" && jobNameCharRE.ReplaceAllString(p.JobNamePrefix, "") == "" {
		e.add(line(child(doc, "job_name_prefix"), top), "job_name_prefix %q has no letter or digit", p.JobNamePrefix)
	}
	b := &planBuilder{f: f, doc: doc, e: e, p: p, top: top}
	b.tiers()
	b.sizes()
	b.priorities()
	b.queues()
	b.tags()
	b.retryStrategy()
	b.fanIn()
	b.prices()
	return p
}

// tiers validates the tiers and indexes them by name.
func (b *planBuilder) tiers() {
	f, doc, e, p, top := b.f, b.doc, b.e, b.p, b.top
	tiersNode := child(doc, "tiers")
	if len(f.Tiers) == 0 {
		e.add(line(tiersNode, top), "at least one tier is required")
	}
	tierIdx := map[string]int{}
	for i, t := range f.Tiers {
		n := elem(tiersNode, i)
		ln := line(n, top)
		tier := Tier{
			Name: strings.TrimSpace(t.Name), VCPUs: t.VCPUs, MemoryMiB: t.MemoryMiB, GPUs: t.GPUs,
			Timeout: t.Timeout, JobDefinition: strings.TrimSpace(t.JobDefinition),
			ExpectedDuration: t.ExpectedDuration, Line: ln,
		}
		switch {
		case tier.Name == "":
			e.add(ln, "tier without a name")
		case !tierNameRE.MatchString(tier.Name):
			e.add(line(child(n, "name"), ln), "tier name %q: use up to 32 letters, digits, '-' and '_'", tier.Name)
		default:
			if _, dup := tierIdx[tier.Name]; dup {
				e.add(ln, "tier %q is defined twice", tier.Name)
			}
			tierIdx[tier.Name] = i
		}
		if tier.VCPUs <= 0 {
			e.add(line(child(n, "vcpus"), ln), "tier %q: vcpus must be positive", tier.Name)
		}
		if tier.MemoryMiB <= 0 {
			e.add(line(child(n, "memory_mib"), ln), "tier %q: memory_mib must be positive", tier.Name)
		}
		if tier.GPUs < 0 {
			e.add(line(child(n, "gpus"), ln), "tier %q: gpus must not be negative", tier.Name)
		}
		if tier.Timeout != 0 && tier.Timeout < time.Minute {
			e.add(line(child(n, "timeout"), ln), "tier %q: timeout must be at least 60s (Batch's minimum)", tier.Name)
		}
		if tier.ExpectedDuration < 0 {
			e.add(line(child(n, "expected_duration"), ln), "tier %q: expected_duration must not be negative", tier.Name)
		}
		p.Tiers = append(p.Tiers, tier)
	}
	if p.JobDefinition == "" {
		for _, t := range p.Tiers {
			if t.JobDefinition == "" {
				e.add(t.Line, "tier %q has no job definition and the plan sets no job_definition", t.Name)
			}
		}
	}
	b.tierIdx = tierIdx
}

// sizes validates the size ranges: known tiers, not empty, no overlap.
func (b *planBuilder) sizes() {
	f, doc, e, p, top := b.f, b.doc, b.e, b.p, b.top
	tierIdx := b.tierIdx
	sizesNode := child(doc, "sizes")
	if len(f.Sizes) == 0 {
		e.add(line(sizesNode, top), "sizes: at least one size range is required")
	}
	for i, s := range f.Sizes {
		n := elem(sizesNode, i)
		ln := line(n, top)
		r := SizeRange{Min: math.Inf(-1), Max: math.Inf(1), Tier: strings.TrimSpace(s.Tier), Line: ln}
		if s.Min != nil {
			r.Min = *s.Min
		}
		if s.Max != nil {
			r.Max = *s.Max
		}
		if _, ok := tierIdx[r.Tier]; !ok {
			if r.Tier == "" {
				e.add(ln, "size range without a tier")
			} else {
				e.add(line(child(n, "tier"), ln), "size range: unknown tier %q (tiers: %s)", r.Tier, strings.Join(tierNames(p.Tiers), ", "))
			}
		}
		if math.IsNaN(r.Min) || math.IsNaN(r.Max) || r.Min >= r.Max {
			e.add(ln, "size range [%g, %g) is empty: min must be below max", r.Min, r.Max)
		}
		p.Sizes = append(p.Sizes, r)
	}
	sorted := append([]SizeRange(nil), p.Sizes...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Min < sorted[j].Min })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Min < sorted[i-1].Max {
			e.add(sorted[i].Line, "size range [%g, %g) overlaps the range at line %d", sorted[i].Min, sorted[i].Max, sorted[i-1].Line)
		}
	}
}

// priorities defaults and validates the priorities and the default one.
func (b *planBuilder) priorities() {
	doc, e, p, top := b.doc, b.e, b.p, b.top
	if len(p.Priorities) == 0 {
		p.Priorities = []string{"low", "medium", "high"}
	}
	prioSet := map[string]bool{}
	for i, pr := range p.Priorities {
		if pr == "" || prioSet[pr] {
			e.add(line(elem(child(doc, "priorities"), i), top), "priority %q is empty or listed twice", pr)
		}
		prioSet[pr] = true
	}
	if p.DefaultPriority == "" {
		p.DefaultPriority = p.Priorities[0]
	} else if !prioSet[p.DefaultPriority] {
		e.add(line(child(doc, "default_priority"), top), "default_priority %q is not one of the priorities (%s)", p.DefaultPriority, strings.Join(p.Priorities, ", "))
	}
	b.prioSet = prioSet
}

// queues validates the queue rules: every tier has a queue at every priority.
func (b *planBuilder) queues() {
	f, doc, e, p, top := b.f, b.doc, b.e, b.p, b.top
	tierIdx, prioSet := b.tierIdx, b.prioSet
	queuesNode := child(doc, "queues")
	for i, q := range f.Queues {
		n := elem(queuesNode, i)
		ln := line(n, top)
		r := QueueRule{Tier: strings.TrimSpace(q.Tier), Priority: strings.TrimSpace(q.Priority), Queue: strings.TrimSpace(q.Queue), Line: ln}
		if r.Tier == "*" {
			r.Tier = ""
		}
		if r.Priority == "*" {
			r.Priority = ""
		}
		if r.Queue == "" {
			e.add(ln, "queue rule without a queue")
		}
		if _, ok := tierIdx[r.Tier]; r.Tier != "" && !ok {
			e.add(line(child(n, "tier"), ln), "queue rule: unknown tier %q (tiers: %s)", r.Tier, strings.Join(tierNames(p.Tiers), ", "))
		}
		if r.Priority != "" && !prioSet[r.Priority] {
			e.add(line(child(n, "priority"), ln), "queue rule: unknown priority %q (priorities: %s)", r.Priority, strings.Join(p.Priorities, ", "))
		}
		p.Queues = append(p.Queues, r)
	}
	for _, t := range p.Tiers {
		for _, pr := range p.Priorities {
			if _, ok := p.Queue(t.Name, pr); !ok {
				e.add(line(queuesNode, top), "queues: no rule gives a queue to tier %q at priority %q", t.Name, pr)
			}
		}
	}
}

// tags validates the plan's tags against the reserved keys and Batch's limits.
func (b *planBuilder) tags() {
	doc, e, p, top := b.doc, b.e, b.p, b.top
	reserved := map[string]bool{TagProduct: true, TagTier: true, TagRunID: true}
	for k, v := range p.Tags {
		ln := line(child(child(doc, "tags"), k), top)
		switch {
		case reserved[k]:
			e.add(ln, "tag %q is set by batchwatch; remove it from the plan", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			e.add(ln, "tag %q: the aws: prefix is reserved by AWS", k)
		case len(k) > 128 || len(v) > 256:
			e.add(ln, "tag %q: keys have at most 128 characters, values 256", k)
		}
	}
	if len(p.Tags)+len(reserved) > 50 {
		e.add(line(child(doc, "tags"), top), "a job has at most 50 tags; the plan sets %d plus batchwatch's %d", len(p.Tags), len(reserved))
	}
}

// retryStrategy validates the retry strategy against Batch's limits.
func (b *planBuilder) retryStrategy() {
	f, doc, e, p, top := b.f, b.doc, b.e, b.p, b.top
	if rf := f.RetryStrategy; rf != nil {
		n := child(doc, "retry_strategy")
		ln := line(n, top)
		rs := RetryStrategy{Attempts: rf.Attempts}
		if rs.Attempts < 1 || rs.Attempts > 10 {
			e.add(line(child(n, "attempts"), ln), "retry_strategy: attempts must be between 1 and 10")
		}
		if len(rf.EvaluateOnExit) > 5 {
			e.add(line(child(n, "evaluate_on_exit"), ln), "retry_strategy: at most 5 evaluate_on_exit conditions")
		}
		for i, c := range rf.EvaluateOnExit {
			cl := line(elem(child(n, "evaluate_on_exit"), i), ln)
			act := strings.ToUpper(strings.TrimSpace(c.Action))
			if act != "RETRY" && act != "EXIT" {
				e.add(cl, "evaluate_on_exit: action must be RETRY or EXIT, not %q", c.Action)
			}
			if c.OnStatusReason == "" && c.OnReason == "" && c.OnExitCode == "" {
				e.add(cl, "evaluate_on_exit: set on_status_reason, on_reason or on_exit_code")
			}
			rs.EvaluateOnExit = append(rs.EvaluateOnExit, EvaluateOnExit{
				OnStatusReason: c.OnStatusReason, OnReason: c.OnReason, OnExitCode: c.OnExitCode, Action: act,
			})
		}
		p.RetryStrategy = rs
	}
}

// fanIn validates the fan-in job.
func (b *planBuilder) fanIn() {
	f, doc, e, p, top := b.f, b.doc, b.e, b.p, b.top
	if ff := f.FanIn; ff != nil {
		n := child(doc, "fan_in")
		ln := line(n, top)
		fi := &FanIn{
			Name: strings.TrimSpace(ff.Name), JobDefinition: strings.TrimSpace(ff.JobDefinition),
			Queue: strings.TrimSpace(ff.Queue), Parameters: ff.Parameters, VCPUs: ff.VCPUs,
			MemoryMiB: ff.MemoryMiB, BarrierJobDefinition: strings.TrimSpace(ff.BarrierJobDefinition),
		}
		if fi.Name == "" {
			fi.Name = "fan-in"
		}
		if jobNameCharRE.ReplaceAllString(fi.Name, "") == "" {
			e.add(line(child(n, "name"), ln), "fan_in: name %q has no letter or digit", fi.Name)
		}
		if fi.JobDefinition == "" {
			e.add(ln, "fan_in: job_definition is required")
		}
		if fi.Queue == "" {
			e.add(ln, "fan_in: queue is required")
		}
		if fi.VCPUs < 0 || fi.MemoryMiB < 0 {
			e.add(ln, "fan_in: vcpus and memory_mib must not be negative")
		}
		p.FanIn = fi
	}
}

// prices reads the prices used for cost estimates.
func (b *planBuilder) prices() {
	pf := b.f.Prices
	if pf == nil {
		return
	}
	p := b.p
	ln := line(child(b.doc, "prices"), b.top)
	for _, v := range []struct {
		src *float64
		dst *float64
	}{{pf.VCPUHour, &p.Prices.VCPUHour}, {pf.MemoryGiBHour, &p.Prices.MemoryGiBHour}, {pf.GPUHour, &p.Prices.GPUHour}} {
		if v.src == nil {
			continue
		}
		if *v.src < 0 {
			b.e.add(ln, "prices must not be negative")
		}
		*v.dst = *v.src
	}
}

func tierNames(ts []Tier) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// Tag keys batchwatch stamps on every job.
const (
	TagProduct = "product"
	TagTier    = "tier"
	TagRunID   = "run_id"
)

// TierIndex returns the position of a tier, or -1.
func (p *Plan) TierIndex(name string) int {
	for i, t := range p.Tiers {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// TierFor returns the index of the tier whose size range holds size, or -1.
func (p *Plan) TierFor(size float64) int {
	for _, r := range p.Sizes {
		if size >= r.Min && size < r.Max {
			return p.TierIndex(r.Tier)
		}
	}
	return -1
}

// Queue returns the job queue for a tier and a priority.
func (p *Plan) Queue(tier, priority string) (string, bool) {
	for _, r := range p.Queues {
		if (r.Tier == "" || r.Tier == tier) && (r.Priority == "" || r.Priority == priority) {
			return r.Queue, true
		}
	}
	return "", false
}

// HasPriority reports whether the plan knows the priority.
func (p *Plan) HasPriority(name string) bool {
	for _, pr := range p.Priorities {
		if pr == name {
			return true
		}
	}
	return false
}

// Definition returns the job definition of a tier.
func (p *Plan) Definition(tier int) string {
	if d := p.Tiers[tier].JobDefinition; d != "" {
		return d
	}
	return p.JobDefinition
}
