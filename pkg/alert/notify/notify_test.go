package notify_test

import (
	"context"
	"encoding/json"
	"errors"
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
	w := notify.NewWebhook(srv.Client(), notify.WebhookConfig{URL: srv.URL + "/hook?token=abc", Secret: key, Timeout: time.Second, Now: func() time.Time { return now }})
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

// TestWebhook_SignatureVector pins the README's signature,
// hex(HMAC-SHA256(secret, timestamp + "." + body)), with a vector computed
// outside Go:
//
//	printf '%s' '1795000000.{"id":"sao-paulo/strong-wind/1/hook","state":"firing"}' |
//	  openssl dgst -sha256 -hmac 'whsec-test-vector'
func TestWebhook_SignatureVector(t *testing.T) {
	const (
		key  = "whsec-test-vector"
		ts   = 1795000000
		body = `{"id":"sao-paulo/strong-wind/1/hook","state":"firing"}`
		want = "sha256=4382ca3995eede887b09f72961a86a643413d7f6b9052dc7b0dd3950127530c4"
	)
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	w := notify.NewWebhook(srv.Client(), notify.WebhookConfig{URL: srv.URL, Secret: key, Now: func() time.Time { return time.Unix(ts, 0) }})
	if err := w.Send(context.Background(), notify.Message{ID: "sao-paulo/strong-wind/1/hook", Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if h.Get(notify.SignatureHeader) != want || h.Get(notify.TimestampHeader) != "1795000000" {
		t.Errorf("sent %s=%q %s=%q, want %q and 1795000000", notify.SignatureHeader, h.Get(notify.SignatureHeader),
			notify.TimestampHeader, h.Get(notify.TimestampHeader), want)
	}
	if s := notify.Sign(key, ts, []byte(body)); s != want {
		t.Errorf("Sign = %q, want %q", s, want)
	}
}

// hangingServer accepts requests and never answers them until the test ends.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	return srv, &calls
}

func TestWebhook_Timeout(t *testing.T) {
	srv, calls := hangingServer(t)
	const timeout = 200 * time.Millisecond
	w := notify.NewWebhook(nil, notify.WebhookConfig{URL: srv.URL, Secret: "k", Timeout: timeout})
	errc := make(chan error, 1)
	go func() { errc <- w.Send(context.Background(), notify.Message{ID: "x", Body: []byte("{}")}) }()
	// Three attempts of timeout each plus their backoff, with generous
	// slack for a loaded machine: the point is that Send returns at all.
	select {
	case err := <-errc:
		var te interface{ Timeout() bool }
		if err == nil || !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("Send to a hanging server = %v, want a timeout error", err)
		}
		if !strings.HasPrefix(err.Error(), "webhook post to 127.0.0.1:") {
			t.Errorf("error %q does not name the host", err)
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("%d requests, want 3 (each timed out, then retried)", n)
		}
	case <-time.After(3*timeout + 10*time.Second):
		t.Fatal("Send to a hanging server did not return: the per-request timeout never ran")
	}
}

func TestWebhook_DoesNotFollowRedirects(t *testing.T) {
	var moved atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { moved.Add(1) }))
	defer target.Close()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	w := notify.NewWebhook(srv.Client(), notify.WebhookConfig{URL: srv.URL + "/hook", Secret: "k"})
	err := w.Send(context.Background(), notify.Message{ID: "x", Body: []byte("{}")})
	want := "webhook post to " + srv.Listener.Addr().String() + ": HTTP 307: redirects are not followed; configure the final URL"
	if err == nil || err.Error() != want {
		t.Errorf("Send = %v, want %q", err, want)
	}
	if n := moved.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests, want none", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (a redirect is not retried)", n)
	}
}

func TestWebhook_ErrorBodyRedactedBeforeCut(t *testing.T) {
	const token = "tok-0123456789abcdef"
	// The token straddles the 200-byte cut: cut first, and its first half
	// would no longer match it.
	body := strings.Repeat("x", 185) + " " + token + " rest of the answer"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	w := notify.NewWebhook(srv.Client(), notify.WebhookConfig{URL: srv.URL + "/hook?token=" + token, Secret: "k"})
	err := w.Send(context.Background(), notify.Message{ID: "x", Body: []byte("{}")})
	if err == nil {
		t.Fatal("Send succeeded on a 400")
	}
	want := "webhook post to " + srv.Listener.Addr().String() + ": HTTP 400: " + strings.Repeat("x", 185) + " <secret> rest …"
	if err.Error() != want {
		t.Errorf("Send = %q\nwant %q", err, want)
	}
	if strings.Contains(err.Error(), token[:6]) {
		t.Errorf("error quotes part of the token: %q", err)
	}
}

func TestWebhook_RetryAfterCapped(t *testing.T) {
	now := time.Unix(1795000000, 0)
	var calls atomic.Int32
	var retryAfter atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", retryAfter.Load().(string))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	tests := []struct {
		header   string
		maxAfter time.Duration
		want     time.Time
	}{
		{"120", 0, now.Add(2 * time.Minute)},
		{"604800", 0, now.Add(time.Hour)}, // a week: capped at the default hour
		{"604800", 3 * time.Hour, now.Add(3 * time.Hour)},
		{now.Add(30 * time.Minute).UTC().Format(http.TimeFormat), 0, now.Add(30 * time.Minute)},
	}
	for _, tc := range tests {
		retryAfter.Store(tc.header)
		calls.Store(0)
		w := notify.NewWebhook(srv.Client(), notify.WebhookConfig{URL: srv.URL, Secret: "k", MaxRetryAfter: tc.maxAfter, Now: func() time.Time { return now }})
		err := w.Send(context.Background(), notify.Message{ID: "x", Body: []byte("{}")})
		var ra *notify.RetryAfterError
		if !errors.As(err, &ra) || !ra.At.Equal(tc.want) {
			t.Errorf("Retry-After %s, max %s: Send = %v, want retry at %s", tc.header, tc.maxAfter, err, tc.want.UTC())
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("Retry-After %s: %d requests, want 1 (the wait is the outbox's)", tc.header, n)
		}
	}
}
