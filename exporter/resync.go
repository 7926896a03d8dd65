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
	var stats resyncStats
	gen := r.state.BeginResync()
	startMs := r.now().UnixMilli()
	parents := map[string]string{}     // active array parent id → queue
	doneParents := map[string]string{} // finished ones (withFinished only)
	noReq := map[string]string{}       // job id → definition ARN, for jobs without a known request
	defs := map[string]bool{}

	apply := func(queue string, sums []batchtypes.JobSummary, pageMs int64) {
		jobs := make([]listedJob, 0, len(sums))
		for i := range sums {
			lj, ok := fromSummary(&sums[i])
			if !ok {
				continue
			}
			jobs = append(jobs, lj)
			if lj.kind == kindArrayParent {
				if active(lj.status) {
					parents[lj.id] = queue
				} else if withFinished {
					doneParents[lj.id] = queue
				}
			}
			if lj.definitionARN != "" {
				defs[lj.definitionARN] = true
			}
		}
		stats.Pages++
		stats.Listed += len(jobs)
		for id, arn := range r.state.ApplyListing(queue, gen, pageMs, jobs) {
			noReq[id] = arn
		}
	}

	statuses := activeStatuses
	if withFinished {
		statuses = append(append([]batchtypes.JobStatus(nil), activeStatuses...), finishedStatuses...)
	}
	for _, q := range queues {
		for _, st := range statuses {
			in := &awsbatch.ListJobsInput{JobQueue: aws.String(q), JobStatus: st, MaxResults: aws.Int32(int32(r.cfg.PageSize))}
			err := r.listAll(ctx, in, func(sums []batchtypes.JobSummary, pageMs int64) { apply(q, sums, pageMs) })
			if err != nil {
				return stats, fmt.Errorf("list %s jobs of queue %s: %w", st, q, err)
			}
		}
	}

	// Array children: ListJobs by queue does not return them. DescribeJobs
	// on the active parents tells which statuses have children at all
	// (statusSummary), so empty statuses cost no call. After a start, the
	// finished children of every array are listed too.
	stats.Parents = len(parents)
	ids := append(sortedKeys(parents), sortedKeys(doneParents)...)
	summaries := map[string]map[string]int32{}
	for start := 0; start < len(ids); start += 100 {
		chunk := ids[start:min(len(ids), start+100)]
		var sent int64
		before := r.now().UnixMilli()
		out, err := r.api.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: chunk}, sentAt(&sent, r.now))
		if err != nil {
			return stats, fmt.Errorf("describe array jobs: %w", err)
		}
		if sent == 0 {
			sent = before
		}
		for i := range out.Jobs {
			d := &out.Jobs[i]
			if d.ArrayProperties != nil && d.ArrayProperties.StatusSummary != nil {
				summaries[aws.ToString(d.JobId)] = d.ArrayProperties.StatusSummary
			}
			if j, err := jobFromDetail(d); err == nil {
				r.state.ApplyDetail(&j, sent)
			}
		}
	}
	for _, p := range ids {
		sum, known := summaries[p]
		q, isActive := parents[p]
		if !isActive {
			q = doneParents[p]
		}
		for _, st := range childStatuses(isActive, withFinished) {
			if known && sum[string(st)] == 0 {
				continue
			}
			in := &awsbatch.ListJobsInput{ArrayJobId: aws.String(p), JobStatus: st, MaxResults: aws.Int32(int32(r.cfg.PageSize))}
			err := r.listAll(ctx, in, func(sums []batchtypes.JobSummary, pageMs int64) { apply(q, sums, pageMs) })
			if err != nil {
				return stats, fmt.Errorf("list %s children of array job %s: %w", st, p, err)
			}
		}
	}

	// Requests of job definitions, for jobs known only from listings.
	var unknown []string
	for arn := range defs {
		if !r.state.KnownDefinition(arn) {
			unknown = append(unknown, arn)
		}
	}
	sort.Strings(unknown)
	reqs := map[string]shape{}
	for start := 0; start < len(unknown); start += 100 {
		chunk := unknown[start:min(len(unknown), start+100)]
		in := &awsbatch.DescribeJobDefinitionsInput{JobDefinitions: chunk, MaxResults: aws.Int32(100)}
		for {
			out, err := r.api.DescribeJobDefinitions(ctx, in)
			if err != nil {
				return stats, fmt.Errorf("describe job definitions: %w", err)
			}
			for i := range out.JobDefinitions {
				d := &out.JobDefinitions[i]
				if req, ok := requestOfDefinition(d); ok {
					reqs[aws.ToString(d.JobDefinitionArn)] = req
				}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	stats.Definition = len(reqs)
	r.state.SetDefinitionRequests(reqs, noReq)

	// Jobs the listing did not find where the state had them, untouched
	// since the resync began: DescribeJobs tells what became of them.
	vanished := r.state.EndResync(gen, startMs)
	stats.Vanished = len(vanished)
	describe := vanished[:min(len(vanished), max(r.cfg.DescribeLimit, 0))]
	found := map[string]bool{}
	for start := 0; start < len(describe); start += 100 {
		chunk := describe[start:min(len(describe), start+100)]
		var sent int64
		before := r.now().UnixMilli()
		out, err := r.api.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: chunk}, sentAt(&sent, r.now))
		if err != nil {
			return stats, fmt.Errorf("describe vanished jobs: %w", err)
		}
		if sent == 0 {
			sent = before
		}
		for i := range out.Jobs {
			j, err := jobFromDetail(&out.Jobs[i])
			if err != nil {
				continue
			}
			found[j.ID] = true
			r.state.ApplyDetail(&j, sent)
			stats.Described++
		}
	}
	var forget []string
	for _, id := range vanished {
		if !found[id] {
			forget = append(forget, id)
		}
	}
	stats.Forgotten = r.state.Forget(forget, startMs)
	return stats, nil
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
