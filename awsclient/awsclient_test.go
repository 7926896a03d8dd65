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

func TestAccountRoles(t *testing.T) {
	roles, err := AccountRoles([]string{"111111111111=arn:aws:iam::111111111111:role/a", "222222222222=arn:aws:iam::222222222222:role/b"})
	if err != nil || len(roles) != 2 || roles["222222222222"] != "arn:aws:iam::222222222222:role/b" {
		t.Fatalf("roles %v, %v", roles, err)
	}
	for _, bad := range []string{
		"111111111111", "1111=arn:aws:iam::1111:role/a", "111111111111=arn:aws:iam::222222222222:role/a",
		"111111111111=arn:aws:s3:::bucket", "111111111111=arn:aws:iam::111111111111:user/a",
	} {
		if _, err := AccountRoles([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := AccountRoles([]string{"111111111111=arn:aws:iam::111111111111:role/a", "111111111111=arn:aws:iam::111111111111:role/b"}); err == nil {
		t.Error("an account listed twice was accepted")
	}
}
