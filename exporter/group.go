package exporter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/batchwatch/batchwatch/batch"
)

// Group is one exporter per AWS account in one process and region: each
// member resyncs and describes its own account's Batch API (through the
// role the caller assumed for it) and labels its metrics with account;
// the first member reads the shared SQS queue (a central EventBridge bus
// receives every account's events) and hands each event to its account's
// member. Cost Explorer and the SQS attribute gauges stay with the first
// member.
type Group struct {
	members []*Exporter
}

// NewGroup builds the members: batch holds each account's Batch client
// (already assuming the account's role), keyed by account id; cfg.Account
// must be empty.
func NewGroup(cfg *Config, deps Deps, batch map[string]BatchAPI) (*Group, error) {
	if len(batch) == 0 {
		return nil, errors.New("exporter: group: no accounts")
	}
	if cfg.Account != "" {
		return nil, errors.New("exporter: group: --exporter.account is for one account; the group takes its accounts from the roles")
	}
	accounts := make([]string, 0, len(batch))
	for a := range batch {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	g := &Group{}
	var ready atomic.Int32
	onReady := func() {
		if int(ready.Add(1)) == len(accounts) && deps.OnReady != nil {
			deps.OnReady()
		}
	}
	byAccount := map[string]*State{}
	for i, a := range accounts {
		c := *cfg
		c.Account = a
		d := deps
		d.Batch, d.OnReady = batch[a], onReady
		if i > 0 {
			c.SQSQueueURL, c.SQSAttributesQueues, c.SQSAttributesDeadLetterQueues, c.CostRefreshInterval = "", nil, nil, 0
		}
		x, err := New(&c, d)
		if err != nil {
			return nil, fmt.Errorf("exporter: account %s: %w", a, err)
		}
		x.fed = cfg.SQSQueueURL != ""
		byAccount[a] = x.state
		g.members = append(g.members, x)
	}
	g.members[0].route = func(account string) *State { return byAccount[account] }
	return g, nil
}

// Members returns the exporters, by account id.
func (g *Group) Members() []*Exporter { return g.members }

// Run runs every member until ctx ends.
func (g *Group) Run(ctx context.Context) error {
	errs := make([]error, len(g.members))
	var wg sync.WaitGroup
	for i, x := range g.members {
		wg.Go(func() { errs[i] = x.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stateFor is the state an event belongs to: its account's member in a
// group, else the exporter's own.
func (x *Exporter) stateFor(ev *batch.Event) *State {
	if x.route != nil {
		if s := x.route(EventAccount(ev)); s != nil {
			return s
		}
	}
	return x.state
}

// EventAccount is the account an event belongs to: that of its job
// queue's ARN (arn:aws:batch:REGION:ACCOUNT:job-queue/NAME), else the
// envelope's.
func EventAccount(ev *batch.Event) string {
	if parts := strings.SplitN(ev.Job.QueueARN, ":", 6); len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	return ev.Account
}
