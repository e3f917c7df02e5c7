package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

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

// Webhook POSTs the message's JSON body, signed with HMAC-SHA256.
type Webhook struct {
	client   *http.Client
	url      string
	secret   secret.String
	attempts int
	now      func() time.Time
}

var _ Sender = (*Webhook)(nil)

// NewWebhook returns a Sender posting to url with a per-request timeout.
func NewWebhook(client *http.Client, url string, key secret.String, timeout time.Duration, now func() time.Time) *Webhook {
	if client == nil {
		client = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := *client
	c.Timeout = timeout
	if now == nil {
		now = time.Now
	}
	return &Webhook{client: &c, url: url, secret: key, attempts: 3, now: now}
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
func (w *Webhook) Send(ctx context.Context, m Message) error {
	var last error
	backoff := 200 * time.Millisecond
	for attempt := 1; attempt <= w.attempts; attempt++ {
		retry, err := w.post(ctx, m)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == w.attempts {
			break
		}
		sleep := backoff/2 + rand.N(backoff)
		backoff *= 2
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook %s: %w (after %v)", m.ID, ctx.Err(), last)
		case <-time.After(sleep):
		}
	}
	return last
}

func (w *Webhook) post(ctx context.Context, m Message) (retry bool, err error) {
	ts := w.now().Unix()
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
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook post to %s: HTTP %d", req.URL.Host, resp.StatusCode)
	default:
		return false, fmt.Errorf("webhook post to %s: HTTP %d", req.URL.Host, resp.StatusCode)
	}
}

// unwrapURLError drops *url.Error's text, which repeats the full URL.
func unwrapURLError(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
