package alert

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
	"github.com/weatherd/weatherd/pkg/weather"
)

// TestEngine_SNSOutageThenRecovery drives the outbox's failure and retry path
// against goaws: first the topic does not exist, then SNS is black-holed (a
// connection that never answers), then it answers again. Observe never waits
// for SNS, every notification stays queued through the outage, and once SNS
// answers the subscribed queue gets exactly the queued notifications, once each.
func TestEngine_SNSOutageThenRecovery(t *testing.T) {
	ctx := context.Background()
	sc, qc := emulator.SNS(t), emulator.SQS(t)
	// goaws's ARN prefix (region and account), from a topic made for it.
	probe, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.Name(t, "probe"))})
	if err != nil {
		t.Fatal(err)
	}
	name := emulator.Name(t, "outage")
	arn := aws.ToString(probe.TopicArn)
	arn = arn[:strings.LastIndex(arn, ":")+1] + name

	proxy := faultproxy.Start(t, emulator.Endpoint(t, awsconf.SNS))
	proxied := sns.NewFromConfig(emulator.AWSConfig(t), func(o *sns.Options) { o.BaseEndpoint = aws.String(proxy.URL()) })
	cfg := testConfig(rule("gusty", "windGust >= 20", func(r *RuleConfig) { r.Channels = []string{"phone"} }))
	cfg.Channels = map[string]ChannelConfig{"phone": {Type: "sns", TopicARN: arn, Format: "sms"}}
	cfg.Outbox.SendTimeout = time.Second
	clk := &clock{t: t0}
	e, err := New(cfg, testLocations, Deps{SNS: proxied, Now: clk.Now}, newRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// observe fails the test unless Observe returns within a few seconds:
	// it must not wait for SNS, whatever SNS does.
	observe := func(rs ...weather.Reading) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- e.Observe(ctx, rs) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Observe is waiting for SNS")
		}
	}
	failed := func() int { return int(testutil.ToFloat64(e.m.notifications.WithLabelValues("phone", outcomeFailed))) }
	round := func() { // one delivery round, everything due
		clk.Set(clk.Now().Add(e.maxBackoff))
		e.Tick(ctx)
	}

	// 1. The topic does not exist yet: Publish answers NotFound.
	observe(rd("toronto", 0, "windGust", 25), rd("sao-paulo", 0, "windGust", 30))
	observe(rd("toronto", 5, "windGust", 5))
	if failed() != 0 {
		t.Fatalf("Observe tried to publish (%d failed attempts): delivery is Run's, off the shard", failed())
	}
	round()
	if got := e.outboxLen.Load(); got != 3 || failed() != 1 {
		t.Fatalf("after a publish to a missing topic: outbox %d, failed %d; want 3 queued after 1 failed attempt", got, failed())
	}

	// 2. The topic appears, but SNS is black-holed.
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(emulator.Name(t, "outage-q"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: q.QueueUrl}); err != nil {
		t.Fatal(err)
	}
	proxy.BlackHole()
	observe(rd("toronto", 10, "windGust", 26))
	if failed() != 1 {
		t.Fatalf("Observe tried to publish (%d failed attempts): delivery is Run's, off the shard", failed())
	}
	round()
	if got := e.outboxLen.Load(); got != 4 || failed() != 2 {
		t.Fatalf("while SNS is black-holed: outbox %d, failed %d; want 4 queued after 2 failed attempts", got, failed())
	}

	// 3. SNS answers again: the queue gets exactly what was queued.
	proxy.Restore()
	round()
	if got := e.outboxLen.Load(); got != 0 {
		t.Errorf("outbox after recovery: %d, want 0", got)
	}
	want := []string{"sao-paulo/gusty/1/phone", "toronto/gusty/1/phone", "toronto/gusty/2/phone", "toronto/gusty/3/phone"}
	if got := emulator.NotificationIDs(t, qc, aws.ToString(q.QueueUrl), len(want), 15*time.Second); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("delivered notification ids %q, want %q (each once)", got, want)
	}
	if proxy.Accepted() == 0 {
		t.Error("no connection went through the fault proxy")
	}
}

// retryAfter refuses every send, asking for a wait until at.
type retryAfter struct {
	at    time.Time
	calls int
}

