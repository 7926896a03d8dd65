package exporter

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/batchwatch/batchwatch/batch"
)

// consume is one SQS receiver: long-poll, apply each event to the state,
// then delete the batch. A crash between the two redelivers the batch,
// which the state takes as duplicates. It returns when ctx ends; AWS errors
// are logged, counted and retried with backoff.
func (x *Exporter) consume(ctx context.Context, id int) {
	log := x.log.WithField("receiver", id)
	backoff := time.Second
	for ctx.Err() == nil {
		out, err := x.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(x.cfg.SQSQueueURL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     int32(x.cfg.SQSWaitTime / time.Second),
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			x.awsResult("sqs", err)
			log.WithError(err).Warn("receive failed")
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		x.awsResult("sqs", nil)
		if len(out.Messages) == 0 {
			continue
		}
		x.applyMessages(out.Messages)
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, 0, len(out.Messages))
		for i, m := range out.Messages {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		// Delete even when the context ends: the events are applied.
		delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		res, err := x.sqs.DeleteMessageBatch(delCtx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(x.cfg.SQSQueueURL), Entries: entries})
		cancel()
		switch {
		case err != nil:
			x.awsResult("sqs", err)
			log.WithError(err).Warn("delete failed")
		case len(res.Failed) > 0:
			log.WithField("failed", len(res.Failed)).Warn("delete failed for some messages")
		}
	}
}

// applyMessages parses and applies a received batch.
func (x *Exporter) applyMessages(msgs []sqstypes.Message) {
	arrival := x.now().UnixMilli()
	for _, m := range msgs {
		ev, err := batch.Parse([]byte(aws.ToString(m.Body)))
		if err != nil {
			x.jm.events.WithLabelValues(resultIgnored).Inc()
			x.log.WithError(err).WithField("message_id", aws.ToString(m.MessageId)).Debug("message is no Batch event")
			continue
		}
		x.stateFor(ev).ApplyEvent(ev, arrival)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
