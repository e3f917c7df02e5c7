package awsconf_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
)

// long is a timeout no call of these tests may reach: a test that sees it
// fire would be waiting on the wrong deadline.
const long = time.Minute

// longTimeouts has every timeout at long.
func longTimeouts() awsconf.Timeouts {
	return awsconf.Timeouts{Connect: long, ResponseHeader: long, Default: long, DynamoDB: long, GetRecords: long, PutRecords: long, PutObject: long, Publish: long}
}

// testCtx bounds each call of a test: a call that hangs fails the test
// instead of the test binary.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// holedConfig returns the aws section with service's endpoint going through
// a fault proxy in front of its emulator, and the proxy.
func holedConfig(t *testing.T, service string, timeouts awsconf.Timeouts) (awsconf.Config, *faultproxy.Proxy) {
	t.Helper()
	p := faultproxy.Start(t, emulator.Endpoint(t, service))
	c := awsconf.Config{Region: "us-east-1", S3ForcePathStyle: true, Timeouts: timeouts}
	switch service {
	case awsconf.Kinesis:
		c.Endpoints.Kinesis = p.URL()
	case awsconf.DynamoDB:
		c.Endpoints.DynamoDB = p.URL()
	case awsconf.S3:
		c.Endpoints.S3 = p.URL()
	case awsconf.SNS:
		c.Endpoints.SNS = p.URL()
	}
	return c, p
}

// TestClients_CallDeadlinePerOperation black-holes each service and checks
// that each operation is cut by its own aws.timeouts key, named in the error.
func TestClients_CallDeadlinePerOperation(t *testing.T) {
	const limit = 500 * time.Millisecond
	cases := []struct {
		name, service, key string
		set                func(*awsconf.Timeouts)
		call               func(context.Context, aws.Config, awsconf.Config) error
	}{
		{"DynamoDBUpdateItem", awsconf.DynamoDB, "dynamodb", func(t *awsconf.Timeouts) { t.DynamoDB = limit },
			func(ctx context.Context, sdk aws.Config, c awsconf.Config) error {
				_, err := awsconf.NewDynamoDB(sdk, c).UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("leases"), Key: map[string]dtypes.AttributeValue{"ShardID": &dtypes.AttributeValueMemberS{Value: "shardId-000000000000"}}})
				return err
			}},
		{"KinesisGetRecords", awsconf.Kinesis, "get_records", func(t *awsconf.Timeouts) { t.GetRecords = limit },
			func(ctx context.Context, sdk aws.Config, c awsconf.Config) error {
				_, err := awsconf.NewKinesis(sdk, c).GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAA")})
				return err
			}},
		{"KinesisPutRecords", awsconf.Kinesis, "put_records", func(t *awsconf.Timeouts) { t.PutRecords = limit },
			func(ctx context.Context, sdk aws.Config, c awsconf.Config) error {
				_, err := awsconf.NewKinesis(sdk, c).PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []ktypes.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String("k")}}})
				return err
			}},
		{"KinesisListShardsDefault", awsconf.Kinesis, "default", func(t *awsconf.Timeouts) { t.Default = limit },
			func(ctx context.Context, sdk aws.Config, c awsconf.Config) error {
				_, err := awsconf.NewKinesis(sdk, c).ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
				return err
			}},
		{"S3PutObject", awsconf.S3, "put_object", func(t *awsconf.Timeouts) { t.PutObject = limit },
			func(ctx context.Context, sdk aws.Config, c awsconf.Config) error {
				_, err := awsconf.NewS3(sdk, c).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Body: strings.NewReader("x")})
				return err
			}},
		{"SNSPublish", awsconf.SNS, "publish", func(t *awsconf.Timeouts) { t.Publish = limit },
			func(ctx context.Context, sdk aws.Config, c awsconf.Config) error {
				_, err := awsconf.NewSNS(sdk, c).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:t"), Message: aws.String("m")})
				return err
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			timeouts := longTimeouts()
			tc.set(&timeouts)
			c, p := holedConfig(t, tc.service, timeouts)
			p.BlackHole()
			ctx := testCtx(t)
			err := tc.call(ctx, emulator.AWSConfig(t), c)
			if ctx.Err() != nil {
				t.Fatalf("call returned only when the test's own deadline passed: %v", err)
			}
			var te *awsconf.CallTimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want an *awsconf.CallTimeoutError", err, err)
			}
			if te.Key != tc.key || te.Limit != limit || te.Service != tc.service {
				t.Errorf("timeout error names %s %s after %s (key %s), want service %s, key %s, limit %s", te.Service, te.Operation, te.Limit, te.Key, tc.service, tc.key, limit)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
			}
			if want := "no answer within 500ms (aws.timeouts." + tc.key + ")"; !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to contain %q", err, want)
			}
			if p.Accepted() == 0 {
				t.Error("the call never reached the proxy")
			}
		})
	}
}

