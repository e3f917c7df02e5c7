package alert

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/weather"
)

// snsEnvelope is what SNS (and goaws) POSTs to an http subscriber.
type snsEnvelope struct {
	Type              string
	Subject           string
	Message           string
	TopicArn          string
	SubscribeURL      string
	MessageAttributes map[string]struct{ Type, Value string }
}

// subscriber is an http endpoint on 127.0.0.1 that confirms its
// subscription and keeps the notifications it receives.
type subscriber struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []snsEnvelope
	conf chan struct{}
}

func newSubscriber(tb testing.TB) *subscriber {
	s := &subscriber{conf: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env snsEnvelope
		if err := json.Unmarshal(body, &env); err != nil {
			tb.Errorf("subscriber got %q: %v", body, err)
			return
		}
		switch env.Type {
		case "SubscriptionConfirmation":
			go func() {
				if resp, err := http.Get(env.SubscribeURL); err == nil {
					resp.Body.Close()
				}
				s.conf <- struct{}{}
			}()
		case "Notification":
			s.mu.Lock()
			s.got = append(s.got, env)
			s.mu.Unlock()
		}
	})}}
	s.srv.Start()
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) wait(tb testing.TB, n int) []snsEnvelope {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := append([]snsEnvelope(nil), s.got...)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				tb.Fatalf("subscriber got %d notifications, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newTopic creates an SNS topic on the emulator with an http subscriber.
func newTopic(t *testing.T) (*sns.Client, string, *subscriber) {
	t.Helper()
	ctx := context.Background()
	client := emulator.SNS(t)
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.Name(t, "alerts"))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(topic.TopicArn)
	sub := newSubscriber(t)
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.srv.URL)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.conf:
	case <-time.After(10 * time.Second):
		t.Fatal("no SubscriptionConfirmation within 10s")
	}
	return client, arn, sub
}

// mustTemplates reads the templates of testdata/NAME-{subject,text,sms}.tmpl.
func mustTemplates(tb testing.TB, name string) TemplateConfig {
	tb.Helper()
	read := func(part string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name+"-"+part+".tmpl"))
		if err != nil {
			tb.Fatal(err)
		}
		return string(b)
	}
	return TemplateConfig{Subject: read("subject"), Text: read("text"), SMS: read("sms")}
}

// TestEngine_SNSEmailAndSMS: the default texts read as sentences, with
// values in the channel's units; the email body keeps "São Paulo", the
// subject and SMS are transliterated.
func TestEngine_SNSEmailAndSMS(t *testing.T) {
	got, arn := snsFiringAndResolved(t, ChannelConfig{})
	wants := []snsWant{{
		subject: "[WARNING] Strong wind in Sao Paulo",
		text: `Strong wind in São Paulo at 09:40: gusts 66 km/h, wind 33 km/h.

Location:  São Paulo (sao-paulo)
Rule:      strong-wind, severity warning
Condition: windGust >= 17.2 || windSpeed >= 13.9
Observed:  2026-11-26 12:40 UTC (09:40 local time)
Since:     2026-11-26 12:40 UTC
`,
		sms:   "WARNING: Strong wind in Sao Paulo at 09:40: gusts 66 km/h, wind 33 km/h",
		attrs: map[string]string{"severity": "warning", "rule": "strong-wind", "location": "sao-paulo", "state": "firing", "notification_id": "sao-paulo/strong-wind/1/phone"},
	}, {
		subject: "[RESOLVED] Strong wind over in Sao Paulo",
		text: `Strong wind over in São Paulo at 10:10: gusts 30 km/h, wind 18 km/h.

Location:  São Paulo (sao-paulo)
Rule:      strong-wind, severity warning
Condition: windGust >= 17.2 || windSpeed >= 13.9
Observed:  2026-11-26 13:10 UTC (10:10 local time)
Since:     2026-11-26 12:40 UTC
`,
		sms:   "Strong wind over in Sao Paulo at 10:10: gusts 30 km/h, wind 18 km/h",
		attrs: map[string]string{"severity": "warning", "rule": "strong-wind", "location": "sao-paulo", "state": "resolved", "notification_id": "sao-paulo/strong-wind/2/phone"},
	}}
	checkSNS(t, got, arn, wants)
}

// TestEngine_SNSOldCustomTemplates: a channel whose custom templates are
// the defaults of earlier versions (testdata/v1-*.tmpl) renders exactly as
// it did, whatever the channel's units: the old fields keep their meaning.
func TestEngine_SNSOldCustomTemplates(t *testing.T) {
	got, arn := snsFiringAndResolved(t, ChannelConfig{Templates: mustTemplates(t, "v1"), Units: "imperial", WindUnits: "kn"})
	checkSNS(t, got, arn, v1Wants)
}

