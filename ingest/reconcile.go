package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/batch"
)

// BatchAPI is the part of the Batch client reconcile uses.
type BatchAPI interface {
	DescribeJobQueues(ctx context.Context, in *awsbatch.DescribeJobQueuesInput, opts ...func(*awsbatch.Options)) (*awsbatch.DescribeJobQueuesOutput, error)
	ListJobs(ctx context.Context, in *awsbatch.ListJobsInput, opts ...func(*awsbatch.Options)) (*awsbatch.ListJobsOutput, error)
	DescribeJobs(ctx context.Context, in *awsbatch.DescribeJobsInput, opts ...func(*awsbatch.Options)) (*awsbatch.DescribeJobsOutput, error)
}

// Reconcile reads jobs from the Batch API — ListJobs per queue and status
// (every page), DescribeJobs 100 ids at a time — and writes what it finds
// as observations of the jobs (not as events): it fills in SUBMITTED jobs,
// which emit no event, and transitions whose events were lost. The Batch
// client should carry a rate limiter (--reconcile.rate): every Batch call of
// the account shares about 50 requests/s.
type Reconcile struct {
	API BatchAPI
	// Accounts, when set, holds each account's Batch client (through the
	// role assumed for it, with a limiter of its own: each account has its
	// own budget): a pass reconciles every account in turn, and API is
	// not used.
	Accounts map[string]BatchAPI
	Queues   []string // names or ARNs; empty: all queues (DescribeJobQueues)
	Statuses []types.JobStatus
	Log      *logrus.Entry
	Metrics  *Metrics
	Now      func() time.Time
}

// DefaultReconcileStatuses are listed when none are configured.
var DefaultReconcileStatuses = []types.JobStatus{
	types.JobStatusSubmitted, types.JobStatusPending, types.JobStatusRunnable,
	types.JobStatusStarting, types.JobStatusRunning, types.JobStatusSucceeded, types.JobStatusFailed,
}

// Run makes one reconcile pass and returns the number of jobs submitted to
// the pipeline.
func (r *Reconcile) Run(ctx context.Context, p *Pipeline) (int, error) {
	if len(r.Accounts) > 0 {
		return r.runAccounts(ctx, p)
	}
	queues := r.Queues
	if len(queues) == 0 {
		var err error
		if queues, err = r.allQueues(ctx); err != nil {
			return 0, err
		}
	}
	statuses := r.Statuses
	if len(statuses) == 0 {
		statuses = DefaultReconcileStatuses
	}
	// List everything first and describe in full pages of 100: the Batch
	// budget is shared by the whole account.
	var ids []string
	for _, q := range queues {
		for _, st := range statuses {
			found, err := r.list(ctx, &awsbatch.ListJobsInput{JobQueue: aws.String(q), JobStatus: st}, fmt.Sprintf("%s jobs of %s", st, q))
			if err != nil {
				return 0, err
			}
			ids = append(ids, found...)
		}
	}
	parents, total, err := r.describeAll(ctx, ids, p)
	if err != nil {
		return total, err
	}
	// Queue listings show array parents only; their children are listed by
	// arrayJobId, only in the statuses the parent's summary says are not
	// empty.
	var children []string
	for _, parent := range parents {
		for _, st := range statuses {
			if parent.StatusSummary[string(st)] == 0 {
				continue
			}
			kids, err := r.list(ctx, &awsbatch.ListJobsInput{ArrayJobId: aws.String(parent.ID), JobStatus: st}, fmt.Sprintf("%s children of %s", st, parent.ID))
			if err != nil {
				return total, err
			}
			children = append(children, kids...)
		}
	}
	_, n, err := r.describeAll(ctx, children, p)
	total += n
	if err != nil {
		return total, err
	}
	r.Metrics.ReconcileLastOK.Set(float64(r.Now().UnixNano()) / 1e9)
	r.Log.WithField("jobs", total).WithField("queues", len(queues)).Info("reconcile pass done")
	return total, nil
}

