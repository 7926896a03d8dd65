//go:build integration

package ingest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// TestClickHouseRestartLosesNothing stops and restarts a private ClickHouse
// while ingest consumes a queue: inserts fail and are retried, messages stay
// in SQS until their insert succeeded, and jobs FINAL holds each job once.
func TestClickHouseRestartLosesNothing(t *testing.T) {
	ch := testenv.StartPrivateClickHouse(t)
	cfg := &store.Config{Addrs: []string{ch.Addr}, Database: "bw_restart", Username: "default",
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second, Compression: "none", MaxConns: 4}
	st, err := store.Open(cfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}

	env := newMotoQueue(t, testenv.UniqueName("bwrestart"))
	mix := newMix(99, time.Date(2026, 11, 19, 6, 0, 0, 0, time.UTC))
	mix.standard(48)
	evs := mix.events()
	for i := 0; i < len(evs); i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for k, ev := range evs[i:min(i+10, len(evs))] {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(k)), MessageBody: aws.String(string(ev.Envelope(fmt.Sprintf("restart-%04d", i+k)))),
			})
		}
		if _, err := env.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(env.queueURL), Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}

	m, stop := runIngest(t, st, env.sqs, env.queueURL)
	count := func() uint64 {
		var n uint64
		if err := st.Conn().QueryRow(context.Background(), "SELECT count() FROM "+st.Table("events")+" FINAL").Scan(&n); err != nil {
			return 0
		}
		return n
	}
	waitFor(t, "first inserts", 60*time.Second, func() bool { return count() > 0 })
	ch.Stop()
	time.Sleep(2 * time.Second) // receivers keep going; inserts fail and back off
	ch.Start()
	waitFor(t, "every event after the restart", 120*time.Second, func() bool {
		return count() == uint64(len(evs)) && env.approxMessages(t) == 0
	})
	stop()
	if testutil.ToFloat64(m.StoreErrors.WithLabelValues("insert")) == 0 {
		t.Error("no insert failed: the restart did not happen while ingest ran")
	}
	if n := count(); n != uint64(len(evs)) {
		t.Fatalf("events FINAL = %d, want %d", n, len(evs))
	}
	checkJobs(t, st, mix)
}
