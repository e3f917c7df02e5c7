// Package awsconf turns the aws section of the configuration into SDK
// configuration and service clients, so real AWS, LocalStack and the local
// emulators are reached by the same code, and every call has a deadline
// (aws.timeouts).
package awsconf

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfg "github.com/aws/aws-sdk-go-v2/config"

	"github.com/weatherd/weatherd/pkg/check"
)

// Config is the aws section of the configuration.
type Config struct {
	Region           string    `mapstructure:"region"`
	Endpoint         string    `mapstructure:"endpoint"`
	Endpoints        Endpoints `mapstructure:"endpoints"`
	S3ForcePathStyle bool      `mapstructure:"s3_force_path_style"`
	Timeouts         Timeouts  `mapstructure:"timeouts"`
}

// Endpoints overrides the endpoint of one service; each wins over Config.Endpoint.
type Endpoints struct {
	Kinesis  string `mapstructure:"kinesis"`
	DynamoDB string `mapstructure:"dynamodb"`
	S3       string `mapstructure:"s3"`
	SNS      string `mapstructure:"sns"`
}

// Services named in Endpoints.
const (
	Kinesis  = "kinesis"
	DynamoDB = "dynamodb"
	S3       = "s3"
	SNS      = "sns"
)

// EndpointFor returns the endpoint for service, or "" for the AWS default.
func (c Config) EndpointFor(service string) string {
	var e string
	switch service {
	case Kinesis:
		e = c.Endpoints.Kinesis
	case DynamoDB:
		e = c.Endpoints.DynamoDB
	case S3:
		e = c.Endpoints.S3
	case SNS:
		e = c.Endpoints.SNS
	}
	if e != "" {
		return e
	}
	return c.Endpoint
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if c.Region == "" {
		ps.Add(check.Key(key, "region"), "required")
	}
	check := func(k, v string) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.Add(k, "got %q, want an http:// or https:// URL", v)
		}
	}
	check(key+".endpoint", c.Endpoint)
	check(key+".endpoints.kinesis", c.Endpoints.Kinesis)
	check(key+".endpoints.dynamodb", c.Endpoints.DynamoDB)
	check(key+".endpoints.s3", c.Endpoints.S3)
	check(key+".endpoints.sns", c.Endpoints.SNS)
	c.Timeouts.Validate(key+".timeouts", ps)
}

// Load returns the SDK configuration: credentials and retries from the
// standard chain (environment, shared files, ECS task role, IMDS), the region
// from c, and an HTTP client with c's connect and response-header timeouts.
// c must pass Validate (the clients built from it take their deadlines from
// it, with no defaults of their own).
func Load(ctx context.Context, c Config) (aws.Config, error) {
	var ps check.Problems
	c.Validate("aws", &ps)
	if err := ps.Err(); err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	cfg, err := awscfg.LoadDefaultConfig(ctx, awscfg.WithRegion(c.Region), awscfg.WithHTTPClient(c.Timeouts.HTTPClient()))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}

// BaseEndpoint returns the endpoint override for service as the SDK wants it
// (nil for the AWS default).
func (c Config) BaseEndpoint(service string) *string {
	if e := c.EndpointFor(service); e != "" {
		return aws.String(e)
	}
	return nil
}
