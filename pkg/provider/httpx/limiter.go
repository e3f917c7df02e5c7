package httpx

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Windows, the values of the window metric label and of the
// X-RateLimit-Remaining-<window> headers.
const (
	windowSecond = "second"
	windowMinute = "minute"
	windowHour   = "hour"
	windowDay    = "day"
)

var windowNames = []string{windowSecond, windowMinute, windowHour, windowDay}

var windowLength = map[string]time.Duration{
	windowSecond: time.Second,
	windowMinute: time.Minute,
	windowHour:   time.Hour,
	windowDay:    24 * time.Hour,
}

// windowEnd is when the fixed UTC window holding t resets: the next second,
// minute, hour, or 00:00 UTC. Truncate counts from year 1, 00:00 UTC, so
// these boundaries are UTC ones.
func windowEnd(name string, t time.Time) time.Time {
	d := windowLength[name]
	return t.UTC().Truncate(d).Add(d)
}

// window counts the calls made in one fixed UTC window.
type window struct {
	name  string
	limit int // 0: unlimited, only the API's remaining count is tracked
	used  int
	end   time.Time // when used resets
	// remote is the API's last X-RateLimit-Remaining for this window, or -1.
	remote int
}

func (w *window) roll(now time.Time) {
	if !now.Before(w.end) {
		w.used = 0
		w.remote = -1
		w.end = windowEnd(w.name, now)
	}
}

// remaining is the best known number of calls left in the window, or -1
// when neither a limit nor the API says.
func (w *window) remaining() int {
	r := -1
	if w.limit > 0 {
		r = max(w.limit-w.used, 0)
	}
	if w.remote >= 0 && (r < 0 || w.remote < r) {
		r = w.remote
	}
	return r
}

// limiter keeps a provider within its plan: fixed UTC windows counted
// locally, corrected by the API's remaining counts, and a block set after a
// 429 or an exhausted window so no request is sent until it resets.
type limiter struct {
	mu           sync.Mutex
	windows      []*window
	blockedUntil time.Time
	blockReason  string
}

func newLimiter(l Limits) *limiter {
	limits := map[string]int{windowSecond: l.PerSecond, windowMinute: l.PerMinute, windowHour: l.PerHour, windowDay: l.PerDay}
	lm := &limiter{}
	for _, name := range windowNames {
		lm.windows = append(lm.windows, &window{name: name, limit: limits[name], remote: -1})
	}
	return lm
}

func (l *limiter) window(name string) *window {
	for _, w := range l.windows {
		if w.name == name {
			return w
		}
	}
	return nil
}

// take reserves one request at now. It returns the zero time when the
// request may be sent, otherwise when to try again and why not now.
func (l *limiter) take(now time.Time) (time.Time, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.blockedUntil) {
		return l.blockedUntil, l.blockReason
	}
	for _, w := range l.windows {
		w.roll(now)
		if r := w.remaining(); r == 0 {
			if w.limit > 0 && w.used >= w.limit {
				return w.end, fmt.Sprintf("the plan's %d calls per %s are used", w.limit, w.name)
			}
			return w.end, fmt.Sprintf("the API reports no calls left this %s", w.name)
		}
	}
	for _, w := range l.windows {
		w.used++
		if w.remote > 0 {
			w.remote--
		}
	}
	return time.Time{}, ""
}

// observe reads the API's X-RateLimit-Remaining-* headers: they correct the
// local counts (another instance or a restart may have used calls too).
func (l *limiter) observe(h http.Header, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.windows {
		v := h.Get("X-RateLimit-Remaining-" + w.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			continue
		}
		w.roll(now)
		w.remote = n
	}
}

// block stops every request until until.
func (l *limiter) block(until time.Time, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.blockedUntil) {
		l.blockedUntil, l.blockReason = until, reason
	}
}

// rejectedUntil is when to call again after a 429 without Retry-After: the
// reset of the longest window the API or the plan says is exhausted, else of
// the plan's hour (or minute) window, else now + floor.
func (l *limiter) rejectedUntil(now time.Time, floor time.Duration) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.windows) - 1; i >= 0; i-- {
		w := l.windows[i]
		if w.remote == 0 && w.name != windowSecond {
			return windowEnd(w.name, now)
		}
	}
	for _, name := range []string{windowHour, windowMinute} {
		if w := l.window(name); w.limit > 0 {
			return windowEnd(name, now)
		}
	}
	return now.Add(floor)
}

// remaining returns the best known calls left per window (-1: unknown).
func (l *limiter) remaining(now time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.windows))
	for _, w := range l.windows {
		w.roll(now)
		out[w.name] = w.remaining()
	}
	return out
}