// runAccounts makes one pass per account, in account order; an account that
// fails does not stop the others.
func (r *Reconcile) runAccounts(ctx context.Context, p *Pipeline) (int, error) {
	accounts := make([]string, 0, len(r.Accounts))
	for a := range r.Accounts {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	total := 0
	var errs []error
	for _, a := range accounts {
		one := *r
		one.API, one.Accounts, one.Log = r.Accounts[a], nil, r.Log.WithField("account", a)
		n, err := one.Run(ctx, p)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", a, err))
		}
	}
	return total, errors.Join(errs...)
}

func (r *Reconcile) allQueues(ctx context.Context) ([]string, error) {
	var out []string
	pg := awsbatch.NewDescribeJobQueuesPaginator(r.API, &awsbatch.DescribeJobQueuesInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reconcile: describe job queues: %w", err)
		}
		for _, q := range page.JobQueues {
			out = append(out, aws.ToString(q.JobQueueName))
		}
	}
	return out, nil
}

// list pages through one ListJobs listing (1,000 per page).
func (r *Reconcile) list(ctx context.Context, in *awsbatch.ListJobsInput, what string) ([]string, error) {
	var ids []string
	in.MaxResults = aws.Int32(1000)
	pg := awsbatch.NewListJobsPaginator(r.API, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reconcile: list %s: %w", what, err)
		}
		for _, j := range page.JobSummaryList {
			ids = append(ids, aws.ToString(j.JobId))
		}
	}
	return ids, nil
}

// describeAll describes ids 100 at a time, submits them, and returns the
// array parents among them.
func (r *Reconcile) describeAll(ctx context.Context, ids []string, p *Pipeline) ([]batch.Job, int, error) {
	var parents []batch.Job
	total := 0
	for i := 0; i < len(ids); i += 100 {
		jobs, err := r.describe(ctx, ids[i:min(i+100, len(ids))], p)
		total += len(jobs)
		if err != nil {
			return parents, total, err
		}
		for _, j := range jobs {
			if j.IsArrayParent() {
				parents = append(parents, j)
			}
		}
	}
	return parents, total, nil
}

// describe calls DescribeJobs and parses the raw JSON of its answer with
// batchwatch's own parser, so reconciled jobs are normalized exactly like
// events (the SDK's Go types carry no JSON names).
func (r *Reconcile) describe(ctx context.Context, ids []string, p *Pipeline) ([]batch.Job, error) {
	var raw bytes.Buffer
	_, err := r.API.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: ids}, func(o *awsbatch.Options) {
		o.APIOptions = append(o.APIOptions, captureBody(&raw))
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile: describe %d jobs: %w", len(ids), err)
	}
	var out struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	if err := json.Unmarshal(raw.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("reconcile: DescribeJobs answer: %w", err)
	}
	now := r.Now()
	jobs := make([]batch.Job, 0, len(out.Jobs))
	for _, detail := range out.Jobs {
		job, err := batch.ParseJobDetail(detail)
		if err != nil {
			r.Log.WithError(err).Warn("reconcile: skipping job detail")
			continue
		}
		ev := &batch.Event{DetailType: "DescribeJobs", Time: now, Job: job, Raw: detail}
		// arn:aws:batch:<region>:<account>:job/<id>
		if parts := strings.SplitN(job.ARN, ":", 6); len(parts) == 6 {
			ev.Region, ev.Account = parts[3], parts[4]
		}
		if err := p.Submit(ctx, Message{Event: ev, ID: job.ID, Source: "reconcile", ReceivedAt: now}); err != nil {
			return jobs, err
		}
		jobs = append(jobs, job)
		r.Metrics.ReconcileJobs.Inc()
	}
	return jobs, nil
}

// captureBody copies the raw HTTP response body into buf before the SDK
// deserializes it.
func captureBody(buf *bytes.Buffer) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("batchwatchCaptureBody",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if err != nil {
					return out, md, err
				}
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
					body, rerr := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if rerr != nil {
						return out, md, fmt.Errorf("read DescribeJobs answer: %w", rerr)
					}
					buf.Reset()
					buf.Write(body)
					resp.Body = io.NopCloser(bytes.NewReader(body))
				}
				return out, md, nil
			}), middleware.After)
	}
}
