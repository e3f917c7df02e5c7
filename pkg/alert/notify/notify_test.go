package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/secret"
)

func TestToGSM7(t *testing.T) {
	tests := []struct{ in, want string }{
		{"São Paulo", "Sao Paulo"},
		{"Montréal 24.5 °C", "Montréal 24.5 C"}, // é is GSM-7; ° is not
		{"Zürich – “Föhn”…", "Zürich - \"Föhn\"..."},
		{"Kraków Łódź", "Krakow ?odz"},
		{"東京", "??"},
		{"a{b}€", "a{b}€"},
	}
	for _, tc := range tests {
		got := notify.ToGSM7(tc.in)
		if got != tc.want || !notify.IsGSM7(got) {
			t.Errorf("ToGSM7(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if notify.IsGSM7("São") {
		t.Error(`IsGSM7("São") = true`)
	}
	if got := notify.SeptetLen("a€{"); got != 5 {
		t.Errorf("SeptetLen = %d, want 5", got)
	}
}

func TestFitSMS(t *testing.T) {
	long := "WARNING strong-wind São Paulo 09:40: " + strings.Repeat("windGust 18.4 m/s, ", 10)
	got := notify.FitSMS(long, notify.SMSSegment)
	want := "WARNING strong-wind Sao Paulo 09:40: windGust 18.4 m/s, windGust 18.4 m/s, windGust 18.4 m/s, windGust 18.4 m/s, windGust 18.4 m/s, windGust 18.4 m/s..."
	if got != want {
		t.Errorf("FitSMS:\n got %q\nwant %q", got, want)
	}
	if n := notify.SeptetLen(got); n > 160 {
		t.Errorf("%d septets", n)
	}
	// Extension characters count twice.
	ext := notify.FitSMS(strings.Repeat("€", 100), notify.SMSSegment)
	if n := notify.SeptetLen(ext); n > 160 || !strings.HasSuffix(ext, "...") {
		t.Errorf("FitSMS(€×100) = %d septets: %q", n, ext)
	}
	if got := notify.FitSMS("short\ntext", 160); got != "short text" {
		t.Errorf("FitSMS = %q", got)
	}
}

func TestSubject(t *testing.T) {
	if got, want := notify.Subject("[WARNING] strong-wind\r\nat São Paulo\t"), "[WARNING] strong-wind at Sao Paulo"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	long := notify.Subject(strings.Repeat("x", 150))
	if len(long) != 99 || !strings.HasSuffix(long, "...") {
		t.Errorf("Subject(150 x) = %d chars %q", len(long), long)
	}
}

func TestPublishInput(t *testing.T) {
	m := notify.Message{
		ID: "sao-paulo/strong-wind/1/phone", Subject: "[WARNING] strong-wind firing at São Paulo",
		Text: "email body\n", SMS: "sms text",
		Attributes: map[string]string{"severity": "warning", "rule": "strong-wind", "location": "sao-paulo", "state": "firing"},
	}
	const arn = "arn:aws:sns:us-east-1:000000000000:alerts"
	tests := []struct {
		format  string
		texts   map[string]string
		subject *string
	}{
		{"both", map[string]string{"default": "email body\n", "email": "email body\n", "sms": "sms text"}, aws.String("[WARNING] strong-wind firing at Sao Paulo")},
		{"email", map[string]string{"default": "email body\n", "email": "email body\n"}, aws.String("[WARNING] strong-wind firing at Sao Paulo")},
		{"sms", map[string]string{"default": "sms text", "sms": "sms text"}, nil},
	}
	for _, tc := range tests {
		in, err := notify.PublishInput(arn, tc.format, m)
		if err != nil {
			t.Fatal(err)
		}
		var texts map[string]string
		if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &texts); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(texts, tc.texts) {
			t.Errorf("%s: texts %q, want %q", tc.format, texts, tc.texts)
		}
		if aws.ToString(in.MessageStructure) != "json" || aws.ToString(in.TopicArn) != arn {
			t.Errorf("%s: structure %q topic %q", tc.format, aws.ToString(in.MessageStructure), aws.ToString(in.TopicArn))
		}
		if !reflect.DeepEqual(in.Subject, tc.subject) {
			t.Errorf("%s: subject %v, want %v", tc.format, aws.ToString(in.Subject), aws.ToString(tc.subject))
		}
		attrs := map[string]string{}
		for k, v := range in.MessageAttributes {
			if aws.ToString(v.DataType) != "String" {
				t.Errorf("attribute %s: %q", k, aws.ToString(v.DataType))
			}
			attrs[k] = aws.ToString(v.StringValue)
		}
		want := maps.Clone(m.Attributes)
		want["notification_id"] = m.ID
		if !reflect.DeepEqual(attrs, want) {
			t.Errorf("%s: attributes %v", tc.format, attrs)
		}
	}
}

func TestWebhook_Send(t *testing.T) {
	const key = secret.String("s3cret")
	now := time.Unix(1795000000, 0)
	var calls atomic.Int32
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(notify.TimestampHeader), 10, 64)
		if got, want := r.Header.Get(notify.SignatureHeader), notify.Sign(key, ts, body); got != want || ts != now.Unix() {
			t.Errorf("signature %q ts %d, want %q %d", got, ts, want, now.Unix())
		}
		if r.Header.Get(notify.DeliveryHeader) != "id-1" || r.Header.Get("Content-Type") != "application/json" || string(body) != `{"a":1}` {
			t.Errorf("headers %v body %s", r.Header, body)
		}
		if n == 1 {
			w.WriteHeader(int(status.Load()))
		}
	}))
	defer srv.Close()
	w := notify.NewWebhook(srv.Client(), srv.URL+"/hook?token=abc", key, time.Second, func() time.Time { return now })
	m := notify.Message{ID: "id-1", Body: []byte(`{"a":1}`)}
	// 503 then 200: retried within Send.
	if err := w.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", calls.Load())
	}
	// 400 is not retried and the error names no token.
	calls.Store(0)
	status.Store(http.StatusBadRequest)
	err := w.Send(context.Background(), m)
	if err == nil || strings.Contains(err.Error(), "abc") || !strings.HasSuffix(err.Error(), ": HTTP 400") || calls.Load() != 1 {
		t.Errorf("Send = %v after %d calls", err, calls.Load())
	}
	if got := notify.Sign(key, 1, []byte("x")); !strings.HasPrefix(got, "sha256=") || len(got) != 7+64 {
		t.Errorf("Sign = %q", got)
	}
}

func TestWebhook_Timeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	w := notify.NewWebhook(nil, srv.URL, "k", 50*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no retries after the first timeout
	if err := w.Send(ctx, notify.Message{ID: "x", Body: []byte("{}")}); err == nil {
		t.Fatal("Send to a hanging server succeeded")
	}
}
