// Package httpx is the HTTP plumbing the weather providers share: a client
// that keeps within the API plan's rate limits, stops calling after a 429
// until the window resets, retries 5xx answers and timeouts a bounded number
// of times with jittered backoff, caps response bodies, and keeps secrets
// out of its errors.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/backoff"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/secret"
)

// Defaults.
const (
	// baseBackoff is the first retry delay; it doubles per retry (jittered
	// between half and all of it) up to maxBackoff.
	baseBackoff = 500 * time.Millisecond
	maxBackoff  = 8 * time.Second
	// RateLimitFloor is how long calls stop after a 429 that says neither
	// Retry-After nor which window is exhausted, when the plan has no hour
	// or minute limit.
	RateLimitFloor = time.Minute
	// maxErrorBody is how much of an error body an error quotes.
	maxErrorBody = 200
	// maxLimiterWait is the longest a request waits for a window to reset
	// (the per-second one) instead of failing with a RateLimitedError.
	maxLimiterWait = 2 * time.Second
)

// Config configures a Client.
type Config struct {
	// Provider is the value of the provider metric label.
	Provider string
	// Timeout bounds one attempt, reading the body included.
	Timeout time.Duration
	// MaxBodyBytes caps a response body (at least MinBodyBytes).
	MaxBodyBytes int64
	// Attempts bounds the tries of one request on 5xx and timeouts (1 to
	// MaxAttempts).
	Attempts int
	Limits   Limits
	// Secrets are replaced by <secret> in every error text built from a
	// response (an API may echo the key back).
	Secrets []string
	// ErrorMessage extracts a readable message from an error response body;
	// nil uses the start of the body.
	ErrorMessage func(body []byte) string
}

// Option changes a Client for tests.
type Option func(*Client)

// WithClock sets the clock the rate-limit windows use.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithSleep sets how the client waits (backoff, per-second window); it must
// return ctx.Err() when ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// Client sends GET requests to one API within its plan.
type Client struct {
	cfg     Config
	hc      *http.Client
	lim     *limiter
	redact  secret.Redactor
	metrics *httpMetrics
	log     *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// New returns a client for cfg; metrics are registered with reg (a metric
// already registered by another provider's client is shared).
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger, opts ...Option) (*Client, error) {
	if cfg.Provider == "" {
		return nil, errors.New("httpx: provider name is required")
	}
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("httpx: timeout %s, want a positive duration", cfg.Timeout)
	}
	var ps check.Problems
	ValidateRequests("", cfg.MaxBodyBytes, cfg.Attempts, &ps)
	cfg.Limits.Validate("limits", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("httpx: %w", err)
	}
	m, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg,
		// No redirects: the key travels in a header that Go would forward
		// to whatever host a redirect names.
		hc:      &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		lim:     newLimiter(cfg.Limits),
		redact:  secret.NewRedactor(cfg.Secrets...),
		metrics: m,
		log:     log,
		now:     time.Now,
		sleep:   lifecycle.Sleep,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Get sends GET url with header and returns the body of a 2xx answer. what
// names the call in errors (e.g. "GET /weather/realtime"); url and header
// may hold secrets only in header. Errors wrap the provider sentinels:
//   - the local budget or a previous 429 says wait: *provider.RateLimitedError, nothing sent;
//   - 429: *provider.RateLimitedError, and no call is sent until the window resets;
//   - 401/403: provider.ErrUnauthorized at once;
//   - 5xx and timeouts: retried, then provider.ErrUnavailable;
//   - other statuses, a body over the cap: provider.ErrBadResponse.
func (c *Client) Get(ctx context.Context, what, url string, header http.Header) ([]byte, error) {
	var last string
	for attempt := 1; ; attempt++ {
		if err := c.admit(ctx, what); err != nil {
			return nil, err
		}
		body, retry, err := c.once(ctx, what, url, header)
		if err == nil || !retry {
			return body, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		last = err.Error()
		if attempt >= c.cfg.Attempts {
			return nil, fmt.Errorf("%w: %s: gave up after %d attempts: %s", provider.ErrUnavailable, what, attempt, last)
		}
		d := retryBackoff.Delay(attempt)
		c.log.Debug("retrying", "call", what, "attempt", attempt, "backoff", d, "err", last)
		if err := c.sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("%s: %w (after: %s)", what, err, last)
		}
	}
}

// Now is the client's clock (WithClock), for the readings' ingested_at.
func (c *Client) Now() time.Time { return c.now() }

// retryBackoff is the wait after a failed attempt: from baseBackoff,
// doubling up to maxBackoff, jittered into [d/2, d).
var retryBackoff = backoff.Exponential{Base: baseBackoff, Max: maxBackoff}

