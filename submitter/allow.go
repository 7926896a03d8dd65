package submitter

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// AllowList bounds what the plans posted to the submission service may ask
// for. It is configured when the service starts (flags --serve.*) and is
// narrower than the IAM policy: IAM cannot see a job's size.
type AllowList struct {
	// Queues and JobDefinitions are names (or ARNs); a job definition
	// allows every revision of that name.
	Queues, JobDefinitions []string
	// MaxVCPUs, MaxMemoryMiB and MaxGPUs bound every tier and the fan-in
	// job.
	MaxVCPUs     float64
	MaxMemoryMiB int
	MaxGPUs      int
	// Tags are the keys a plan may set, beyond batchwatch's own (product,
	// tier, run_id).
	Tags []string
}

// SplitLists splits comma-separated entries (compose passes one variable
// per list) and drops empty ones.
func (a *AllowList) SplitLists() {
	for _, l := range []*[]string{&a.Queues, &a.JobDefinitions, &a.Tags} {
		var out []string
		for _, v := range *l {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
		*l = out
	}
}

// Validate checks the allow-list allows something.
func (a AllowList) Validate() error {
	if len(a.Queues) == 0 || len(a.JobDefinitions) == 0 {
		return errors.New("the submission service needs an allow-list: --serve.allow-queue and --serve.allow-job-definition (repeatable)")
	}
	if a.MaxVCPUs <= 0 || a.MaxMemoryMiB <= 0 || a.MaxGPUs < 0 {
		return errors.New("--serve.max-vcpus and --serve.max-memory-mib must be positive, --serve.max-gpus not negative")
	}
	return nil
}

// resourceName reduces a Batch name or ARN (…:job-queue/NAME,
// …:job-definition/NAME:REV) to its name.
func resourceName(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 && strings.HasPrefix(s, "arn:") {
		s = s[i+1:]
	}
	return s
}

func definitionName(s string) string {
	s = resourceName(s)
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[:i]
	}
	return s
}

// Check lists every way the plan leaves the allow-list; empty means allowed.
func (a AllowList) Check(p *Plan) []string {
	var out []string
	queue := func(where, q string) {
		if q != "" && !slices.ContainsFunc(a.Queues, func(allowed string) bool { return resourceName(allowed) == resourceName(q) }) {
			out = append(out, fmt.Sprintf("%s: job queue %q is not allowed (allowed: %s)", where, q, strings.Join(a.Queues, ", ")))
		}
	}
	def := func(where, d string) {
		if d != "" && !slices.ContainsFunc(a.JobDefinitions, func(allowed string) bool { return definitionName(allowed) == definitionName(d) }) {
			out = append(out, fmt.Sprintf("%s: job definition %q is not allowed (allowed: %s)", where, d, strings.Join(a.JobDefinitions, ", ")))
		}
	}
	size := func(where string, vcpus float64, mem, gpus int) {
		if vcpus > a.MaxVCPUs || mem > a.MaxMemoryMiB || gpus > a.MaxGPUs {
			out = append(out, fmt.Sprintf("%s: %g vCPUs, %d MiB, %d GPUs exceeds the service's limit of %g vCPUs, %d MiB, %d GPUs",
				where, vcpus, mem, gpus, a.MaxVCPUs, a.MaxMemoryMiB, a.MaxGPUs))
		}
	}
	def("plan", p.JobDefinition)
	for _, t := range p.Tiers {
		where := "tier " + t.Name
		def(where, t.JobDefinition)
		size(where, t.VCPUs, t.MemoryMiB, t.GPUs)
	}
	for _, r := range p.Queues {
		queue(fmt.Sprintf("queue rule (line %d)", r.Line), r.Queue)
	}
	if f := p.FanIn; f != nil {
		queue("fan_in", f.Queue)
		def("fan_in", f.JobDefinition)
		def("fan_in barrier", f.BarrierJobDefinition)
		size("fan_in", f.VCPUs, f.MemoryMiB, 0)
	}
	for k := range p.Tags {
		if !slices.Contains(a.Tags, k) {
			out = append(out, fmt.Sprintf("tag %q is not allowed (allowed: %s)", k, strings.Join(a.Tags, ", ")))
		}
	}
	slices.Sort(out)
	return out
}

// CheckExposure refuses to serve the submission API on a non-loopback
// address without a web config (TLS and/or basic auth): anyone reaching the
// port could submit jobs. insecure overrides it (e.g. behind a proxy that
// authenticates).
func CheckExposure(listen []string, webConfigFile string, insecure bool) error {
	if webConfigFile != "" || insecure {
		return nil
	}
	for _, addr := range listen {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", addr, err)
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("listen address %q is not loopback: the submission API needs --web.config.file (TLS and/or basic auth), or --serve.insecure to serve it unauthenticated", addr)
		}
	}
	return nil
}
