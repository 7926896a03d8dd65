package sim

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Fleet plays one scenario in several AWS accounts and regions on one
// endpoint, as an organisation with a central event bus per region sees
// them: every member simulator has its own Batch API, jobs and ARNs, and
// the members of one region deliver their events to that region's shared
// SQS and EventBridge (those of the region's first member).
//
// Requests are routed the AWS way, from their SigV4 credential scope: the
// region from the scope, the account from the access key. STS AssumeRole
// on a role ARN of a member's account returns temporary credentials whose
// access key belongs to that account; any other access key belongs to the
// first member's account (the caller's own).
type Fleet struct {
	members  []*Sim
	byKey    map[FleetMember]*Sim
	handlers map[*Sim]http.Handler
	gatherer prometheus.Gatherer

	mu     sync.Mutex
	issued map[string]string // access key id → account
	keySeq int
}

// NewFleet builds one simulator per member of cfg.Scenario.Fleet, each
// with the scenario's environment and workload under its account and
// region (a seed of its own, derived from cfg.Seed). Delivery queue names
// may contain {region}. cfg.Out is not supported (members write
// concurrently).
func NewFleet(cfg Config) (*Fleet, error) {
	if cfg.Scenario == nil || len(cfg.Scenario.Fleet) == 0 {
		return nil, errors.New("sim: fleet: the scenario lists no fleet members")
	}
	if cfg.Out != nil {
		return nil, errors.New("sim: fleet: Out is not supported")
	}
	reg := cfg.Registry
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, cfg.Gatherer = r, r
	} else if cfg.Gatherer == nil {
		cfg.Gatherer, _ = reg.(prometheus.Gatherer)
	}
	f := &Fleet{byKey: map[FleetMember]*Sim{}, handlers: map[*Sim]http.Handler{}, gatherer: cfg.Gatherer, issued: map[string]string{}}
	central := map[string]*Sim{}
	for i, m := range cfg.Scenario.Fleet {
		mc := cfg
		mc.Scenario = cfg.Scenario.forMember(m)
		mc.Seed = cfg.Seed + uint64(i)*7919
		mc.Registry = prometheus.WrapRegistererWith(prometheus.Labels{"account": m.Account, "region": m.Region}, reg)
		mc.Gatherer = nil
		if cfg.Logger != nil {
			mc.Logger = cfg.Logger.WithField("account", m.Account).WithField("region", m.Region)
		}
		mc.shareMessaging = central[m.Region]
		s, err := New(mc)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fleet member %s/%s: %w", m.Account, m.Region, err)
		}
		if central[m.Region] == nil {
			central[m.Region] = s
		}
		f.members = append(f.members, s)
		f.byKey[m] = s
		f.handlers[s] = s.Handler()
	}
	return f, nil
}

// forMember is the scenario as played by one fleet member.
func (s *Scenario) forMember(m FleetMember) *Scenario {
	c := *s
	c.Fleet = nil
	c.Account, c.Region = m.Account, m.Region
	c.Delivery = append([]DeliverySpec(nil), s.Delivery...)
	for i := range c.Delivery {
		d := &c.Delivery[i]
		d.Queue = strings.ReplaceAll(d.Queue, "{region}", m.Region)
		d.Queues = append([]string(nil), d.Queues...)
		for j := range d.Queues {
			d.Queues[j] = strings.ReplaceAll(d.Queues[j], "{region}", m.Region)
		}
	}
	return &c
}

// Members returns the member simulators, in the scenario's order.
func (f *Fleet) Members() []*Sim { return f.members }

// Member returns the simulator of one account and region, or nil.
func (f *Fleet) Member(account, region string) *Sim {
	return f.byKey[FleetMember{Account: account, Region: region}]
}

