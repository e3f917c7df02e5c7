package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestKinesisPutGetRecord(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	kc := emulator.Kinesis(t)
	stream := emulator.Name(t, "emu-stream")

	if _, err := kc.CreateStream(c, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		_, _ = kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
	})
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(c, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, 30*time.Second); err != nil {
		t.Fatalf("wait for stream: %v", err)
	}

	data := []byte("{\"temp\":21.5}\x00\xff")
	put, err := kc.PutRecord(c, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("loc-1"), Data: data})
	if err != nil {
		t.Fatalf("put record: %v", err)
	}
	it, err := kc.GetShardIterator(c, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: put.ShardId, ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("get shard iterator: %v", err)
	}
	got, err := kc.GetRecords(c, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("get records: %v", err)
	}
	if len(got.Records) != 1 {
		t.Fatalf("got %d records, want 1", len(got.Records))
	}
	r := got.Records[0]
	if !bytes.Equal(r.Data, data) {
		t.Errorf("data = %q, want %q", r.Data, data)
	}
	if aws.ToString(r.SequenceNumber) != aws.ToString(put.SequenceNumber) {
		t.Errorf("sequence number = %s, want %s", aws.ToString(r.SequenceNumber), aws.ToString(put.SequenceNumber))
	}
	if aws.ToString(r.PartitionKey) != "loc-1" {
		t.Errorf("partition key = %q, want loc-1", aws.ToString(r.PartitionKey))
	}
}

func TestDynamoDBConditionalPut(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	db := emulator.DynamoDB(t)
	table := emulator.Name(t, "emu-table")

	_, err := db.CreateTable(c, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(c, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		t.Fatalf("wait for table: %v", err)
	}

	put := func(owner string) error {
		_, err := db.PutItem(c, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]ddbtypes.AttributeValue{
				"pk":    &ddbtypes.AttributeValueMemberS{Value: "shard-0001"},
				"owner": &ddbtypes.AttributeValueMemberS{Value: owner},
			},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		return err
	}
	if err := put("worker-a"); err != nil {
		t.Fatalf("first put: %v", err)
	}
	err = put("worker-b")
	var ccf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("second put: got %v, want ConditionalCheckFailedException", err)
	}

	got, err := db.GetItem(c, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "shard-0001"}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("get item: %v", err)
	}
	owner, ok := got.Item["owner"].(*ddbtypes.AttributeValueMemberS)
	if !ok || owner.Value != "worker-a" {
		t.Errorf("owner = %#v, want worker-a", got.Item["owner"])
	}
}

