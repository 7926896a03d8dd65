package awsclient

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The SDK's own endpoint sources (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// a profile's endpoint_url) must survive when --aws.endpoint-url is not set,
// and the flag must win when it is.
func TestEndpointSources(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_ENDPOINT_URL", "http://from-env:1")
	t.Setenv("AWS_ENDPOINT_URL_SQS", "http://sqs-from-env:2")
	ctx := context.Background()
	c := &Config{Region: "eu-west-1"}
	cfg, err := Load(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(c.Batch(cfg, Options{}).Options().BaseEndpoint); got != "http://from-env:1" {
		t.Errorf("batch endpoint = %q, want the AWS_ENDPOINT_URL value", got)
	}
	if got := aws.ToString(c.SQS(cfg, Options{}).Options().BaseEndpoint); got != "http://sqs-from-env:2" {
		t.Errorf("sqs endpoint = %q, want the AWS_ENDPOINT_URL_SQS value", got)
	}
	c.EndpointURL = "http://flag:3"
	if got := aws.ToString(c.SQS(cfg, Options{}).Options().BaseEndpoint); got != "http://flag:3" {
		t.Errorf("sqs endpoint = %q, want the flag's", got)
	}
	if got := aws.ToString(c.CostExplorer(cfg, Options{EndpointURL: "http://opt:4"}).Options().BaseEndpoint); got != "http://opt:4" {
		t.Errorf("ce endpoint = %q, want the option's", got)
	}
}