// Run runs every member until ctx ends or, with ExitWhenDone, until all
// are done.
func (f *Fleet) Run(ctx context.Context) error {
	errs := make([]error, len(f.members))
	var wg sync.WaitGroup
	for i, s := range f.members {
		wg.Go(func() { errs[i] = s.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close stops every member (the shared messaging last).
func (f *Fleet) Close() {
	for i := len(f.members) - 1; i >= 0; i-- {
		f.members[i].Close()
	}
}

// Truth returns every member's jobs.
func (f *Fleet) Truth() []TruthJob {
	var out []TruthJob
	for _, s := range f.members {
		out = append(out, s.Truth()...)
	}
	return out
}

// Handler serves every member on one address (see Fleet).
func (f *Fleet) Handler() http.Handler {
	metrics := promhttp.HandlerFor(f.gatherer, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			metrics.ServeHTTP(w, r)
			return
		case "/-/healthy", "/-/ready":
			handleHealthy(w, r)
			return
		}
		key, region, service := credentialScope(r.Header.Get("Authorization"))
		if service == "sts" {
			f.serveSTS(w, r)
			return
		}
		account := f.accountOf(key)
		s := f.Member(account, region)
		if s == nil {
			http.Error(w, fmt.Sprintf("batchwatch sim: account %s has no simulated region %q", account, region), http.StatusNotFound)
			return
		}
		f.handlers[s].ServeHTTP(w, r)
	})
}

// credentialScope reads "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …".
func credentialScope(auth string) (key, region, service string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) < 4 {
		return "", "", ""
	}
	return parts[0], parts[2], parts[3]
}

// accountOf maps an access key to its account: one issued by AssumeRole
// to the role's account, any other to the first member's.
func (f *Fleet) accountOf(key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.issued[key]; ok {
		return a
	}
	return f.members[0].sc.Account
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResponse struct {
	XMLName     xml.Name       `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Credentials stsCredentials `xml:"AssumeRoleResult>Credentials"`
	UserArn     string         `xml:"AssumeRoleResult>AssumedRoleUser>Arn"`
	UserID      string         `xml:"AssumeRoleResult>AssumedRoleUser>AssumedRoleId"`
	RequestID   string         `xml:"ResponseMetadata>RequestId"`
}

// serveSTS answers STS's query protocol: AssumeRole of a role in a
// member's account; anything else is refused.
func (f *Fleet) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRole" {
		stsError(w, http.StatusBadRequest, "InvalidAction", "batchwatch sim: STS answers AssumeRole only")
		return
	}
	roleARN, session := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") || !f.hasAccount(parts[4]) {
		stsError(w, http.StatusForbidden, "AccessDenied", "not authorized to perform sts:AssumeRole on "+roleARN)
		return
	}
	f.mu.Lock()
	f.keySeq++
	key := fmt.Sprintf("ASIA%s%04d", parts[4], f.keySeq%10000)
	f.issued[key] = parts[4]
	f.mu.Unlock()
	role := strings.TrimPrefix(parts[5], "role/")
	resp := assumeRoleResponse{
		Credentials: stsCredentials{AccessKeyID: key, SecretAccessKey: "simulated", SessionToken: "simulated-" + key,
			Expiration: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		UserArn:   fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", parts[1], parts[4], role, session),
		UserID:    "AROASIMULATED:" + session,
		RequestID: key,
	}
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(resp)
}

func (f *Fleet) hasAccount(account string) bool {
	for _, s := range f.members {
		if s.sc.Account == account {
			return true
		}
	}
	return false
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>sim</RequestId></ErrorResponse>`,
		code, xmlEscape(msg))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ServeFleet builds a fleet, serves it on a local test server and runs it
// in the background, like Serve.
func ServeFleet(ctx context.Context, cfg Config) (f *Fleet, url string, stop func(), err error) {
	f, err = NewFleet(cfg)
	if err != nil {
		return nil, "", nil, err
	}
	srv := httptest.NewServer(f.Handler())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	return f, srv.URL, func() {
		cancel()
		<-done
		srv.Close()
		f.Close()
	}, nil
}
