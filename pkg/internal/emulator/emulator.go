// Package emulator connects tests to the local AWS emulators that
// deploy/local/emulators.sh runs on loopback: kinesis-local (Kinesis) on
// 4568, dynalite (DynamoDB) on 4569, s3rver (S3) on 4570 and goaws (SNS and
// SQS) on 4571, with static credentials S3RVER/S3RVER in us-east-1.
//
// Every accessor checks once per process that its emulator answers and
// fails the test with tb.Fatalf, naming the command that starts the
// emulators, when it does not: a test that needs an emulator never skips.
//
// An endpoint can be moved with WEATHERD_TEST_<NAME>_ENDPOINT (a full URL,
// NAME one of KINESIS, DYNAMODB, S3, SNS) or, to follow emulators.sh, with
// WEATHERD_EMU_<NAME>_PORT.
//
// Resources are shared by every test process, so each test should create its
// own with a fresh Name and delete it when it is done.
package emulator

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
)

const (
	region    = "us-east-1"
	accessKey = "S3RVER"
	secretKey = "S3RVER"
	// probeTimeout bounds the one reachability request per endpoint.
	probeTimeout = 5 * time.Second
)

// emulators maps each service name Endpoint accepts to the program that
// emulates it, the environment key suffix and its default port.
var emulators = map[string]struct {
	program string
	envKey  string
	port    string
}{
	awsconf.Kinesis:  {"kinesis-local", "KINESIS", "4568"},
	awsconf.DynamoDB: {"dynalite", "DYNAMODB", "4569"},
	awsconf.S3:       {"s3rver", "S3", "4570"},
	awsconf.SNS:      {"goaws", "SNS", "4571"},
}

// reachable caches the outcome of the reachability check per endpoint URL.
var reachable struct {
	sync.Mutex
	checked map[string]error
}

// AWSConfig returns SDK configuration for the emulators: static credentials
// S3RVER/S3RVER, region us-east-1, a short retry budget with no client-side
// retry quota, and checksums only where an API requires them (the emulators
// do not understand the newer flexible-checksum trailers).
func AWSConfig(tb testing.TB) aws.Config {
	tb.Helper()
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 4
				o.MaxBackoff = 500 * time.Millisecond
				o.RateLimiter = ratelimit.None
			})
		},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
}

// AWS returns the aws configuration section pointing every service at its
// emulator, in us-east-1, with path-style S3 addressing and the timeouts of
// the embedded config.yaml.
func AWS(tb testing.TB) awsconf.Config {
	tb.Helper()
	return awsconf.Config{
		Region: region,
		Endpoints: awsconf.Endpoints{
			Kinesis:  Endpoint(tb, awsconf.Kinesis),
			DynamoDB: Endpoint(tb, awsconf.DynamoDB),
			S3:       Endpoint(tb, awsconf.S3),
			SNS:      Endpoint(tb, awsconf.SNS),
		},
		S3ForcePathStyle: true,
		Timeouts:         testkit.Default[awsconf.Timeouts](tb, "aws.timeouts"),
	}
}

// Kinesis returns a Kinesis client for kinesis-local.
func Kinesis(tb testing.TB) *kinesis.Client {
	tb.Helper()
	return awsconf.NewKinesis(AWSConfig(tb), AWS(tb))
}

// DynamoDB returns a DynamoDB client for dynalite.
func DynamoDB(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	return awsconf.NewDynamoDB(AWSConfig(tb), AWS(tb))
}

// S3 returns a path-style S3 client for s3rver.
func S3(tb testing.TB) *s3.Client {
	tb.Helper()
	return awsconf.NewS3(AWSConfig(tb), AWS(tb))
}

// SNS returns an SNS client for goaws.
func SNS(tb testing.TB) *sns.Client {
	tb.Helper()
	return awsconf.NewSNS(AWSConfig(tb), AWS(tb))
}

// SQS returns an SQS client for goaws (the SNS endpoint: goaws serves both).
// goaws 0.4.5 speaks only the awsQuery protocol, so the client uses that
// instead of the SDK's default AWS JSON 1.0; both describe the same API.
func SQS(tb testing.TB) *sqs.Client {
	tb.Helper()
	endpoint := Endpoint(tb, awsconf.SNS)
	return sqs.NewFromConfig(AWSConfig(tb), func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Protocol = awsquery.New(sqsschemas.AmazonSQS)
	})
}

// Endpoint returns the URL of the emulator for name (kinesis, dynamodb, s3 or
// sns), e.g. "http://127.0.0.1:4568". WEATHERD_TEST_<NAME>_ENDPOINT replaces
// the whole URL; WEATHERD_EMU_<NAME>_PORT only the port. The test fails when
// the emulator does not answer.
func Endpoint(tb testing.TB, name string) string {
	tb.Helper()
	emu, ok := emulators[name]
	if !ok {
		tb.Fatalf("emulator: unknown service %q: want kinesis, dynamodb, s3 or sns", name)
		return ""
	}
	endpoint := "http://127.0.0.1:" + emu.port
	if p := os.Getenv("WEATHERD_EMU_" + emu.envKey + "_PORT"); p != "" {
		endpoint = "http://127.0.0.1:" + p
	}
	key := "WEATHERD_TEST_" + emu.envKey + "_ENDPOINT"
	if e := os.Getenv(key); e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			tb.Fatalf("emulator: %s=%q: want an http:// or https:// URL", key, e)
			return ""
		}
		endpoint = strings.TrimSuffix(e, "/")
	}
	if err := check(endpoint); err != nil {
		tb.Fatalf("%s is not reachable at %s: start the emulators with `deploy/local/emulators.sh start` (make test does it): %v",
			emu.program, endpoint, err)
		return ""
	}
	return endpoint
}

// check asks endpoint one HTTP question, once per process: any HTTP answer,
// even an error status, proves something serves it.
func check(endpoint string) error {
	reachable.Lock()
	defer reachable.Unlock()
	if err, done := reachable.checked[endpoint]; done {
		return err
	}
	if reachable.checked == nil {
		reachable.checked = make(map[string]error)
	}
	err := probe(endpoint)
	reachable.checked[endpoint] = err
	return err
}

func probe(endpoint string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
