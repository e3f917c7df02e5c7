package poller

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// TestPoller_TickGoroutinesBoundedByConcurrency: a tick of 2,000 locations
// with poller.concurrency 3 waits out the spread in 3 goroutines, not one
// per location (at 100,000 locations those held hundreds of MiB of stacks),
// and fetches every location once.
func TestPoller_TickGoroutinesBoundedByConcurrency(t *testing.T) {
	const n, conc = 2000, 3
	prov := &scripted{fetch: everyObservation(time.Now())}
	cfg := testConfig("@every 1m")
	cfg.Concurrency = conc
	cfg.Spread = 10 * time.Second
	var waiting, most atomic.Int32
	wait := func(ctx context.Context, d time.Duration) error {
		w := waiting.Add(1)
		for {
			m := most.Load()
			if w <= m || most.CompareAndSwap(m, w) {
				break
			}
		}
		// Long enough for goroutines started together to overlap here.
		time.Sleep(200 * time.Microsecond)
		waiting.Add(-1)
		return ctx.Err()
	}
	var mu sync.Mutex
	var started []string
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	l := locs(n)
	spreadCalls(context.Background(), l, at, cfg.Spread, cfg.Concurrency, time.Now(), time.Now, wait, func(loc weather.Location) {
		mu.Lock()
		started = append(started, loc.ID)
		mu.Unlock()
	})
	if m := most.Load(); m > conc {
		t.Errorf("%d goroutines waited at once, want at most poller.concurrency %d", m, conc)
	}
	if len(started) != n {
		t.Fatalf("%d fetches, want %d", len(started), n)
	}
	seen := map[string]bool{}
	for _, id := range started {
		if seen[id] {
			t.Fatalf("%s fetched twice", id)
		}
		seen[id] = true
	}

	// The poller's own tick goes through the same bound.
	p, _, _ := newPoller(t, cfg, l[:200], prov, &recorder{})
	p.wait = wait
	most.Store(0)
	p.tick(context.Background(), at)
	if m := most.Load(); m > conc {
		t.Errorf("Poller.tick: %d goroutines waited at once, want at most %d", m, conc)
	}
	if got := len(prov.callsFor("loc-199")); got != 1 {
		t.Errorf("loc-199 fetched %d times, want 1", got)
	}
}
