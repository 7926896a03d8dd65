package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	API      BatchAPI
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
	total := 0
	for _, q := range queues {
		for _, st := range statuses {
			ids, err := r.list(ctx, q, st)
			if err != nil {
				return total, err
			}
			for i := 0; i < len(ids); i += 100 {
				n, err := r.describe(ctx, ids[i:min(i+100, len(ids))], p)
				total += n
				if err != nil {
					return total, err
				}
			}
		}
	}
	r.Metrics.ReconcileLastOK.Set(float64(r.Now().UnixNano()) / 1e9)
	r.Log.WithField("jobs", total).WithField("queues", len(queues)).Info("reconcile pass done")
	return total, nil
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

func (r *Reconcile) list(ctx context.Context, queue string, st types.JobStatus) ([]string, error) {
	var ids []string
	pg := awsbatch.NewListJobsPaginator(r.API, &awsbatch.ListJobsInput{
		JobQueue: aws.String(queue), JobStatus: st, MaxResults: aws.Int32(1000),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reconcile: list %s jobs of %s: %w", st, queue, err)
		}
		for _, j := range page.JobSummaryList {
			ids = append(ids, aws.ToString(j.JobId))
		}
	}
	return ids, nil
}

// describe calls DescribeJobs and parses the raw JSON of its answer with
// batchwatch's own parser, so reconciled jobs are normalized exactly like
// events (the SDK's Go types carry no JSON names).
func (r *Reconcile) describe(ctx context.Context, ids []string, p *Pipeline) (int, error) {
	var raw bytes.Buffer
	_, err := r.API.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: ids}, func(o *awsbatch.Options) {
		o.APIOptions = append(o.APIOptions, captureBody(&raw))
	})
	if err != nil {
		return 0, fmt.Errorf("reconcile: describe %d jobs: %w", len(ids), err)
	}
	var out struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	if err := json.Unmarshal(raw.Bytes(), &out); err != nil {
		return 0, fmt.Errorf("reconcile: DescribeJobs answer: %w", err)
	}
	now := r.Now()
	n := 0
	for _, detail := range out.Jobs {
		job, err := batch.ParseJobDetail(detail)
		if err != nil {
			r.Log.WithError(err).Warn("reconcile: skipping job detail")
			continue
		}
		ev := &batch.Event{DetailType: "DescribeJobs", Time: now, Job: job, Raw: detail}
		if err := p.Submit(ctx, Message{Event: ev, ID: job.ID, Source: "reconcile", ReceivedAt: now}); err != nil {
			return n, err
		}
		n++
		r.Metrics.ReconcileJobs.Inc()
	}
	return n, nil
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
