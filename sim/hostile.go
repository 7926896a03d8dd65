package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// HostileKinds are the kinds of bad messages HostileMessages makes, in the
// order it cycles through them.
func HostileKinds() []string {
	return []string{
		"invalid_json", "invalid_utf8", "wrong_types", "deep_nesting", "huge_string",
		"sql", "control_chars", "bad_sns", "not_an_object", "other_event",
	}
}

// HostileMessage is one bad message body and the kind of damage it has.
type HostileMessage struct {
	Kind string
	Body string
}

// hugeEvery: one message in this many is a 256 KiB one (they dominate the
// bytes: 10,000 messages carry about 10 MiB of them at 1 in 250).
const hugeEvery = 250

// HostileMessages returns n bodies no consumer of Batch events may accept:
// each is invalid JSON, not an object, or an envelope without the
// detail-type, detail, jobId or id a Batch event needs, and each carries one
// kind of hostile content (HostileKinds). They are what SQS itself accepts
// (valid Unicode, at most 256 KiB): invalid UTF-8 arrives as JSON escapes of
// lone surrogates, control characters escaped or as tabs and newlines.
func HostileMessages(n int, seed uint64) []HostileMessage {
	r := rand.New(rand.NewPCG(seed, seed^0xbadbadbad))
	kinds := HostileKinds()
	out := make([]HostileMessage, 0, n)
	for i := range n {
		kind := kinds[i%len(kinds)]
		if kind == "huge_string" && (i/len(kinds))%(hugeEvery/len(kinds)) != 0 {
			kind = "wrong_types"
		}
		out = append(out, HostileMessage{Kind: kind, Body: hostileBody(kind, i, r)})
	}
	return out
}

func hostileBody(kind string, i int, r *rand.Rand) string {
	id := fmt.Sprintf("hostile-%06d", i)
	switch kind {
	case "invalid_json":
		full := fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"Batch Job State Change","source":"aws.batch","detail":{"jobId":"j-%d","status":"RUNNING"}}`, id, i)
		return full[:1+r.IntN(len(full)-2)]
	case "invalid_utf8":
		return fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change\ud800","detail":{"jobId":"\udfff\ud800%d","jobName":"\udc80"}}`, id, i)
	case "wrong_types":
		return wrongTypes(id, i)
	case "deep_nesting":
		depth := 301 + r.IntN(5000)
		return fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change","detail":%s{"jobId":"j-%d"}%s}`,
			id, strings.Repeat("[", depth), i, strings.Repeat("]", depth))
	case "huge_string":
		head := fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change","detail":{"jobName":"`, id)
		tail := `"}}`
		return head + strings.Repeat("A", 256*1024-len(head)-len(tail)) + tail
	case "sql":
		return fmt.Sprintf(`{"id":"%s'; DROP TABLE events; --","detail-type":"Batch Job State Change' OR '1'='1","detail":{"jobId":"1; DELETE FROM jobs WHERE 1=1 -- %d","jobQueue":"\"; TRUNCATE TABLE quarantine; --"}}`, id, i)
	case "control_chars":
		if i%2 == 0 {
			return fmt.Sprintf("{\"id\":%q,\"detail-type\":\"Batch Job\tState\nChange\",\"detail\":{\"jobId\":\"j\r\n%d\"}}", id, i)
		}
		return fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change\u0000\u001b[31m","detail":{"jobId":"\u0007\u0008%d"}}`, id, i)
	case "bad_sns":
		return badSNS(id, i)
	case "not_an_object":
		return []string{`[{"id":"` + id + `"}]`, `"` + id + `"`, `12345`, `null`, " \t\n ", "<xml>" + id + "</xml>"}[i%6]
	}
	// other_event: a well-formed EventBridge event of another service.
	return fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2026-11-20T06:00:00Z","region":"us-east-1","resources":[],"detail":{"instance-id":"i-%08x","state":"terminated"}}`, id, i)
}

