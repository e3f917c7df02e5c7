package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/backoff"
	"github.com/weatherd/weatherd/pkg/secret"
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
	SignatureHeader = "X-Weatherd-Signature"
	// TimestampHeader is the Unix time the request was signed, so receivers
	// can refuse replays.
	TimestampHeader = "X-Weatherd-Timestamp"
	// DeliveryHeader is the notification id: the same on every retry.
	DeliveryHeader = "X-Weatherd-Delivery"
)

// Webhook defaults.
const (
	DefaultWebhookTimeout = 10 * time.Second
	// DefaultMaxRetryAfter caps how long a receiver's Retry-After may hold
	// its notifications back.
	DefaultMaxRetryAfter = time.Hour
	// maxErrorBody is how much of a refusal's body an error quotes.
	maxErrorBody = 200
)

// RetryAfterError is a delivery the receiver refused with a Retry-After
// header: the notification should not be sent again before At (already
// capped by the channel's max_retry_after).
type RetryAfterError struct {
	At  time.Time
	Err error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.At.UTC().Format(time.RFC3339))
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	URL    string
	Secret secret.String
	// Timeout bounds one request (0: DefaultWebhookTimeout).
	Timeout time.Duration
	// MaxRetryAfter caps a Retry-After answer (0: DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	Now           func() time.Time // nil: time.Now
}

// Webhook POSTs the message's JSON body, signed with HMAC-SHA256.
type Webhook struct {
	client        *http.Client
	url           string
	secret        secret.String
	attempts      int
	maxRetryAfter time.Duration
	now           func() time.Time
	// redact hides what an error must never quote: the signing key and the
	// parts of the URL that may be credentials.
	redact secret.Redactor
}

var _ Sender = (*Webhook)(nil)

// NewWebhook returns a Sender posting to cfg.URL with a per-request timeout.
// It never follows redirects: a receiver that moved answers 3xx, and the
// signed body is not sent to a place the configuration does not name.
func NewWebhook(client *http.Client, cfg WebhookConfig) *Webhook {
	if client == nil {
		client = http.DefaultClient
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := *client
	c.Timeout = cfg.Timeout
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhook{
		client: &c, url: cfg.URL, secret: cfg.Secret, attempts: 3,
		maxRetryAfter: cfg.MaxRetryAfter, now: cfg.Now, redact: secret.NewRedactor(hiddenParts(cfg.URL, cfg.Secret)...),
	}
}

// hiddenParts lists what of a webhook URL and key may be a credential:
// the key, user info, query values and long path segments (tokens such as
// Slack's live in the path).
func hiddenParts(raw string, key secret.String) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	add(key.Reveal())
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		add(u.User.Username())
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if len(seg) >= 16 {
				add(seg)
			}
		}
	}
	return out
}

// Sign returns the signature header value for body signed at ts.
func Sign(key secret.String, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key.Reveal()))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Send posts m.Body, retrying network errors, 429 and 5xx answers with
// jittered exponential backoff (a few attempts; the outbox retries later).
// An answer with a Retry-After is not retried here: it returns a
// *RetryAfterError for the outbox to wait that long.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	var last error
	for attempt := 1; attempt <= w.attempts; attempt++ {
		retry, err := w.post(ctx, m)
		if err == nil {
			return nil
		}
		last = err
		var ra *RetryAfterError
		if !retry || attempt == w.attempts || errors.As(err, &ra) {
			break
		}
		sleep := sendBackoff.Delay(attempt)
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook %s: %w (after %v)", m.ID, ctx.Err(), last)
		case <-time.After(sleep):
		}
	}
	return last
}

// sendBackoff is the wait between a Send's attempts: 200ms, then 400ms,
// jittered into [d/2, d); with 3 attempts Max is never reached.
var sendBackoff = backoff.Exponential{Base: 200 * time.Millisecond, Max: 5 * time.Second}

func (w *Webhook) post(ctx context.Context, m Message) (retry bool, err error) {
	now := w.now()
	ts := now.Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(m.Body))
	if err != nil {
		return false, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "weatherd")
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(SignatureHeader, Sign(w.secret, ts, m.Body))
	req.Header.Set(DeliveryHeader, m.ID)
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL may carry a token: report the host only.
		return true, fmt.Errorf("webhook post to %s: %w", req.URL.Host, unwrapURLError(err))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return false, nil
	case code >= 300 && code < 400:
		return false, fmt.Errorf("webhook post to %s: HTTP %d: redirects are not followed; configure the final URL", req.URL.Host, code)
	}
	err = fmt.Errorf("webhook post to %s: HTTP %d%s", req.URL.Host, code, w.quote(body))
	if code != http.StatusTooManyRequests && code < 500 {
		return false, err
	}
	if at, ok := backoff.RetryAfter(resp.Header.Get("Retry-After"), now, w.maxRetryAfter); ok {
		return true, &RetryAfterError{At: at, Err: err}
	}
	return true, err
}

// quote is ": " + the start of an error body, with credentials replaced
// before it is cut, so that no part of one survives the cut; "" for an
// empty body.
func (w *Webhook) quote(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "?")), " ")
	if s == "" {
		return ""
	}
	return ": " + w.redact.Excerpt(s, maxErrorBody)
}

// unwrapURLError drops *url.Error's text, which repeats the full URL.
func unwrapURLError(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