func (r *retryAfter) Send(context.Context, notify.Message) error {
	r.calls++
	return &notify.RetryAfterError{At: r.at, Err: errors.New("webhook post to example.com: HTTP 429")}
}

// TestEngine_RetryAfterDelaysTheNextAttempt: a channel's Retry-After (already
// capped by the channel) sets when the notification is tried again, beyond
// the outbox's own backoff.
func TestEngine_RetryAfterDelaysTheNextAttempt(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	ra := &retryAfter{at: t0.Add(30 * time.Minute)}
	h.e.channels["rec"].sender = ra
	h.observe(t, rd("toronto", 0, "windGust", 25))
	if ra.calls != 1 {
		t.Fatalf("%d sends, want 1", ra.calls)
	}
	h.clk.Set(t0.Add(29 * time.Minute)) // far past the backoff, before Retry-After
	h.e.Tick(context.Background())
	if ra.calls != 1 {
		t.Errorf("%d sends before the Retry-After time, want 1", ra.calls)
	}
	h.e.channels["rec"].sender = h.rec["rec"]
	h.clk.Set(t0.Add(30 * time.Minute))
	h.e.Tick(context.Background())
	if got := h.rec["rec"].lines(); len(got) != 1 || got[0] != "firing gusty toronto" {
		t.Errorf("delivered %q at the Retry-After time", got)
	}
}

// sendThen is a channel that hands a message to the recorder, then runs
// after (once).
type sendThen struct {
	rec   *recorder
	after func()
}

func (s *sendThen) Send(ctx context.Context, m notify.Message) error {
	err := s.rec.Send(ctx, m)
	if s.after != nil {
		s.after()
		s.after = nil
	}
	return err
}

// TestEngine_PublishedNotificationIsNotPublishedAgainWhileTheStoreIsDown: the
// channel takes a notification, then DynamoDB (dynalite behind the fault
// proxy) stops answering, so the outbox entry cannot be removed. The next
// delivery rounds retry the removal only: subscribers get the notification
// once, and once DynamoDB answers the outbox is empty, in memory and in the
// table.
func TestEngine_PublishedNotificationIsNotPublishedAgainWhileTheStoreIsDown(t *testing.T) {
	ctx := context.Background()
	cfg := dynamoConfig(t)
	proxy := faultproxy.Start(t, emulator.Endpoint(t, awsconf.DynamoDB))
	db := dynamodb.NewFromConfig(emulator.AWSConfig(t), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(proxy.URL())
		o.RetryMaxAttempts = 1
		o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
	})
	h := newHarness(t, cfg, Deps{DynamoDB: db})
	h.e.channels["rec"].sender = &sendThen{rec: h.rec["rec"], after: proxy.BlackHole}

	if err := h.e.Observe(ctx, []weather.Reading{rd("toronto", 0, "windGust", 25)}); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	h.deliver() // published; the removal times out
	if got := h.e.outboxLen.Load(); got != 1 {
		t.Fatalf("outbox after a publish whose removal failed: %d entries, want 1", got)
	}
	// Rounds within the claim, each past the entry's backoff.
	for i := 1; i <= 4; i++ {
		h.clk.Set(h.clk.Now().Add(time.Duration(1<<i) * time.Second))
		h.e.Tick(ctx)
	}
	if got := h.rec["rec"].lines(); len(got) != 1 || got[0] != "firing gusty toronto" {
		t.Fatalf("while DynamoDB is down, the channel got %q; want the firing once", got)
	}

	proxy.Restore()
	h.clk.Set(h.clk.Now().Add(h.e.maxBackoff))
	h.e.Tick(ctx)
	if got := h.e.outboxLen.Load(); got != 0 {
		t.Errorf("outbox once DynamoDB answers: %d entries, want 0", got)
	}
	if got := h.rec["rec"].lines(); len(got) != 1 {
		t.Errorf("after recovery the channel got %q; want the firing once", got)
	}
	stored, ok, err := h.e.store.Get(ctx, "toronto", "gusty")
	if err != nil || !ok {
		t.Fatalf("stored alert: ok=%v err=%v", ok, err)
	}
	if len(stored.Outbox) != 0 {
		t.Errorf("stored outbox %v, want empty: a restart would send it again", stored.Outbox)
	}
	if proxy.Accepted() == 0 {
		t.Error("no connection went through the fault proxy")
	}
}
