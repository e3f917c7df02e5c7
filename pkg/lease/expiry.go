package lease

import (
	"sync"
	"time"
)

// clock is the time source of an Expiry; tests replace the real one.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

// Expiry is the holder's side of local expiry: how long this process trusts
// a lease it holds. Another process may take the lease a lease duration
// after it last saw the lease change, which is after this process sent its
// last successful ownership write; so the holder trusts the lease for a
// validity shorter than the lease duration from that send, and a timer calls
// onExpire then, even while a DynamoDB call has not returned. Safe for
// concurrent use.
type Expiry struct {
	clock    clock
	validity time.Duration
	onExpire func()

	mu    sync.Mutex
	until time.Time
	timer timer // nil until the first Extend
}

// NewExpiry returns an Expiry that trusts a lease for validity after each
// successful write and calls onExpire, on a goroutine of its own, when that
// runs out. It trusts nothing before the first Extend.
func NewExpiry(validity time.Duration, onExpire func()) *Expiry {
	return &Expiry{clock: systemClock{}, validity: validity, onExpire: onExpire}
}

// Validity is how long a lease is trusted after a successful write was sent.
func (e *Expiry) Validity() time.Duration { return e.validity }

// Extend trusts the lease until sent plus the validity, sent being when a
// successful take or renewal was sent (by this process' clock), and
// (re)arms the timer for then.
func (e *Expiry) Extend(sent time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.until = sent.Add(e.validity)
	d := e.until.Sub(e.clock.Now())
	if e.timer == nil {
		e.timer = e.clock.AfterFunc(d, e.onExpire)
		return
	}
	e.timer.Reset(d)
}

// Until is when this process stops trusting the lease: a deadline for the
// calls made on it, which are of no use once it has passed.
func (e *Expiry) Until() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.until
}

// Expired reports whether the trust has run out, whether or not the timer
// has fired yet (a busy process may run it late).
func (e *Expiry) Expired() bool { return !e.clock.Now().Before(e.Until()) }

// Stop disarms the timer: the lease is let go, or already lost. A later
// Extend arms it again.
func (e *Expiry) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
	}
}

// Sightings is the observer's side of local expiry: it decides when other
// processes' leases have expired without trusting their clocks. A lease
// whose version (anything that changes with every ownership write, e.g. the
// owner and counter) has not changed for the lease duration, timed on this
// process' monotonic clock, is expired. Not safe for concurrent use.
type Sightings struct {
	duration time.Duration
	seen     map[string]sighting
}

type sighting struct {
	version string
	since   time.Time
}

// NewSightings returns Sightings for leases of duration d.
func NewSightings(d time.Duration) *Sightings {
	return &Sightings{duration: d, seen: map[string]sighting{}}
}

// Observe records the version of the lease key read at now: the clock of a
// lease restarts whenever its version changes.
func (s *Sightings) Observe(now time.Time, key, version string) {
	if v, ok := s.seen[key]; !ok || v.version != version {
		s.seen[key] = sighting{version: version, since: now}
	}
}

// Forget drops the leases for which keep returns false, so that the record
// stays as small as the table, or restarts a lease's clock from its next
// sighting.
func (s *Sightings) Forget(keep func(key string) bool) {
	for k := range s.seen {
		if !keep(k) {
			delete(s.seen, k)
		}
	}
}

// Expired reports whether lease key has been seen at version, unchanged, for
// the lease duration. A lease never observed is not expired: the clock
// starts at first sight.
func (s *Sightings) Expired(now time.Time, key, version string) bool {
	v, ok := s.seen[key]
	if !ok || v.version != version {
		return false
	}
	return now.Sub(v.since) >= s.duration
}

// Len is the number of leases observed and not forgotten.
func (s *Sightings) Len() int { return len(s.seen) }
