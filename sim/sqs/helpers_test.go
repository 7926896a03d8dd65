package sqs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/sim/sqs"
)

// env is one simulated SQS server behind httptest and a real SDK client.
type env struct {
	srv    *sqs.Server
	http   *httptest.Server
	client *awssqs.Client
	reg    *prometheus.Registry
}

func awsConfig() aws.Config {
	return aws.Config{
		Region:      "eu-west-3", // any region: the simulator does not care
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, sqs.Options{})
}

// newEnvWith is newEnv with options (a fresh registry is always set).
func newEnvWith(t testing.TB, o sqs.Options) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registry = reg
	srv := sqs.NewServer(o)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	cfg := &awsclient.Config{EndpointURL: hs.URL}
	return &env{srv: srv, http: hs, client: cfg.SQS(awsConfig(), awsclient.Options{}), reg: reg}
}

// clientWith builds a client whose HTTP requests go through do.
func (e *env) clientWith(do func(*http.Request) (*http.Response, error), optFns ...func(*awssqs.Options)) *awssqs.Client {
	cfg := awsConfig()
	cfg.HTTPClient = doerFunc(do)
	opts := append([]func(*awssqs.Options){func(o *awssqs.Options) { o.BaseEndpoint = aws.String(e.http.URL) }}, optFns...)
	return awssqs.NewFromConfig(cfg, opts...)
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func (e *env) createQueue(t testing.TB, name string, attrs map[string]string) string {
	t.Helper()
	out, err := e.client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	require.NoError(t, err)
	return aws.ToString(out.QueueUrl)
}

func (e *env) queueAttrs(t testing.TB, url string, names ...string) map[string]string {
	t.Helper()
	var an []types.QueueAttributeName
	for _, n := range names {
		an = append(an, types.QueueAttributeName(n))
	}
	out, err := e.client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: an})
	require.NoError(t, err)
	return out.Attributes
}
