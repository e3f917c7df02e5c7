package lease

import (
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when told; timers due by then fire in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	at    time.Time
	f     func()
	armed bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, armed: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.at, t.armed = t.c.now.Add(d), true
	return was
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

// Advance moves the clock by d and runs the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if t.armed && !t.at.After(c.now) {
			t.armed = false
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func TestExpiry(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	const validity = 8 * time.Second
	newExpiry := func() (*Expiry, *fakeClock, *[]time.Time) {
		c := &fakeClock{now: t0}
		var fired []time.Time
		e := NewExpiry(validity, func() { fired = append(fired, c.Now()) })
		e.clock = c
		return e, c, &fired
	}

	t.Run("FiresAtValidityAfterSend", func(t *testing.T) {
		e, c, fired := newExpiry()
		if !e.Expired() {
			t.Fatal("trusted before the first Extend")
		}
		sent := t0.Add(-time.Second) // the write was sent a second before it answered
		e.Extend(sent)
		if want := sent.Add(validity); !e.Until().Equal(want) {
			t.Fatalf("Until = %s, want %s", e.Until(), want)
		}
		c.Advance(validity - time.Second - time.Nanosecond)
		if e.Expired() || len(*fired) != 0 {
			t.Fatalf("expired %v, fired %v a nanosecond before the validity ran out", e.Expired(), *fired)
		}
		c.Advance(time.Nanosecond)
		if !e.Expired() || len(*fired) != 1 || !(*fired)[0].Equal(sent.Add(validity)) {
			t.Fatalf("expired %v, fired %v; want fired once at %s", e.Expired(), *fired, sent.Add(validity))
		}
	})

	t.Run("ExtendMovesIt", func(t *testing.T) {
		e, c, fired := newExpiry()
		e.Extend(t0)
		c.Advance(5 * time.Second)
		e.Extend(t0.Add(5 * time.Second)) // renewed
		c.Advance(validity - 5*time.Second)
		if e.Expired() || len(*fired) != 0 {
			t.Fatalf("expired %v, fired %v at the first validity's end after a renewal", e.Expired(), *fired)
		}
		c.Advance(5 * time.Second)
		if !e.Expired() || len(*fired) != 1 || !(*fired)[0].Equal(t0.Add(5*time.Second+validity)) {
			t.Fatalf("expired %v, fired %v; want fired once at %s", e.Expired(), *fired, t0.Add(5*time.Second+validity))
		}
	})

	t.Run("StopDisarms", func(t *testing.T) {
		e, c, fired := newExpiry()
		e.Extend(t0)
		e.Stop()
		c.Advance(time.Hour)
		if len(*fired) != 0 {
			t.Fatalf("fired %v after Stop", *fired)
		}
		if !e.Expired() {
			t.Fatal("Expired false an hour after the last Extend")
		}
		// A new term arms it again.
		e.Extend(c.Now())
		c.Advance(validity)
		if len(*fired) != 1 {
			t.Fatalf("fired %d times after a new Extend, want 1", len(*fired))
		}
	})

	t.Run("RealTimer", func(t *testing.T) {
		// The system clock's timer: fires, and no earlier than Until.
		done := make(chan time.Time, 1)
		e := NewExpiry(20*time.Millisecond, func() { done <- time.Now() })
		e.Extend(time.Now())
		select {
		case at := <-done:
			if at.Before(e.Until()) {
				t.Fatalf("fired at %s, before Until %s", at, e.Until())
			}
			if !e.Expired() {
				t.Fatal("not Expired once fired")
			}
		case <-time.After(time.Minute):
			t.Fatal("the expiry timer did not fire within a minute")
		}
	})
}

func TestSightings(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s := NewSightings(10 * time.Second)
	if s.Expired(t0.Add(time.Hour), "a", "w1|1") {
		t.Fatal("a lease never observed is expired")
	}
	s.Observe(t0, "a", "w1|1")
	s.Observe(t0.Add(5*time.Second), "a", "w1|1") // unchanged: the clock keeps running
	if s.Expired(t0.Add(10*time.Second-time.Nanosecond), "a", "w1|1") || !s.Expired(t0.Add(10*time.Second), "a", "w1|1") {
		t.Fatal("unchanged lease not expired exactly a lease duration after first sight")
	}
	s.Observe(t0.Add(8*time.Second), "a", "w1|2") // renewed
	if s.Expired(t0.Add(17*time.Second), "a", "w1|2") || !s.Expired(t0.Add(18*time.Second), "a", "w1|2") {
		t.Fatal("renewed lease not expired exactly a lease duration after the renewal was seen")
	}
	if s.Expired(t0.Add(time.Hour), "a", "w1|1") {
		t.Fatal("a version other than the one observed is expired")
	}
	s.Observe(t0, "b", "w2|1")
	s.Forget(func(k string) bool { return k == "b" })
	if s.Len() != 1 || s.Expired(t0.Add(time.Hour), "a", "w1|2") {
		t.Fatalf("after forgetting a: %d leases, a expired %v; want 1 and false", s.Len(), s.Expired(t0.Add(time.Hour), "a", "w1|2"))
	}
}
