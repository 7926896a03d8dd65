package sim

import (
	"time"

	"github.com/batchwatch/batchwatch/sim/eventbridge"
	"github.com/batchwatch/batchwatch/sim/sns"
	"github.com/batchwatch/batchwatch/sim/sqs"
)

// messaging holds the simulator's own SQS and EventBridge servers.
type messaging struct {
	queues *sqs.Server
	bus    *eventbridge.Server
}

func (s *Sim) attachMessaging() {
	if o := s.cfg.shareMessaging; o != nil {
		s.msg, s.sqs, s.bus, s.wrap = o.msg, o.sqs, o.bus, o.wrap
		return
	}
	opts := sqs.Options{Registry: s.cfg.Registry, AccountID: s.sc.Account, Region: s.sc.Region, Logger: s.cfg.Logger}
	if f := s.sc.Faults; len(f.Messages) > 0 {
		opts.FaultSeed = f.Seed
		if opts.FaultSeed == 0 {
			opts.FaultSeed = s.cfg.Seed
		}
		for _, m := range f.Messages {
			opts.Faults = append(opts.Faults, m.sqs())
		}
	}
	q := sqs.NewServer(opts)
	bus := eventbridge.NewServer(eventbridge.Options{
		Queues: q, Registry: s.cfg.Registry, AccountID: s.sc.Account, Region: s.sc.Region, Logger: s.cfg.Logger,
		Now: func() time.Time { return time.UnixMilli(s.Now()) },
	})
	s.msg = messaging{queues: q, bus: bus}
	s.sqs, s.bus, s.wrap = q, bus, sns.Wrap
}

// Queues is the simulator's SQS server: its queues receive the events of
// "queue" and "eventbridge" delivery targets, and any SDK client can use
// it through Handler.
func (s *Sim) Queues() *sqs.Server { return s.msg.queues }

// EventBridge is the simulator's EventBridge server; every Batch event is
// published to its default bus, so rules created through its API receive
// them as they would in AWS.
func (s *Sim) EventBridge() *eventbridge.Server { return s.msg.bus }
