// Command sqsloop drains an SQS queue with the bare consumer loop —
// ReceiveMessage(10) then DeleteMessageBatch, from several callers — and
// prints the rate as one JSON line. It is the ceiling `make bench-sqs`
// compares batchwatch ingest with: nothing but the SDK and the server.
//
//	sqsloop --endpoint http://127.0.0.1:4566 --queue batch-events --callers 8 --expect 250000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/batchwatch/batchwatch/awsclient"
)

// result is the JSON line sqsloop prints.
type result struct {
	Queue             string  `json:"queue"`
	Callers           int     `json:"callers"`
	Messages          int64   `json:"messages"`
	Seconds           float64 `json:"seconds"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	Receives          int64   `json:"receive_calls"`
	Errors            int64   `json:"errors"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sqsloop:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sqsloop", flag.ContinueOnError)
	endpoint := fs.String("endpoint", os.Getenv("AWS_ENDPOINT_URL"), "SQS endpoint URL (default: $AWS_ENDPOINT_URL, else AWS)")
	queue := fs.String("queue", "", "queue name or URL to drain")
	callers := fs.Int("callers", 8, "concurrent receive+delete loops")
	expect := fs.Int64("expect", 0, "stop after this many messages (long-polling until they come); 0 = stop when the queue is empty")
	region := fs.String("region", "", "AWS region (default: the SDK's sources, else us-east-1)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *queue == "" || *callers < 1 {
		fs.Usage()
		return errors.New("--queue and --callers >= 1 are required")
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ac := &awsclient.Config{Region: *region, EndpointURL: *endpoint}
	cfg, err := awsclient.Load(ctx, ac)
	if err != nil {
		return err
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("sqsloop", "sqsloop", "")
	} else if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		// Emulators take any credentials; say so rather than fail.
		cfg.Credentials = credentials.NewStaticCredentialsProvider("sqsloop", "sqsloop", "")
	}
	// One idle connection per caller, or the transport closes and reopens them.
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 2 * *callers
		t.MaxIdleConnsPerHost = 2 * *callers
	})
	client := ac.SQS(cfg, awsclient.Options{})

	url := *queue
	for !strings.Contains(url, "://") {
		out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: queue})
		var missing *types.QueueDoesNotExist
		if errors.As(err, &missing) && *expect > 0 && ctx.Err() == nil {
			// Waiting for messages: the producer may not have made the queue yet.
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("get queue URL: %w", err)
		}
		url = aws.ToString(out.QueueUrl)
	}

	var (
		received, receives, errs atomic.Int64
		firstNs, lastNs          atomic.Int64
		wg                       sync.WaitGroup
	)
	wait := int32(0)
	if *expect > 0 {
		wait = 1
	}
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	for i := 0; i < *callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && (*expect == 0 || received.Load() < *expect) {
				out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait})
				receives.Add(1)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						fmt.Fprintln(os.Stderr, "sqsloop: receive:", err)
					}
					continue
				}
				if len(out.Messages) == 0 {
					if *expect == 0 {
						return
					}
					continue
				}
				firstNs.CompareAndSwap(0, time.Now().UnixNano())
				es := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
				for j, m := range out.Messages {
					es[j] = types.DeleteMessageBatchRequestEntry{Id: &ids[j], ReceiptHandle: m.ReceiptHandle}
				}
				del, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: es})
				if err != nil {
					errs.Add(1)
					fmt.Fprintln(os.Stderr, "sqsloop: delete:", err)
					continue
				}
				errs.Add(int64(len(del.Failed)))
				received.Add(int64(len(del.Successful)))
				lastNs.Store(time.Now().UnixNano())
			}
		}()
	}
	wg.Wait()

	r := result{Queue: url, Callers: *callers, Messages: received.Load(), Receives: receives.Load(), Errors: errs.Load()}
	if f, l := firstNs.Load(), lastNs.Load(); l > f {
		r.Seconds = time.Duration(l - f).Seconds()
		r.MessagesPerSecond = float64(r.Messages) / r.Seconds
	}
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if *expect > 0 && r.Messages < *expect {
		return fmt.Errorf("drained %d of %d messages: %w", r.Messages, *expect, ctx.Err())
	}
	return nil
}
