package exporter

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/batch"
)

// resyncer lists every active job of the watched queues (and the children
// of active array jobs) into the State: the "list" of list-then-watch.
type resyncer struct {
	api   BatchAPI
	state *State
	cfg   *Config
	log   *logrus.Entry
	now   func() time.Time
}

// resyncStats says what one resync did.
type resyncStats struct {
	Pages      int
	Listed     int
	Parents    int
	Vanished   int
	Described  int
	Forgotten  int
	Definition int
}

// activeStatuses are listed at every resync, in lifecycle order: a job
// that moves on while its queue is listed is seen once or twice (the later
// page wins), or, when it went back (a retry) or ended, its event or a
// DescribeJobs tells. SUBMITTED comes last: AWS emits no event for it, so
// its count is as of its page, and the later the page, the fresher.
var activeStatuses = []batchtypes.JobStatus{
	batchtypes.JobStatusPending, batchtypes.JobStatusRunnable,
	batchtypes.JobStatusStarting, batchtypes.JobStatusRunning, batchtypes.JobStatusSubmitted,
}

// childStatuses are the statuses in which a resync lists an array's
// children: the active ones of a running array, the finished ones of a
// finished array, and, at the first resync after a start, both for a
// running array, whose children may have finished while no exporter
// watched.
func childStatuses(parentActive, withFinished bool) []batchtypes.JobStatus {
	switch {
	case !parentActive:
		return finishedStatuses
	case withFinished:
		return append(append([]batchtypes.JobStatus(nil), activeStatuses...), finishedStatuses...)
	}
	return activeStatuses
}

// run performs one resync of queues; withFinished also lists SUCCEEDED and
// FAILED jobs (the first resync after a start). An error leaves the state
// as it was, plus whatever pages were applied (which are correct on their
// own); the vanished-job sweep only runs after a complete listing.
func (r *resyncer) run(ctx context.Context, queues []string, withFinished bool) (resyncStats, error) {
	p := &resyncPass{
		r: r, queues: queues, withFinished: withFinished, gen: r.state.BeginResync(), startMs: r.now().UnixMilli(),
		parents: map[string]string{}, doneParents: map[string]string{}, noReq: map[string]string{}, defs: map[string]bool{},
	}
	for _, step := range []func(context.Context) error{p.listQueues, p.listChildren, p.describeDefinitions, p.describeVanished} {
		if err := step(ctx); err != nil {
			return p.stats, err
		}
	}
	return p.stats, nil
}

// resyncPass is one resync in progress.
type resyncPass struct {
	r            *resyncer
	queues       []string
	withFinished bool
	gen          uint32
	startMs      int64
	stats        resyncStats
	parents      map[string]string // active array parent id → queue
	doneParents  map[string]string // finished ones (withFinished only)
	noReq        map[string]string // job id → definition ARN, for jobs without a known request
	defs         map[string]bool
}

// apply applies one listed page of queue.
func (p *resyncPass) apply(queue string, sums []batchtypes.JobSummary, pageMs int64) {
	jobs := make([]listedJob, 0, len(sums))
	for i := range sums {
		lj, ok := fromSummary(&sums[i])
		if !ok {
			continue
		}
		jobs = append(jobs, lj)
		if lj.kind == kindArrayParent {
			if active(lj.status) {
				p.parents[lj.id] = queue
			} else if p.withFinished {
				p.doneParents[lj.id] = queue
			}
		}
		if lj.definitionARN != "" {
			p.defs[lj.definitionARN] = true
		}
	}
	p.stats.Pages++
	p.stats.Listed += len(jobs)
	for id, arn := range p.r.state.ApplyListing(queue, p.gen, pageMs, jobs) {
		p.noReq[id] = arn
	}
}

