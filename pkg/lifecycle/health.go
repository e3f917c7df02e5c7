package lifecycle

import (
	"fmt"
	"sync"
	"time"
)

// DefaultGrace is how long a dependency may keep failing, with no success
// in between, before a Health reports it: one transient error does not flap
// readiness, an outage shows within seconds.
const DefaultGrace = 10 * time.Second

// Health follows whether a component's calls to a dependency work: Fail
// after a failed call, OK after a successful one. It reports an error once
// failures have persisted, without any success, for longer than Grace. The
// zero value is ready to use (Grace: DefaultGrace); it must not be copied
// after first use.
type Health struct {
	// Grace is how long failures may persist before Err reports them; 0
	// means DefaultGrace.
	Grace time.Duration

	now func() time.Time // test hook; nil: time.Now

	mu    sync.Mutex
	since time.Time // the first failure after the last success; zero while healthy
	last  error     // the latest failure
}

func (h *Health) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// OK records a successful call: the dependency works.
func (h *Health) OK() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.since, h.last = time.Time{}, nil
}

// Fail records a failed call. A nil err is ignored.
func (h *Health) Fail(err error) {
	if err == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		h.since = h.clock()
	}
	h.last = err
}

// Err is nil while the dependency works (or has failed for less than the
// grace period); otherwise it says for how long calls have failed and how the
// latest one did.
func (h *Health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		return nil
	}
	grace := h.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	d := h.clock().Sub(h.since)
	if d <= grace {
		return nil
	}
	return fmt.Errorf("failing for %s: %w", d.Round(time.Second), h.last)
}

// Healthy reports whether Err is nil.
func (h *Health) Healthy() bool { return h.Err() == nil }
