// Package backoff says how long to wait before calling a remote service
// again: jittered exponential delays after failures, and the wait a server
// asks for with Retry-After.
package backoff

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads a Retry-After header value (delay seconds or an HTTP
// date) received at now, and returns when to call again, at most limit after
// now: a server's answer is outside input, and a year's Retry-After must not
// stop weatherd for a year. ok is false for an absent or unreadable value.
func RetryAfter(v string, now time.Time, limit time.Duration) (at time.Time, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		// Clamp before converting: n seconds may not fit a Duration.
		at = now.Add(time.Duration(min(n, int64(limit/time.Second)+1)) * time.Second)
	} else if t, err := http.ParseTime(v); err == nil {
		at = t
	} else {
		return time.Time{}, false
	}
	if end := now.Add(limit); at.After(end) {
		at = end
	}
	return at, true
}