// TestClients_CallDeadlineCoversRetries makes every attempt fail on its
// response-header timeout: the SDK retries, and the per-call deadline must
// cut the call across the attempts rather than restart with each one.
func TestClients_CallDeadlineCoversRetries(t *testing.T) {
	timeouts := longTimeouts()
	timeouts.ResponseHeader = 300 * time.Millisecond
	timeouts.DynamoDB = 700 * time.Millisecond
	c, p := holedConfig(t, awsconf.DynamoDB, timeouts)
	p.BlackHole()
	sdk := emulator.AWSConfig(t) // up to 4 attempts
	if got := sdk.Retryer().MaxAttempts(); got < 3 {
		t.Fatalf("emulator retryer makes %d attempts, want at least 3 for this test", got)
	}
	_, err := awsconf.NewDynamoDB(sdk, c).ListTables(testCtx(t), &dynamodb.ListTablesInput{})
	var te *awsconf.CallTimeoutError
	if !errors.As(err, &te) || te.Key != "dynamodb" {
		t.Fatalf("err = %v, want a CallTimeoutError of aws.timeouts.dynamodb", err)
	}
}

// TestClients_CallerDeadlineWins checks that a caller's shorter deadline
// still cuts a call (as a lease renewal's does) and is not reported as the
// configured timeout.
func TestClients_CallerDeadlineWins(t *testing.T) {
	c, p := holedConfig(t, awsconf.DynamoDB, longTimeouts())
	p.BlackHole()
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	_, err := awsconf.NewDynamoDB(emulator.AWSConfig(t), c).ListTables(ctx, &dynamodb.ListTablesInput{})
	var te *awsconf.CallTimeoutError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
		t.Fatalf("err = %v, want the caller's context.DeadlineExceeded, not a CallTimeoutError", err)
	}
}

// TestLoad_ResponseHeaderTimeout checks that the HTTP client Load builds
// gives up on a connection that answers nothing, although every per-call
// deadline is far away.
func TestLoad_ResponseHeaderTimeout(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	timeouts := longTimeouts()
	timeouts.ResponseHeader = 300 * time.Millisecond
	c, p := holedConfig(t, awsconf.DynamoDB, timeouts)
	ctx := testCtx(t)
	sdk, err := awsconf.Load(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ddb := awsconf.NewDynamoDB(sdk, c)
	if _, err := ddb.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables through the open proxy: %v", err)
	}
	p.BlackHole()
	_, err = ddb.ListTables(ctx, &dynamodb.ListTablesInput{})
	if ctx.Err() != nil {
		t.Fatalf("call returned only when the test's own deadline passed: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("err = %v, want the HTTP client's response-header timeout", err)
	}
}

// TestNewS3_GetObjectBodyOutlivesCall checks that the per-call deadline of a
// GetObject ends when its body is closed, not when the call returns: the
// body is read afterwards.
func TestNewS3_GetObjectBodyOutlivesCall(t *testing.T) {
	ctx := testCtx(t)
	c := emulator.AWS(t)
	api := awsconf.NewS3(emulator.AWSConfig(t), c)
	bucket := emulator.Name(t, "timeouts")
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("weatherd ", 200_000) // bigger than any socket buffer
	if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		api.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("k")})
		api.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: &bucket})
	})
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read the body after GetObject returned: %v", err)
	}
	if err := out.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Fatalf("body has %d bytes, want %d", len(got), len(body))
	}
}
