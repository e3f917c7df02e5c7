package awsconf

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Every client below gives each call its aws.timeouts deadline. Its HTTP
// client is sdk's, which Load builds with c's timeouts, or one with c's
// timeouts when sdk has none (SDK configuration made in code, as the tests
// do).

// The clients below take c as Validate accepted it: every deadline comes from
// c.Timeouts.

// NewKinesis returns a Kinesis client for the configured endpoint.
func NewKinesis(sdk aws.Config, c Config) *kinesis.Client {
	return kinesis.NewFromConfig(sdk, func(o *kinesis.Options) {
		o.BaseEndpoint = c.BaseEndpoint(Kinesis)
		if sdk.HTTPClient == nil {
			o.HTTPClient = c.Timeouts.HTTPClient()
		}
		o.APIOptions = append(o.APIOptions, c.Timeouts.deadlineOption(Kinesis))
	})
}

// NewDynamoDB returns a DynamoDB client for the configured endpoint.
func NewDynamoDB(sdk aws.Config, c Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(sdk, func(o *dynamodb.Options) {
		o.BaseEndpoint = c.BaseEndpoint(DynamoDB)
		if sdk.HTTPClient == nil {
			o.HTTPClient = c.Timeouts.HTTPClient()
		}
		o.APIOptions = append(o.APIOptions, c.Timeouts.deadlineOption(DynamoDB))
	})
}

// NewS3 returns an S3 client for the configured endpoint and addressing style.
func NewS3(sdk aws.Config, c Config) *s3.Client {
	return s3.NewFromConfig(sdk, func(o *s3.Options) {
		o.BaseEndpoint = c.BaseEndpoint(S3)
		o.UsePathStyle = c.S3ForcePathStyle
		if sdk.HTTPClient == nil {
			o.HTTPClient = c.Timeouts.HTTPClient()
		}
		o.APIOptions = append(o.APIOptions, c.Timeouts.deadlineOption(S3))
	})
}

// NewSNS returns an SNS client for the configured endpoint.
func NewSNS(sdk aws.Config, c Config) *sns.Client {
	return sns.NewFromConfig(sdk, func(o *sns.Options) {
		o.BaseEndpoint = c.BaseEndpoint(SNS)
		if sdk.HTTPClient == nil {
			o.HTTPClient = c.Timeouts.HTTPClient()
		}
		o.APIOptions = append(o.APIOptions, c.Timeouts.deadlineOption(SNS))
	})
}