type snsWant struct {
	subject, text, sms string
	attrs              map[string]string
}

// snsFiringAndResolved fires and resolves strong-wind at São Paulo through
// an sns channel configured as ch, and returns what the subscriber got.
func snsFiringAndResolved(t *testing.T, ch ChannelConfig) ([]snsEnvelope, string) {
	ctx := context.Background()
	client, arn, sub := newTopic(t)
	cfg := testConfig(RuleConfig{
		Name: "strong-wind", Expr: "windGust >= 17.2 || windSpeed >= 13.9", Clear: "windGust < 14 && windSpeed < 11",
		Severity: "warning", Locations: []string{"*"}, Channels: []string{"phone"},
	})
	ch.Type, ch.TopicARN, ch.Format = "sns", arn, "both"
	cfg.Channels = map[string]ChannelConfig{"phone": ch}
	h := &harness{clk: &clock{t: t0}}
	e, err := New(cfg, testLocations, Deps{SNS: client, Now: h.clk.Now}, newRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Observe(ctx, []weather.Reading{rd("sao-paulo", 40, "windGust", 18.43, "windSpeed", 9.1, "temperature", 24)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Observe(ctx, []weather.Reading{rd("sao-paulo", 70, "windGust", 8.2, "windSpeed", 5)}); err != nil {
		t.Fatal(err)
	}
	e.Tick(ctx)
	return sub.wait(t, 2), arn
}

var v1Wants = []snsWant{{
	subject: "[WARNING] strong-wind firing at Sao Paulo",
	text: `Alert strong-wind is firing at São Paulo (sao-paulo).

Severity:  warning
Condition: windGust >= 17.2 || windSpeed >= 13.9
Observed:  2026-11-26 12:40 UTC (09:40 local time)
Since:     2026-11-26 12:40 UTC

Values:
  windGust: 18.4 m/s
  windSpeed: 9.1 m/s
`,
	sms:   "WARNING strong-wind Sao Paulo 09:40: windGust 18.4 m/s, windSpeed 9.1 m/s",
	attrs: map[string]string{"severity": "warning", "rule": "strong-wind", "location": "sao-paulo", "state": "firing", "notification_id": "sao-paulo/strong-wind/1/phone"},
}, {
	subject: "[RESOLVED] strong-wind at Sao Paulo",
	text: `Alert strong-wind is resolved at São Paulo (sao-paulo).

Severity:  warning
Condition: windGust >= 17.2 || windSpeed >= 13.9
Observed:  2026-11-26 13:10 UTC (10:10 local time)
Since:     2026-11-26 12:40 UTC

Values:
  windGust: 8.2 m/s
  windSpeed: 5.0 m/s
`,
	sms:   "RESOLVED strong-wind Sao Paulo 10:10: windGust 8.2 m/s, windSpeed 5.0 m/s",
	attrs: map[string]string{"severity": "warning", "rule": "strong-wind", "location": "sao-paulo", "state": "resolved", "notification_id": "sao-paulo/strong-wind/2/phone"},
}}

func checkSNS(t *testing.T, got []snsEnvelope, arn string, wants []snsWant) {
	t.Helper()
	for i, w := range wants {
		env := got[i]
		if env.Subject != w.subject || env.TopicArn != arn {
			t.Errorf("notification %d: subject %q topic %q, want %q %q", i, env.Subject, env.TopicArn, w.subject, arn)
		}
		// goaws v0.4.5 hands http subscribers the whole MessageStructure=json
		// document (real SNS would pick the "http" or "default" text), so the
		// per-protocol texts are checked inside it.
		var texts map[string]string
		if err := json.Unmarshal([]byte(env.Message), &texts); err != nil {
			t.Fatalf("notification %d message %q is not the JSON structure: %v", i, env.Message, err)
		}
		if wantTexts := map[string]string{"default": w.text, "email": w.text, "sms": w.sms}; !reflect.DeepEqual(texts, wantTexts) {
			t.Errorf("notification %d texts:\n got %q\nwant %q", i, texts, wantTexts)
		}
		attrs := map[string]string{}
		for k, v := range env.MessageAttributes {
			if v.Type != "String" {
				t.Errorf("attribute %s type %q, want String", k, v.Type)
			}
			attrs[k] = v.Value
		}
		if !reflect.DeepEqual(attrs, w.attrs) {
			t.Errorf("notification %d attributes %v, want %v", i, attrs, w.attrs)
		}
	}
	for _, w := range wants {
		if n := len(w.sms); n > 160 || !isGSM(w.sms) {
			t.Errorf("sms %q is %d chars or not GSM-7", w.sms, n)
		}
	}
}
