package httpx

import (
	"net/url"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Limits is an API plan's rate limits, one per fixed UTC window; 0 means
// unlimited. The hour window resets on the hour and the day window at
// 00:00 UTC, as Tomorrow.io's and Open-Meteo's do.
type Limits struct {
	PerSecond int `mapstructure:"per_second"`
	PerMinute int `mapstructure:"per_minute"`
	PerHour   int `mapstructure:"per_hour"`
	PerDay    int `mapstructure:"per_day"`
	// MaxRetryAfter caps how long a 429's Retry-After stops calls to the
	// API, so a misbehaving API cannot stop polling for days. 0 is a
	// documented setting (docs/configuration.md): DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after"`
}

// DefaultMaxRetryAfter is what a Limits.MaxRetryAfter of 0 means.
const DefaultMaxRetryAfter = time.Hour

// Validate reports the problems of the limits section at key.
func (l Limits) Validate(key string, ps *check.Problems) {
	for _, f := range []struct {
		name string
		n    int
	}{{"per_second", l.PerSecond}, {"per_minute", l.PerMinute}, {"per_hour", l.PerHour}, {"per_day", l.PerDay}} {
		if f.n < 0 {
			ps.Add(check.Key(key, f.name), "got %d, want 0 (unlimited) or more", f.n)
		}
	}
	if l.MaxRetryAfter < 0 {
		ps.Add(check.Key(key, "max_retry_after"), "got %s, want a positive duration (0: default %s)", l.MaxRetryAfter, DefaultMaxRetryAfter)
	}
}

// retryAfterCap is the cap MaxRetryAfter sets.
func (l Limits) retryAfterCap() time.Duration {
	if l.MaxRetryAfter == 0 {
		return DefaultMaxRetryAfter
	}
	return l.MaxRetryAfter
}

// ValidateBaseURL reports at key a base URL that is not http(s), or that
// carries a query or credentials (the key goes in a header, never the URL).
func ValidateBaseURL(key, raw string, ps *check.Problems) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(key, "got %q, want an http(s) URL such as https://api.example.com/v1", raw)
		return
	}
	if u.RawQuery != "" || u.User != nil {
		ps.Add(key, "got %q, want no query or credentials in the base URL", u.Redacted())
	}
}

// ValidateRequests reports the max_body_bytes and attempts keys of a
// provider section at key.
func ValidateRequests(key string, maxBody int64, attempts int, ps *check.Problems) {
	if maxBody < MinBodyBytes {
		ps.Add(check.Key(key, "max_body_bytes"), "got %d, want at least %d", maxBody, MinBodyBytes)
	}
	if attempts < 1 || attempts > MaxAttempts {
		ps.Add(check.Key(key, "attempts"), "got %d, want 1 to %d", attempts, MaxAttempts)
	}
}

// Bounds of a provider's max_body_bytes and attempts.
const (
	MinBodyBytes = 1024
	MaxAttempts  = 10
)
