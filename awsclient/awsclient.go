// Package awsclient builds the aws-sdk-go-v2 clients every batchwatch
// component uses, the same way for all of them: region, profile, role and
// endpoint from flags or the SDK's own sources (AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_<SERVICE>, a profile's endpoint_url), an explicit retryer,
// an optional client-side rate limit, and Prometheus counters of calls, errors
// and throttles per API.
package awsclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/flags"
)

// Config holds the AWS flags shared by all components.
type Config struct {
	Region      string
	Profile     string
	RoleARN     string
	EndpointURL string
	MaxAttempts int
}

// AddFlags registers the --aws.* flags.
func AddFlags(fg flags.Group) *Config {
	c := &Config{}
	fg.Flag("aws.region", "AWS region; defaults to the SDK's sources (AWS_REGION, profile), else us-east-1.").StringVar(&c.Region)
	fg.Flag("aws.profile", "Shared config profile to use.").StringVar(&c.Profile)
	fg.Flag("aws.role-arn", "IAM role to assume for all AWS calls.").StringVar(&c.RoleARN)
	fg.Flag("aws.endpoint-url", "Endpoint for every AWS service (overrides AWS_ENDPOINT_URL*); for local emulators.").StringVar(&c.EndpointURL)
	fg.Flag("aws.max-attempts", "Attempts per AWS call, including retries with backoff and jitter on throttling and 5xx.").Default("8").IntVar(&c.MaxAttempts)
	return c
}

// Load resolves the SDK configuration: credentials, region, retryer.
func Load(ctx context.Context, c *Config) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	maxAttempts := c.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 8
	}
	opts = append(opts, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			// The client-side retry token bucket would turn a burst of 429s
			// into hard failures; our own limiter paces requests instead.
			o.RateLimiter = ratelimit.None
		})
	}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if c.RoleARN != "" {
		cfg = c.AssumeRole(cfg, c.RoleARN)
	}
	return cfg, nil
}

// AssumeRole returns a copy of cfg whose calls use the temporary
// credentials of roleARN, assumed through STS with cfg's own credentials
// and endpoint (a role per account: cfg's account must be trusted by it).
func (c *Config) AssumeRole(cfg aws.Config, roleARN string) aws.Config {
	stsClient := sts.NewFromConfig(cfg, func(so *sts.Options) {
		if ep := c.endpoint(Options{}); ep != nil {
			so.BaseEndpoint = ep
		}
		so.HTTPClient = bufferedBody{next: so.HTTPClient}
	})
	out := cfg.Copy()
	out.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, roleARN))
	return out
}

// AccountRoles parses --aws.account-role values "ACCOUNT=ROLE_ARN": the
// role to assume for each account's Batch API. The account must be the
// role's own (12 digits, the ARN's fourth field).
func AccountRoles(values []string) (map[string]string, error) {
	roles := map[string]string{}
	for _, v := range values {
		account, arn, ok := strings.Cut(v, "=")
		parts := strings.SplitN(arn, ":", 6)
		if !ok || len(account) != 12 || strings.Trim(account, "0123456789") != "" ||
			len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
			return nil, fmt.Errorf("account role %q: want ACCOUNT=arn:aws:iam::ACCOUNT:role/NAME", v)
		}
		if parts[4] != account {
			return nil, fmt.Errorf("account role %q: the role belongs to account %s, not %s", v, parts[4], account)
		}
		if _, dup := roles[account]; dup {
			return nil, fmt.Errorf("account role %q: account %s listed twice", v, account)
		}
		roles[account] = arn
	}
	return roles, nil
}

// Options tunes one service client.
type Options struct {
	// Metrics counts calls; nil counts nothing.
	Metrics *Metrics
	// Limiter paces every HTTP attempt (retries included); nil is unlimited.
	Limiter *rate.Limiter
	// EndpointURL overrides the configured endpoint for this client.
	EndpointURL string
}

func (c *Config) endpoint(o Options) *string {
	switch {
	case o.EndpointURL != "":
		return aws.String(o.EndpointURL)
	case c != nil && c.EndpointURL != "":
		return aws.String(c.EndpointURL)
	}
	return nil
}

func (c *Config) apiOptions(o Options) []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return addMiddleware(s, o.Metrics, o.Limiter)
	}}
}

// Batch returns an AWS Batch client.
func (c *Config) Batch(cfg aws.Config, o Options) *batch.Client {
	return batch.NewFromConfig(cfg, func(bo *batch.Options) {
		if ep := c.endpoint(o); ep != nil {
			bo.BaseEndpoint = ep
		}
		bo.HTTPClient = bufferedBody{next: bo.HTTPClient}
		bo.APIOptions = append(bo.APIOptions, c.apiOptions(o)...)
	})
}

// SQS returns an SQS client.
func (c *Config) SQS(cfg aws.Config, o Options) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(so *sqs.Options) {
		if ep := c.endpoint(o); ep != nil {
			so.BaseEndpoint = ep
		}
		so.HTTPClient = bufferedBody{next: so.HTTPClient}
		so.APIOptions = append(so.APIOptions, c.apiOptions(o)...)
	})
}

// CostExplorer returns a Cost Explorer client.
func (c *Config) CostExplorer(cfg aws.Config, o Options) *costexplorer.Client {
	return costexplorer.NewFromConfig(cfg, func(co *costexplorer.Options) {
		if ep := c.endpoint(o); ep != nil {
			co.BaseEndpoint = ep
		}
		co.HTTPClient = bufferedBody{next: co.HTTPClient}
		co.APIOptions = append(co.APIOptions, c.apiOptions(o)...)
	})
}

// EventBridge returns an EventBridge client.
func (c *Config) EventBridge(cfg aws.Config, o Options) *eventbridge.Client {
	return eventbridge.NewFromConfig(cfg, func(eo *eventbridge.Options) {
		if ep := c.endpoint(o); ep != nil {
			eo.BaseEndpoint = ep
		}
		eo.HTTPClient = bufferedBody{next: eo.HTTPClient}
		eo.APIOptions = append(eo.APIOptions, c.apiOptions(o)...)
	})
}

// SNS returns an SNS client.
func (c *Config) SNS(cfg aws.Config, o Options) *sns.Client {
	return sns.NewFromConfig(cfg, func(no *sns.Options) {
		if ep := c.endpoint(o); ep != nil {
			no.BaseEndpoint = ep
		}
		no.HTTPClient = bufferedBody{next: no.HTTPClient}
		no.APIOptions = append(no.APIOptions, c.apiOptions(o)...)
	})
}

// HTTPClient is the SDK's HTTP client interface.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// bufferedBody gives the transport its own in-memory copy of the request
// body. With the SDK's streaming body, ReceiveMessage on loopback sometimes
// failed mid-response ("use of closed network connection", about 1 % of
// batches with one caller), and the batch then only came back after its
// visibility timeout. Request bodies of these APIs are small.
type bufferedBody struct{ next HTTPClient }

func (b bufferedBody) Do(req *http.Request) (*http.Response, error) {
	next := b.next
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("buffer request body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
	}
	return next.Do(req)
}
