// Package provider declares what a weather source gives the poller: one
// current reading per location, with errors the poller can tell apart.
package provider

import (
	"context"
	"errors"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// Provider fetches the current observation of a location as a reading event
// (Tomorrow.io value names, metric units, deterministic event id).
type Provider interface {
	// Name is the value of the reading's provider field and of metric labels.
	Name() string
	Fetch(ctx context.Context, loc weather.Location) (weather.Reading, error)
}

// Errors a Provider wraps so the poller can count and log them by kind.
var (
	// ErrUnauthorized: the API refused the credentials (401/403). Retrying
	// will not help until the operator fixes the key.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: the API or the client-side limiter refused the call.
	ErrRateLimited = errors.New("rate limited")
	// ErrBadResponse: the API answered with something that is not a usable
	// observation (malformed JSON, missing time, error body).
	ErrBadResponse = errors.New("bad response")
	// ErrUnavailable: 5xx or timeouts after bounded retries.
	ErrUnavailable = errors.New("unavailable")
)

// RateLimitedError is an ErrRateLimited that knows when to try again.
type RateLimitedError struct {
	RetryAt time.Time
	Reason  string
}

func (e *RateLimitedError) Error() string {
	return "rate limited until " + e.RetryAt.UTC().Format(time.RFC3339) + ": " + e.Reason
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// Outcome is the metric label for the result of one fetch.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrBadResponse):
		return "bad_response"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}