// admit reserves a call within the limits, waiting for a short window
// (per second) to reset but failing fast on long ones.
func (c *Client) admit(ctx context.Context, what string) error {
	for {
		now := c.now()
		at, reason := c.lim.take(now)
		c.exportRemaining(now)
		if at.IsZero() {
			return nil
		}
		wait := at.Sub(now)
		if wait > maxLimiterWait {
			return fmt.Errorf("%s: %w", what, &provider.RateLimitedError{RetryAt: at, Reason: reason})
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

func (c *Client) exportRemaining(now time.Time) {
	for name, n := range c.lim.remaining(now) {
		if n >= 0 {
			c.metrics.remaining.WithLabelValues(c.cfg.Provider, name).Set(float64(n))
		}
	}
}

// once sends one attempt. retry says whether another attempt may help;
// retryable errors do not repeat what (Get adds it).
func (c *Client) once(ctx context.Context, what, url string, header http.Header) (body []byte, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, fmt.Errorf("%s: build request: %v", what, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe("error", start)
		return nil, true, errors.New(c.redact.Redact(transportError(err, actx)))
	}
	defer resp.Body.Close()
	body, readErr := readCapped(resp.Body, c.cfg.MaxBodyBytes)
	c.observe(statusClass(resp.StatusCode), start)
	now := c.now()
	c.lim.observe(resp.Header, now)
	c.exportRemaining(now)

	switch code := resp.StatusCode; {
	case errors.Is(readErr, errTooBig):
		return nil, false, fmt.Errorf("%w: %s: HTTP %d: response body over %d bytes", provider.ErrBadResponse, what, code, c.cfg.MaxBodyBytes)
	case readErr != nil:
		// A body cut short by the attempt timeout or the network.
		return nil, true, fmt.Errorf("HTTP %d: read body: %s", code, c.redact.Redact(transportError(readErr, actx)))
	case code >= 200 && code < 300:
		return body, false, nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, false, fmt.Errorf("%w: %s: HTTP %d: %s (check the API key)", provider.ErrUnauthorized, what, code, c.message(body))
	case code == http.StatusTooManyRequests:
		until, ok := backoff.RetryAfter(resp.Header.Get("Retry-After"), now, c.cfg.Limits.retryAfterCap())
		source := "Retry-After"
		if !ok {
			until, source = c.lim.rejectedUntil(now, RateLimitFloor), "window reset"
		}
		if soonest := now.Add(time.Second); until.Before(soonest) {
			until = soonest
		}
		reason := fmt.Sprintf("HTTP 429: %s", c.message(body))
		c.lim.block(until, reason)
		c.log.Warn("API rate limit hit; not calling it again until the window resets",
			"until", until.UTC().Format(time.RFC3339), "from", source, "reason", reason)
		return nil, false, fmt.Errorf("%s: %w", what, &provider.RateLimitedError{RetryAt: until, Reason: reason})
	case code >= 500:
		return nil, true, fmt.Errorf("HTTP %d: %s", code, c.message(body))
	default:
		return nil, false, fmt.Errorf("%w: %s: HTTP %d: %s", provider.ErrBadResponse, what, code, c.message(body))
	}
}

func (c *Client) observe(class string, start time.Time) {
	c.metrics.requests.WithLabelValues(c.cfg.Provider, class).Inc()
	c.metrics.duration.WithLabelValues(c.cfg.Provider).Observe(time.Since(start).Seconds())
}

// transportError describes a failed attempt without the URL (which the
// caller's "what" already names).
func transportError(err error, actx context.Context) string {
	if actx.Err() == context.DeadlineExceeded {
		return "timed out"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// message is a short, secret-free description of an error body (redacted
// before it is cut, so no part of a secret survives the cut).
func (c *Client) message(body []byte) string {
	var m string
	if c.cfg.ErrorMessage != nil {
		m = c.cfg.ErrorMessage(body)
	}
	if m == "" {
		m = strings.TrimSpace(string(body))
		if m == "" {
			m = "empty body"
		}
	}
	return c.redact.Excerpt(m, maxErrorBody)
}

func statusClass(code int) string {
	switch {
	case code == http.StatusTooManyRequests:
		return "429"
	case code >= 200 && code < 300:
		return "2xx"
	case code >= 300 && code < 400:
		return "3xx"
	case code >= 400 && code < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

var errTooBig = errors.New("body over the cap")

// readCapped reads at most limit+1 bytes of r: more than limit is errTooBig.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooBig
	}
	return b, nil
}