func wrongTypes(id string, i int) string {
	switch i % 4 {
	case 0:
		return fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change","detail":{"jobId":%d,"status":["RUNNING"],"createdAt":"soon"}}`, id, i)
	case 1:
		return fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change","detail":"jobId=%d"}`, id, i)
	case 2:
		return fmt.Sprintf(`{"id":%q,"detail-type":["Batch Job State Change"],"detail":{"jobId":"j-%d"}}`, id, i)
	}
	return fmt.Sprintf(`{"id":{"v":%q},"detail-type":"Batch Job State Change","detail":{"jobId":"j-%d","attempts":"many"}}`, id, i)
}

func badSNS(id string, i int) string {
	inner, _ := json.Marshal(fmt.Sprintf(`{"id":%q,"detail-type":"Batch Job State Change","detail":{"jobId":"j-%d"`, id, i))
	switch i % 4 {
	case 0: // the message is truncated JSON
		return fmt.Sprintf(`{"Type":"Notification","MessageId":%q,"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":%s}`, id, inner)
	case 1: // the message is an object, not a string
		return fmt.Sprintf(`{"Type":"Notification","MessageId":%q,"Message":{"id":"x","detail-type":"Batch Job State Change","detail":{"jobId":"j"}}}`, id)
	case 2: // SNS in SNS
		nested, _ := json.Marshal(fmt.Sprintf(`{"Type":"Notification","MessageId":"%s-inner","Message":"{}"}`, id))
		return fmt.Sprintf(`{"Type":"Notification","MessageId":%q,"Message":%s}`, id, nested)
	}
	// the message is not JSON at all
	return fmt.Sprintf(`{"Type":"Notification","MessageId":%q,"Message":"Batch job j-%d changed state"}`, id, i)
}

// HostileConfig mixes bad messages into a queue during the run.
type HostileConfig struct {
	// Count bad messages (HostileMessages) are sent to Queue, spread
	// evenly over Over of simulated time from the start (default 24h);
	// what is left when the workload is done is sent then.
	Count int
	Queue string
	Over  time.Duration
}

// checkHostile refuses a hostile queue the simulator does not have.
func (s *Sim) checkHostile() error {
	if s.cfg.Hostile.Count <= 0 {
		return nil
	}
	if _, _, _, err := s.msg.queues.Stats(s.cfg.Hostile.Queue); err != nil {
		return fmt.Errorf("sim: hostile messages: %w", err)
	}
	return nil
}

// startHostile starts sendHostile when bad messages are configured; the
// channel is closed once they are all sent (at once when there are none).
func (s *Sim) startHostile(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.cfg.Hostile.Count <= 0 {
		s.hostileSent.Store(true)
		close(done)
		return done
	}
	go func() {
		defer close(done)
		defer s.hostileSent.Store(true)
		if err := s.sendHostile(ctx); err != nil {
			s.log.WithError(err).Error("sending hostile messages failed")
		}
	}()
	return done
}

// sendHostile mixes the configured bad messages into their queue as the
// simulated clock advances. Run waits for it before it ends.
func (s *Sim) sendHostile(ctx context.Context) error {
	h := s.cfg.Hostile
	msgs := HostileMessages(h.Count, s.cfg.Seed)
	over := h.Over
	if over <= 0 {
		over = 24 * time.Hour
	}
	start := s.clock.startMS
	sent := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for sent < len(msgs) {
		frac := float64(s.Now()-start) / float64(over.Milliseconds())
		if s.Done() {
			frac = 1
		}
		want := min(len(msgs), int(frac*float64(len(msgs))))
		if want > sent {
			bodies := make([]string, 0, want-sent)
			for _, m := range msgs[sent:want] {
				bodies = append(bodies, m.Body)
			}
			if err := s.msg.queues.SendBatch(h.Queue, bodies); err != nil {
				return fmt.Errorf("hostile messages: %w", err)
			}
			sent = want
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}
