package awsclient

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 returns an S3 client. With a custom endpoint (flag, option,
// AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3) it addresses buckets by path,
// since local emulators answer on one host name, not <bucket>.<host>.
func (c *Config) S3(cfg aws.Config, o Options) *s3.Client {
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if ep := c.endpoint(o); ep != nil {
			so.BaseEndpoint = ep
		}
		so.UsePathStyle = so.BaseEndpoint != nil
		so.HTTPClient = bufferedBody{next: so.HTTPClient}
		so.APIOptions = append(so.APIOptions, c.apiOptions(o)...)
	})
}
