package eventbridge_test

import (
	"testing"

	"github.com/batchwatch/batchwatch/sim/eventbridge"
	"github.com/batchwatch/batchwatch/sim/sqs"
)

// BenchmarkPublish is the simulator's path for each Batch event: match the
// rules of a bus and deliver to an SQS queue.
func BenchmarkPublish(b *testing.B) {
	queues := sqs.NewServer(sqs.Options{})
	defer queues.Close()
	eb := eventbridge.NewServer(eventbridge.Options{Queues: queues})
	if _, err := queues.CreateQueue("events", nil); err != nil {
		b.Fatal(err)
	}
	if err := eb.AddRule("default", "batch", `{"source":["aws.batch"],"detail-type":["Batch Job State Change"]}`, "events"); err != nil {
		b.Fatal(err)
	}
	if err := eb.AddRule("default", "failed", `{"source":["aws.batch"],"detail":{"status":["FAILED"]}}`); err != nil {
		b.Fatal(err)
	}
	ev := []byte(batchEvent)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := eb.Publish("default", ev); err != nil {
			b.Fatal(err)
		}
	}
}
