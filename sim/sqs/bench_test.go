package sqs_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/sim/sqs"
)

// benchBody is about the size of a Batch job state change event.
var benchBody = `{"version":"0","id":"c8f9c4b5-76e5-d76a-f980-7011e206042b","detail-type":"Batch Job State Change","source":"aws.batch","account":"123456789012","time":"2026-11-21T10:00:00Z","region":"us-east-1","resources":["arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"],"detail":{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8","jobName":"model-build-account-42","jobId":"4c7599ae-0a82-49aa-ba5a-4727fcce14a8","jobQueue":"arn:aws:batch:us-east-1:123456789012:job-queue/medium","status":"RUNNABLE","attempts":[],"createdAt":1795300000000,"retryStrategy":{"attempts":3,"evaluateOnExit":[{"onStatusReason":"Host EC2*","action":"RETRY"}]},"dependsOn":[],"jobDefinition":"arn:aws:batch:us-east-1:123456789012:job-definition/model-build:7","parameters":{"account":"42","size":"medium"},"container":{"image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/model-build:latest","command":["build","--account","42"],"resourceRequirements":[{"value":"2","type":"VCPU"},{"value":"8192","type":"MEMORY"}],"environment":[],"mountPoints":[],"ulimits":[],"networkInterfaces":[],"secrets":[]},"tags":{"team":"ml","costcenter":"models"},"propagateTags":true,"platformCapabilities":["EC2"]}}`

// BenchmarkReceiveDelete drains b.N messages with the real SDK client:
// ReceiveMessage(10) + DeleteMessageBatch loops from several callers, the
// consumer loop of batchwatch ingest. Client and server share the machine.
func BenchmarkReceiveDelete(b *testing.B) {
	for _, callers := range []int{4, 8, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			e := newEnv(b)
			cfg := awsConfig()
			cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.MaxIdleConnsPerHost = callers
			})
			client := (&awsclient.Config{EndpointURL: e.http.URL}).SQS(cfg, awsclient.Options{})
			url := e.createQueue(b, "bench", nil)
			bodies := make([]string, b.N)
			for i := range bodies {
				bodies[i] = benchBody
			}
			require.NoError(b, e.srv.SendBatch("bench", bodies))
			b.SetBytes(int64(len(benchBody)))
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			drain(b, client, url, callers)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			// CPU per message, client and server together: 2 cores divided by
			// it is the rate this machine would reach without neighbours.
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

func drain(b *testing.B, c *awssqs.Client, url string, callers int) {
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
			for {
				out, err := c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
				if err != nil {
					b.Error(err)
					return
				}
				if len(out.Messages) == 0 {
					return
				}
				es := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
				for j, m := range out.Messages {
					es[j] = types.DeleteMessageBatchRequestEntry{Id: &ids[j], ReceiptHandle: m.ReceiptHandle}
				}
				if _, err := c.DeleteMessageBatch(context.Background(), &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: es}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSendBatch measures the simulator's own publishing path.
func BenchmarkSendBatch(b *testing.B) {
	e := newEnv(b)
	e.createQueue(b, "bench", nil)
	bodies := make([]string, 10)
	for i := range bodies {
		bodies[i] = strings.Clone(benchBody)
	}
	b.SetBytes(int64(10 * len(benchBody)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.srv.SendBatch("bench", bodies); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkHandlerReceiveDelete measures the server alone: ServeHTTP for
// ReceiveMessage(10) and DeleteMessageBatch, without network or SDK.
func BenchmarkHandlerReceiveDelete(b *testing.B) {
	srv := sqs.NewServer(sqs.Options{})
	defer srv.Close()
	if _, err := srv.CreateQueue("bench", nil); err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, 10*b.N)
	for i := range bodies {
		bodies[i] = benchBody
	}
	if err := srv.SendBatch("bench", bodies); err != nil {
		b.Fatal(err)
	}
	recvBody := []byte(`{"QueueUrl":"http://localhost/123456789012/bench","MaxNumberOfMessages":10}`)
	call := func(target string, body []byte) []byte {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	const key = `"ReceiptHandle":"`
	b.SetBytes(int64(10 * len(benchBody)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := call("AmazonSQS.ReceiveMessage", recvBody)
		del := []byte(`{"QueueUrl":"http://localhost/123456789012/bench","Entries":[`)
		for n := 0; ; n++ {
			j := bytes.Index(out, []byte(key))
			if j < 0 {
				break
			}
			out = out[j+len(key):]
			h := out[:bytes.IndexByte(out, '"')]
			if n > 0 {
				del = append(del, ',')
			}
			del = fmt.Appendf(del, `{"Id":"%d","ReceiptHandle":"%s"}`, n, h)
		}
		del = append(del, "]}"...)
		call("AmazonSQS.DeleteMessageBatch", del)
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
