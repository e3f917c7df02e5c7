// Package bootstrap creates, idempotently, the AWS resources a configuration
// names — stream, lease table, poller leader table, alert-state table,
// bucket, topics and their subscriptions — for LocalStack and the local
// emulators. Production accounts use the infrastructure code in deploy/
// instead.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/kcl"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/leader"
	"github.com/weatherd/weatherd/pkg/producer"
	"github.com/weatherd/weatherd/pkg/stream"
)

// bucketAPI is what bootstrap needs from S3.
type bucketAPI interface {
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, opts ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

// topicAPI is what bootstrap needs from SNS.
type topicAPI interface {
	CreateTopic(ctx context.Context, in *sns.CreateTopicInput, opts ...func(*sns.Options)) (*sns.CreateTopicOutput, error)
	Subscribe(ctx context.Context, in *sns.SubscribeInput, opts ...func(*sns.Options)) (*sns.SubscribeOutput, error)
}

var (
	_ bucketAPI = (*s3.Client)(nil)
	_ topicAPI  = (*sns.Client)(nil)
)

// Run creates every resource cfg names, printing one line per resource to out.
// Resources that exist are left as they are. It stops at the first failure.
func Run(ctx context.Context, cfg *config.Config, out io.Writer, log *slog.Logger) error {
	sdk, err := awsconf.Load(ctx, cfg.AWS)
	if err != nil {
		return err
	}
	if cfg.Stream.Driver == stream.DriverKinesis {
		name := cfg.Stream.Kinesis.Name
		if err := producer.EnsureStream(ctx, awsconf.NewKinesis(sdk, cfg.AWS), name, cfg.Stream.Kinesis.Shards); err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		fmt.Fprintf(out, "stream %s: ready (%d shards when created)\n", name, cfg.Stream.Kinesis.Shards)
		table := cfg.Consumer.ApplicationName
		if err := kcl.EnsureTable(ctx, awsconf.NewDynamoDB(sdk, cfg.AWS), table); err != nil {
			return fmt.Errorf("lease table %s: %w", table, err)
		}
		fmt.Fprintf(out, "lease table %s: ready\n", table)
	}
	if cfg.Poller.Enabled && cfg.Poller.Leader.Enabled {
		table := cfg.Poller.Leader.Table
		if err := leader.EnsureTable(ctx, awsconf.NewDynamoDB(sdk, cfg.AWS), table); err != nil {
			return fmt.Errorf("poller leader table %s: %w", table, err)
		}
		fmt.Fprintf(out, "poller leader table %s: ready\n", table)
	}
	if cfg.Alerts.State.Driver == "dynamodb" {
		table := cfg.Alerts.State.Table
		if err := state.EnsureTable(ctx, awsconf.NewDynamoDB(sdk, cfg.AWS), table); err != nil {
			return fmt.Errorf("alert-state table %s: %w", table, err)
		}
		fmt.Fprintf(out, "alert-state table %s: ready\n", table)
	}
	if loc, _ := lake.ParseURL(cfg.Lake.URL); loc.Scheme == "s3" {
		if err := ensureBucket(ctx, awsconf.NewS3(sdk, cfg.AWS), loc.Bucket, cfg.AWS.Region); err != nil {
			return fmt.Errorf("bucket %s: %w", loc.Bucket, err)
		}
		fmt.Fprintf(out, "bucket %s: ready\n", loc.Bucket)
	}
	topics := snsTopics(cfg)
	if len(topics) > 0 {
		api := awsconf.NewSNS(sdk, cfg.AWS)
		for _, t := range topics {
			arn, err := ensureTopic(ctx, api, t)
			if err != nil {
				return err
			}
			if arn != t.arn {
				log.Warn("created topic ARN differs from the configured topic_arn; check the account id and region", "channel", t.channel, "configured", t.arn, "created", arn)
			}
			fmt.Fprintf(out, "topic %s: ready (%d subscriptions)\n", arn, len(t.subscriptions))
		}
	}
	return nil
}

func ensureBucket(ctx context.Context, api bucketAPI, bucket, region string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err := api.CreateBucket(ctx, in)
	var owned *s3types.BucketAlreadyOwnedByYou
	if err == nil || errors.As(err, &owned) {
		return nil
	}
	var exists *s3types.BucketAlreadyExists
	if errors.As(err, &exists) {
		// Some emulators answer this for a bucket of ours too: it is ours
		// when we can reach it.
		if _, herr := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); herr == nil {
			return nil
		}
		return fmt.Errorf("the name is taken by another account: %w", err)
	}
	return err
}

type topic struct {
	channel       string
	arn           string
	subscriptions []subscription
}

type subscription struct{ protocol, endpoint string }

// snsTopics lists the topics of the sns channels, once each.
func snsTopics(cfg *config.Config) []topic {
	seen := map[string]int{}
	var out []topic
	for name, ch := range cfg.Alerts.Channels {
		if ch.Type != "sns" || ch.TopicARN == "" {
			continue
		}
		i, ok := seen[ch.TopicARN]
		if !ok {
			i = len(out)
			seen[ch.TopicARN] = i
			out = append(out, topic{channel: name, arn: ch.TopicARN})
		}
		for _, s := range ch.Subscriptions {
			out[i].subscriptions = append(out[i].subscriptions, subscription{s.Protocol, s.Endpoint})
		}
	}
	return out
}

// ensureTopic creates the topic named by the ARN's last part (CreateTopic is
// idempotent) and subscribes each endpoint (Subscribe is idempotent too).
func ensureTopic(ctx context.Context, api topicAPI, t topic) (string, error) {
	name := t.arn[strings.LastIndex(t.arn, ":")+1:]
	out, err := api.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("topic %s: %w", name, err)
	}
	arn := aws.ToString(out.TopicArn)
	for _, s := range t.subscriptions {
		if _, err := api.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(arn), Protocol: aws.String(s.protocol), Endpoint: aws.String(s.endpoint),
			ReturnSubscriptionArn: true,
		}); err != nil {
			return "", fmt.Errorf("subscribe %s to %s: %w", s.protocol, name, err)
		}
	}
	return arn, nil
}