// listQueues lists every queue's jobs in each status.
func (p *resyncPass) listQueues(ctx context.Context) error {
	r := p.r
	statuses := activeStatuses
	if p.withFinished {
		statuses = append(append([]batchtypes.JobStatus(nil), activeStatuses...), finishedStatuses...)
	}
	for _, q := range p.queues {
		for _, st := range statuses {
			in := &awsbatch.ListJobsInput{JobQueue: aws.String(q), JobStatus: st, MaxResults: aws.Int32(int32(r.cfg.PageSize))}
			err := r.listAll(ctx, in, func(sums []batchtypes.JobSummary, pageMs int64) { p.apply(q, sums, pageMs) })
			if err != nil {
				return fmt.Errorf("list %s jobs of queue %s: %w", st, q, err)
			}
		}
	}
	return nil
}

// listChildren lists the children of array jobs: ListJobs by queue does
// not return them. DescribeJobs on the active parents tells which statuses
// have children at all (statusSummary), so empty statuses cost no call.
// After a start, the finished children of every array are listed too.
func (p *resyncPass) listChildren(ctx context.Context) error {
	r := p.r
	p.stats.Parents = len(p.parents)
	ids := append(sortedKeys(p.parents), sortedKeys(p.doneParents)...)
	summaries := map[string]map[string]int32{}
	err := r.describe(ctx, ids, func(d *batchtypes.JobDetail, sent int64) {
		if d.ArrayProperties != nil && d.ArrayProperties.StatusSummary != nil {
			summaries[aws.ToString(d.JobId)] = d.ArrayProperties.StatusSummary
		}
		if j, err := awsclient.JobFromDetail(d); err == nil {
			r.state.ApplyDetail(&j, sent)
		}
	})
	if err != nil {
		return fmt.Errorf("describe array jobs: %w", err)
	}
	for _, id := range ids {
		sum, known := summaries[id]
		q, isActive := p.parents[id]
		if !isActive {
			q = p.doneParents[id]
		}
		for _, st := range childStatuses(isActive, p.withFinished) {
			if known && sum[string(st)] == 0 {
				continue
			}
			in := &awsbatch.ListJobsInput{ArrayJobId: aws.String(id), JobStatus: st, MaxResults: aws.Int32(int32(r.cfg.PageSize))}
			err := r.listAll(ctx, in, func(sums []batchtypes.JobSummary, pageMs int64) { p.apply(q, sums, pageMs) })
			if err != nil {
				return fmt.Errorf("list %s children of array job %s: %w", st, id, err)
			}
		}
	}
	return nil
}

// describeDefinitions reads the requests of job definitions, for jobs
// known only from listings, and the tags of the definitions of jobs with
// propagateTags.
func (p *resyncPass) describeDefinitions(ctx context.Context) error {
	r := p.r
	reqs, tags, err := r.describeDefinitions(ctx, p.defs)
	if err != nil {
		return err
	}
	p.stats.Definition = len(reqs)
	r.state.SetDefinitionRequests(reqs, p.noReq)
	r.state.SetDefinitionTags(tags)
	return nil
}

// describeVanished looks up the jobs the listing did not find where the
// state had them, untouched since the resync began: DescribeJobs tells
// what became of them; those AWS no longer knows are forgotten.
func (p *resyncPass) describeVanished(ctx context.Context) error {
	r := p.r
	vanished := r.state.EndResync(p.gen, p.startMs)
	p.stats.Vanished = len(vanished)
	found := map[string]bool{}
	err := r.describe(ctx, vanished[:min(len(vanished), max(r.cfg.DescribeLimit, 0))], func(d *batchtypes.JobDetail, sent int64) {
		j, err := awsclient.JobFromDetail(d)
		if err != nil {
			return
		}
		found[j.ID] = true
		r.state.ApplyDetail(&j, sent)
		p.stats.Described++
	})
	if err != nil {
		return fmt.Errorf("describe vanished jobs: %w", err)
	}
	var forget []string
	for _, id := range vanished {
		if !found[id] {
			forget = append(forget, id)
		}
	}
	p.stats.Forgotten = r.state.Forget(forget, p.startMs)
	return nil
}