func TestS3PutGetList(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	sc := emulator.S3(t)
	bucket := emulator.Name(t, "emu-bucket")

	if _, err := sc.CreateBucket(c, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	objects := map[string][]byte{
		"raw/dt=2026-11-27/hour=00/part-0001.json": []byte("{\"a\":1}\n{\"a\":2}\n"),
		"raw/dt=2026-11-27/hour=01/part-0002.json": {0x00, 0x01, 0xfe, 0xff},
		"parquet/dt=2026-11-27/part-0001.parquet":  []byte("PAR1...PAR1"),
	}
	t.Cleanup(func() {
		for k := range objects {
			_, _ = sc.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		}
		_, _ = sc.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	for k, v := range objects {
		if _, err := sc.PutObject(c, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(v)}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for k, v := range objects {
		out, err := sc.GetObject(c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		b, err := io.ReadAll(out.Body)
		_ = out.Body.Close()
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		if !bytes.Equal(b, v) {
			t.Errorf("%s = %q, want %q", k, b, v)
		}
	}
	list, err := sc.ListObjectsV2(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("raw/")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	want := []string{"raw/dt=2026-11-27/hour=00/part-0001.json", "raw/dt=2026-11-27/hour=01/part-0002.json"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if aws.ToInt32(list.KeyCount) != 2 {
		t.Errorf("key count = %d, want 2", aws.ToInt32(list.KeyCount))
	}
}

// envelope is the JSON body SNS posts to an HTTP subscriber.
type envelope struct {
	Type         string
	MessageId    string
	TopicArn     string
	Subject      string
	Message      string
	Token        string
	SubscribeURL string
	Signature    string
}

func TestSNSPublishToHTTPSubscriber(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	sc := emulator.SNS(t)

	got := make(chan envelope, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e envelope
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("decode envelope: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if h := r.Header.Get("x-amz-sns-message-type"); h != e.Type {
			t.Errorf("x-amz-sns-message-type = %q, want %q", h, e.Type)
		}
		got <- e
	}))
	t.Cleanup(srv.Close)

	topic, err := sc.CreateTopic(c, &sns.CreateTopicInput{Name: aws.String(emulator.Name(t, "emu-topic"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() { _, _ = sc.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) })

	// goaws posts the confirmation before Subscribe returns.
	if _, err := sc.Subscribe(c, &sns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(srv.URL + "/sns"),
	}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	conf := receive(t, got)
	if conf.Type != "SubscriptionConfirmation" || conf.TopicArn != aws.ToString(topic.TopicArn) || conf.Token == "" {
		t.Fatalf("confirmation = %+v", conf)
	}
	resp, err := http.Get(conf.SubscribeURL)
	if err != nil {
		t.Fatalf("confirm via SubscribeURL: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<SubscriptionArn>"+aws.ToString(topic.TopicArn)+":") {
		t.Fatalf("confirm via SubscribeURL: HTTP %d %s", resp.StatusCode, body)
	}

	msg := "wind gust 31.2 m/s at Hamburg ⚠ \"quoted\"\nsecond line"
	if _, err := sc.Publish(c, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("Storm warning"), Message: aws.String(msg)}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	n := receive(t, got)
	if n.Type != "Notification" || n.Message != msg || n.Subject != "Storm warning" || n.TopicArn != aws.ToString(topic.TopicArn) || n.MessageId == "" || n.Signature == "" {
		t.Errorf("notification = %+v, want Type Notification, Message %q, Subject %q, TopicArn %s", n, msg, "Storm warning", aws.ToString(topic.TopicArn))
	}
}

func receive(t *testing.T, ch <-chan envelope) envelope {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no SNS delivery within 10s")
		return envelope{}
	}
}

func TestSQSSendReceive(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	qc := emulator.SQS(t)

	q, err := qc.CreateQueue(c, &sqs.CreateQueueInput{QueueName: aws.String(emulator.Name(t, "emu-queue"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { _, _ = qc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	if _, err := qc.SendMessage(c, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("hello ☔")}); err != nil {
		t.Fatalf("send: %v", err)
	}
	out, err := qc.ReceiveMessage(c, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "hello ☔" {
		t.Fatalf("messages = %+v, want one with body %q", out.Messages, "hello ☔")
	}
	if _, err := qc.DeleteMessage(c, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
		t.Fatalf("delete message: %v", err)
	}
	attrs, err := qc.GetQueueAttributes(c, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("get queue attributes: %v", err)
	}
	if n := attrs.Attributes["ApproximateNumberOfMessages"]; n != "0" {
		t.Errorf("ApproximateNumberOfMessages = %q after delete, want 0", n)
	}
}

func TestSNSPublishToSQSSubscriber(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	sc, qc := emulator.SNS(t), emulator.SQS(t)

	q, err := qc.CreateQueue(c, &sqs.CreateQueueInput{QueueName: aws.String(emulator.Name(t, "emu-sub-queue"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { _, _ = qc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	topic, err := sc.CreateTopic(c, &sns.CreateTopicInput{Name: aws.String(emulator.Name(t, "emu-topic"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() { _, _ = sc.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) })
	if _, err := sc.Subscribe(c, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: q.QueueUrl}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}

	msg := "rain 12.5 mm/h at Oslo"
	if _, err := sc.Publish(c, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("Rain"), Message: aws.String(msg)}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	out, err := qc.ReceiveMessage(c, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("got %d messages, want 1", len(out.Messages))
	}
	var e envelope
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &e); err != nil {
		t.Fatalf("decode envelope %q: %v", aws.ToString(out.Messages[0].Body), err)
	}
	if e.Type != "Notification" || e.Message != msg || e.Subject != "Rain" || e.TopicArn != aws.ToString(topic.TopicArn) {
		t.Errorf("envelope = %+v, want Notification %q", e, msg)
	}
}

// TestSNSSQSConcurrentUse drives goaws from many goroutines at once: goaws
// keeps its state in unguarded maps, and a crash here would take every
// other test's topics and queues with it.
func TestSNSSQSConcurrentUse(t *testing.T) {
	t.Parallel()
	c := ctx(t)
	sc, qc := emulator.SNS(t), emulator.SQS(t)

	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- roundTrip(c, sc, qc, emulator.Name(t, fmt.Sprintf("emu-conc-%d", i)), fmt.Sprintf("message %d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// roundTrip creates a queue and a topic named name, subscribes the queue,
// publishes msg and checks the queue received exactly that, then deletes both.
func roundTrip(c context.Context, sc *sns.Client, qc *sqs.Client, name, msg string) error {
	q, err := qc.CreateQueue(c, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", name, err)
	}
	defer func() { _, _ = qc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) }()
	topic, err := sc.CreateTopic(c, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	defer func() { _, _ = sc.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: topic.TopicArn}) }()
	if _, err := sc.Subscribe(c, &sns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: q.QueueUrl,
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	}); err != nil {
		return fmt.Errorf("subscribe %s: %w", name, err)
	}
	if _, err := sc.Publish(c, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(msg)}); err != nil {
		return fmt.Errorf("publish %s: %w", name, err)
	}
	out, err := qc.ReceiveMessage(c, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		return fmt.Errorf("receive %s: %w", name, err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != msg {
		var bodies []string
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		return fmt.Errorf("queue %s got %q, want [%q]", name, bodies, msg)
	}
	return nil
}

// port is the emulator port emulators.sh uses: WEATHERD_EMU_<NAME>_PORT or def.
func port(name, def string) string {
	if p := os.Getenv("WEATHERD_EMU_" + name + "_PORT"); p != "" {
		return p
	}
	return def
}

func TestAWSPointsAtEmulators(t *testing.T) {
	c := emulator.AWS(t)
	want := awsconf.Config{
		Region: "us-east-1",
		Endpoints: awsconf.Endpoints{
			Kinesis:  "http://127.0.0.1:" + port("KINESIS", "4568"),
			DynamoDB: "http://127.0.0.1:" + port("DYNAMODB", "4569"),
			S3:       "http://127.0.0.1:" + port("S3", "4570"),
			SNS:      "http://127.0.0.1:" + port("SNS", "4571"),
		},
		S3ForcePathStyle: true,
		Timeouts:         testkit.Default[awsconf.Timeouts](t, "aws.timeouts"),
	}
	if c != want {
		t.Errorf("AWS() = %+v, want %+v", c, want)
	}
}

func TestEndpointOverride(t *testing.T) {
	// Point kinesis at the running dynalite: any HTTP answer counts.
	dynalite := "http://127.0.0.1:" + port("DYNAMODB", "4569")
	t.Setenv("WEATHERD_TEST_KINESIS_ENDPOINT", dynalite+"/")
	if got := emulator.Endpoint(t, "kinesis"); got != dynalite {
		t.Errorf("Endpoint(kinesis) = %q, want %s", got, dynalite)
	}
}

// fakeTB captures Fatalf the way testing.T does: record, then end the goroutine.
type fakeTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// fatalOf runs fn with a fakeTB and returns what it passed to Fatalf.
func fatalOf(fn func(tb testing.TB)) string {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func TestUnreachableEndpointFails(t *testing.T) {
	tests := []struct {
		name, env, program string
		call               func(tb testing.TB)
	}{
		{"kinesis", "WEATHERD_TEST_KINESIS_ENDPOINT", "kinesis-local", func(tb testing.TB) { emulator.Kinesis(tb) }},
		{"dynamodb", "WEATHERD_TEST_DYNAMODB_ENDPOINT", "dynalite", func(tb testing.TB) { emulator.DynamoDB(tb) }},
		{"s3", "WEATHERD_TEST_S3_ENDPOINT", "s3rver", func(tb testing.TB) { emulator.S3(tb) }},
		{"sns", "WEATHERD_TEST_SNS_ENDPOINT", "goaws", func(tb testing.TB) { emulator.SNS(tb) }},
		{"sqs", "WEATHERD_TEST_SNS_ENDPOINT", "goaws", func(tb testing.TB) { emulator.SQS(tb) }},
		{"aws", "WEATHERD_TEST_S3_ENDPOINT", "s3rver", func(tb testing.TB) { emulator.AWS(tb) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := fmt.Sprintf("http://127.0.0.1:%d", closedPort(t))
			t.Setenv(tt.env, endpoint)
			msg := fatalOf(tt.call)
			want := fmt.Sprintf("%s is not reachable at %s: start the emulators with `deploy/local/emulators.sh start` (make test does it): ", tt.program, endpoint)
			if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "connect: connection refused") {
				t.Errorf("Fatalf message = %q, want %q + the dial error (connection refused)", msg, want)
			}
		})
	}
}

func TestEndpointBadInput(t *testing.T) {
	if msg := fatalOf(func(tb testing.TB) { emulator.Endpoint(tb, "kinesis-local") }); msg != `emulator: unknown service "kinesis-local": want kinesis, dynamodb, s3 or sns` {
		t.Errorf("unknown service: Fatalf message = %q", msg)
	}
	t.Setenv("WEATHERD_TEST_S3_ENDPOINT", "127.0.0.1:4570")
	if msg := fatalOf(func(tb testing.TB) { emulator.Endpoint(tb, "s3") }); msg != `emulator: WEATHERD_TEST_S3_ENDPOINT="127.0.0.1:4570": want an http:// or https:// URL` {
		t.Errorf("bad override: Fatalf message = %q", msg)
	}
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

func TestName(t *testing.T) {
	tests := []struct{ prefix, wantHead string }{
		{"lease-table", "lease-table-"},
		{"TestKCL/Steal_Lease", "testkcl-steal-lease-"},
		{"--Ünïcode__", "n-code-"},
		{"", "t-"},
		{"a-very-long-prefix-that-goes-on-and-on-and-on", "a-very-long-prefix-that-goe-"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		for range 50 {
			n := emulator.Name(t, tt.prefix)
			if !strings.HasPrefix(n, tt.wantHead) || len(n) != len(tt.wantHead)+12 {
				t.Fatalf("Name(%q) = %q, want %q + 12 hex digits", tt.prefix, n, tt.wantHead)
			}
			if len(n) > 40 || !validName.MatchString(n) || strings.Contains(n, "--") {
				t.Fatalf("Name(%q) = %q: not a valid stream/table/bucket name", tt.prefix, n)
			}
			if seen[n] {
				t.Fatalf("Name(%q) = %q twice", tt.prefix, n)
			}
			seen[n] = true
		}
	}
}
