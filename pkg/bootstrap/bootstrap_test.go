package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// TestRun_CreatesEverythingIdempotently bootstraps a full AWS configuration
// against the emulators twice: the second run finds everything in place.
func TestRun_CreatesEverythingIdempotently(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	confirmations := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct{ Type, SubscribeURL string }
		_ = json.Unmarshal(body, &env)
		if env.Type == "SubscriptionConfirmation" {
			confirmations <- env.SubscribeURL
		}
	}))
	defer hook.Close()

	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWS = emulator.AWS(t)
	cfg.Stream.Driver = "kinesis"
	cfg.Stream.Kinesis.Name = emulator.Name(t, "boot")
	cfg.Stream.Kinesis.Shards = 3
	cfg.Consumer.ApplicationName = emulator.Name(t, "leases")
	cfg.Poller.Leader.Enabled = true
	cfg.Poller.Leader.Table = emulator.Name(t, "leader")
	cfg.Alerts.State.Driver = "dynamodb"
	cfg.Alerts.State.Table = emulator.Name(t, "state")
	bucket := emulator.Name(t, "lake")
	cfg.Lake.URL = "s3://" + bucket + "/weather"
	topicName := emulator.Name(t, "alerts")
	cfg.Alerts.Channels["sms"] = alert.ChannelConfig{
		Type:          "sns",
		TopicARN:      "arn:aws:sns:us-east-1:000000000000:" + topicName,
		Format:        "sms",
		Subscriptions: []alert.SubscriptionConfig{{Protocol: "http", Endpoint: hook.URL}},
	}

	var out bytes.Buffer
	for run := range 2 {
		out.Reset()
		if err := Run(ctx, cfg, &out, slog.Default()); err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
	}
	for _, want := range []string{
		"stream " + cfg.Stream.Kinesis.Name + ": ready",
		"lease table " + cfg.Consumer.ApplicationName + ": ready",
		"poller leader table " + cfg.Poller.Leader.Table + ": ready",
		"alert-state table " + cfg.Alerts.State.Table + ": ready",
		"bucket " + bucket + ": ready",
		topicName + ": ready (1 subscriptions)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	kin := emulator.Kinesis(t)
	sum, err := kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(cfg.Stream.Kinesis.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.StreamDescriptionSummary.StreamStatus != "ACTIVE" || aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount) != 3 {
		t.Errorf("stream %s with %d shards", sum.StreamDescriptionSummary.StreamStatus, aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount))
	}
	ddb := emulator.DynamoDB(t)
	for _, table := range []string{cfg.Consumer.ApplicationName, cfg.Poller.Leader.Table, cfg.Alerts.State.Table} {
		d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		if d.Table.TableStatus != "ACTIVE" {
			t.Errorf("table %s is %s", table, d.Table.TableStatus)
		}
	}
	if _, err := emulator.S3(t).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Errorf("bucket: %v", err)
	}
	topics, err := emulator.SNS(t).ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tp := range topics.Topics {
		found = found || strings.HasSuffix(aws.ToString(tp.TopicArn), ":"+topicName)
	}
	if !found {
		t.Errorf("topic %s not created", topicName)
	}
	select {
	case <-confirmations:
	case <-time.After(10 * time.Second):
		t.Error("the http subscription was never asked to confirm")
	}
}
