package daemon

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/bootstrap"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
)

// TestDaemon_BlackHoledSNSDoesNotStallTheConsumer runs weatherd on Kinesis
// with its SNS endpoint black-holed (connections open, nothing answers): the
// consumer keeps checkpointing and writing the lake, the notifications wait
// in the outbox, and once SNS answers they reach the subscribed queue, each
// once.
func TestDaemon_BlackHoledSNSDoesNotStallTheConsumer(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	ctx := context.Background()
	sc, qc, ddb := emulator.SNS(t), emulator.SQS(t), emulator.DynamoDB(t)
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.Name(t, "alerts"))})
	if err != nil {
		t.Fatal(err)
	}
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(emulator.Name(t, "alerts-q"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: q.QueueUrl}); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWS = emulator.AWS(t)
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Stream.Driver = "kinesis"
	cfg.Stream.Kinesis.Name = emulator.Name(t, "readings")
	cfg.Stream.Kinesis.Shards = 1
	cfg.Stream.Kinesis.SpoolDir = t.TempDir()
	cfg.Consumer.ApplicationName = emulator.Name(t, "leases")
	cfg.Poller.Schedule = "@every 1s"
	lakeDir := t.TempDir()
	cfg.Lake.URL = "file://" + lakeDir
	cfg.Lake.Flush.MaxAge = time.Second
	// One notification per location: the rule fires on the first reading
	// and never resolves.
	cfg.Alerts.Rules = []alert.RuleConfig{{Name: "always", Expr: "temperature > -100", Severity: "warning", Locations: []string{"*"}, Channels: []string{"phone"}}}
	cfg.Alerts.Channels = map[string]alert.ChannelConfig{"phone": {Type: "sns", TopicARN: aws.ToString(topic.TopicArn), Format: "sms"}}
	// Longer than the test: a publish into the black hole hangs until SNS
	// answers again, so a shard that waited for it would stall throughout.
	cfg.Alerts.Outbox.SendTimeout = 10 * time.Minute
	cfg.Alerts.Outbox.MaxBackoff = time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := bootstrap.Run(bctx, cfg, io.Discard, slog.Default()); err != nil {
		t.Fatal(err)
	}

	proxy := faultproxy.Start(t, emulator.Endpoint(t, awsconf.SNS))
	proxy.BlackHole()
	cfg.AWS.Endpoints.SNS = proxy.URL()
	in := start(t, "sns-black-holed", cfg)

	waitUntil(t, "a publish into the black hole", 30*time.Second, func() bool { return proxy.Accepted() >= 1 })
	// Every location's first reading fires; the poller spreads a tick over
	// its locations, so the last of them may come a batch later.
	n := len(cfg.Locations)
	waitUntil(t, "every location's notification in the outbox", 30*time.Second, func() bool {
		return in.metric(t, "weatherd_alert_outbox_pending") == float64(n)
	})
	cp, gold := checkpoint(t, ddb, cfg.Consumer.ApplicationName), goldFiles(t, lakeDir)
	waitUntil(t, "a new checkpoint and new gold files while SNS is black-holed", 30*time.Second, func() bool {
		return checkpoint(t, ddb, cfg.Consumer.ApplicationName) != cp && goldFiles(t, lakeDir) > gold
	})
	if got := in.metric(t, "weatherd_alert_outbox_pending"); got != float64(n) {
		t.Errorf("weatherd_alert_outbox_pending = %v while SNS is black-holed, want %d", got, n)
	}
	if got := in.metric(t, `weatherd_notifications_total{channel="phone",outcome="sent"}`); got > 0 {
		t.Fatalf("%v notifications sent through the black hole", got)
	}

	restored := time.Now()
	proxy.Restore()
	var want []string
	for _, l := range cfg.Locations {
		want = append(want, l.ID+"/always/1/phone")
	}
	slices.Sort(want)
	if got := emulator.NotificationIDs(t, qc, aws.ToString(q.QueueUrl), n, 30*time.Second); !slices.Equal(got, want) {
		t.Errorf("delivered notification ids %q, want %q (each once)", got, want)
	}
	t.Logf("all %d notifications in the queue %s after SNS answered again", n, time.Since(restored).Round(time.Millisecond))
	waitUntil(t, "an empty outbox", 10*time.Second, func() bool { return in.metric(t, "weatherd_alert_outbox_pending") == 0 })
}

// checkpoint is the single shard's checkpoint in the lease table.
func checkpoint(t *testing.T, ddb *dynamodb.Client, table string) string {
	t.Helper()
	out, err := ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var cps []string
	for _, it := range out.Items {
		if v, ok := it["Checkpoint"].(*types.AttributeValueMemberS); ok {
			cps = append(cps, v.Value)
		}
	}
	return strings.Join(cps, ",")
}

// goldFiles counts the Parquet files under the lake's gold/.
func goldFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "gold"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			n++
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