// describe calls DescribeJobs on ids, 100 at a time, handing each job and
// the time its request was sent to fn.
func (r *resyncer) describe(ctx context.Context, ids []string, fn func(d *batchtypes.JobDetail, sentMs int64)) error {
	for start := 0; start < len(ids); start += 100 {
		chunk := ids[start:min(len(ids), start+100)]
		var sent int64
		before := r.now().UnixMilli()
		out, err := r.api.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: chunk}, sentAt(&sent, r.now))
		if err != nil {
			return err
		}
		if sent == 0 {
			sent = before
		}
		for i := range out.Jobs {
			fn(&out.Jobs[i], sent)
		}
	}
	return nil
}

// listAll pages through ListJobs, handing each page and the time its
// request was sent to fn.
func (r *resyncer) listAll(ctx context.Context, in *awsbatch.ListJobsInput, fn func([]batchtypes.JobSummary, int64)) error {
	for {
		var sent int64
		before := r.now().UnixMilli()
		out, err := r.api.ListJobs(ctx, in, sentAt(&sent, r.now))
		if err != nil {
			return err
		}
		if sent == 0 {
			sent = before
		}
		fn(out.JobSummaryList, sent)
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// finishedStatuses are listed at the first resync after a start.
var finishedStatuses = []batchtypes.JobStatus{batchtypes.JobStatusSucceeded, batchtypes.JobStatusFailed}

// fromSummary converts a ListJobs summary; nodes of multi-node jobs are
// skipped (the main job counts).
func fromSummary(s *batchtypes.JobSummary) (listedJob, bool) {
	st := statusIndex(batch.Status(s.Status))
	if st == stNone || aws.ToString(s.JobId) == "" {
		return listedJob{}, false
	}
	lj := listedJob{
		id: aws.ToString(s.JobId), status: st, kind: kindSingle,
		createdMs: aws.ToInt64(s.CreatedAt), startedMs: aws.ToInt64(s.StartedAt), stoppedMs: aws.ToInt64(s.StoppedAt),
		definitionARN: aws.ToString(s.JobDefinition),
	}
	if n := s.NodeProperties; n != nil {
		if n.NodeIndex != nil && !aws.ToBool(n.IsMainNode) {
			return listedJob{}, false
		}
		if aws.ToInt32(n.NumNodes) > 0 {
			lj.kind = kindMultinode
		}
	}
	if a := s.ArrayProperties; a != nil {
		switch {
		case a.Index != nil:
			lj.kind = kindArrayChild
		case aws.ToInt32(a.Size) > 0:
			lj.kind = kindArrayParent
		}
	}
	return lj, true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describeDefinitions describes the definitions of defs whose request is
// not known and those whose tags the state wants, 100 per call: their
// requests, and the tags of every one described (empty for a definition
// without tags or no longer found, so it is not asked again).
func (r *resyncer) describeDefinitions(ctx context.Context, defs map[string]bool) (map[string]shape, map[string]map[string]string, error) {
	wanted := r.state.DefinitionsWantingTags()
	ask := map[string]bool{}
	for arn := range defs {
		if !r.state.KnownDefinition(arn) {
			ask[arn] = true
		}
	}
	tags := map[string]map[string]string{}
	for _, arn := range wanted {
		ask[arn] = true
		tags[arn] = map[string]string{}
	}
	unknown := make([]string, 0, len(ask))
	for arn := range ask {
		unknown = append(unknown, arn)
	}
	sort.Strings(unknown)
	reqs := map[string]shape{}
	for start := 0; start < len(unknown); start += 100 {
		in := &awsbatch.DescribeJobDefinitionsInput{JobDefinitions: unknown[start:min(len(unknown), start+100)], MaxResults: aws.Int32(100)}
		for {
			out, err := r.api.DescribeJobDefinitions(ctx, in)
			if err != nil {
				return nil, nil, fmt.Errorf("describe job definitions: %w", err)
			}
			for i := range out.JobDefinitions {
				d := &out.JobDefinitions[i]
				arn := aws.ToString(d.JobDefinitionArn)
				if req, ok := requestOfDefinition(d); ok {
					reqs[arn] = req
				}
				if _, want := tags[arn]; want && d.Tags != nil {
					tags[arn] = d.Tags
				}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return reqs, tags, nil
}
