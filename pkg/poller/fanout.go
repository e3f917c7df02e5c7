package poller

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// clock is a poller's time: now, and a wait that returns early with ctx's
// error (tests replace both).
type clock struct {
	now  func() time.Time
	wait func(ctx context.Context, d time.Duration) error
}

// fanOut is one tick's calls: one(loc) for every location, each after its
// jittered delay within spread (so that a tick does not hit the API all at
// once), at most concurrency at a time (spreadCalls). It then logs msg with the outcomes
// counted, and one error line per kind of failure: an expired key or a rate
// limit says so once a tick, not once per location.
func fanOut(ctx context.Context, c clock, locations []weather.Location, at time.Time, spread time.Duration, concurrency int, log *slog.Logger, msg string, one func(context.Context, weather.Location) (string, error)) {
	start := c.now()
	t := &tally{counts: map[string]int{}, firstErr: map[string]string{}}
	spreadCalls(ctx, locations, at, spread, concurrency, start, c.now, c.wait, func(loc weather.Location) {
		outcome, err := one(ctx, loc)
		t.add(outcome, loc.ID, err)
	})
	attrs := []any{"tick", at.UTC().Format(time.RFC3339), "locations", len(locations), "duration", c.now().Sub(start).Round(time.Millisecond).String()}
	for _, o := range outcomes {
		if n := t.counts[o]; n > 0 {
			attrs = append(attrs, o, n)
		}
	}
	log.Info(msg, attrs...)
	for _, o := range outcomes {
		if m, ok := t.firstErr[o]; ok {
			log.Error(msg+" failures", "outcome", o, "count", t.counts[o], "first", m)
		}
	}
}

// tally tallies a tick's results for its one summary line.
type tally struct {
	mu       sync.Mutex
	counts   map[string]int
	firstErr map[string]string
}

func (t *tally) add(outcome string, loc string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[outcome]++
	if err != nil {
		if _, ok := t.firstErr[outcome]; !ok {
			t.firstErr[outcome] = fmt.Sprintf("%s: %v", loc, err)
		}
	}
}

// spreadCalls calls fetch once for every location of a tick at, each no earlier
// than its jitter offset within spread after start, with at most concurrency
// calls in flight. It returns when every call has returned, or early when
// ctx ends (locations not yet started are then not fetched).
//
// It runs concurrency goroutines taking locations in offset order, never one
// per location: at 100,000 locations a goroutine (and a timer) per location
// held hundreds of MiB of stacks through every tick.
func spreadCalls(ctx context.Context, locations []weather.Location, at time.Time, spread time.Duration, concurrency int,
	start time.Time, now func() time.Time, wait func(context.Context, time.Duration) error, fetch func(weather.Location)) {
	type slot struct {
		delay time.Duration
		i     int32
	}
	order := make([]slot, len(locations))
	for i, loc := range locations {
		order[i] = slot{jitter(loc.ID, at, spread), int32(i)}
	}
	slices.SortFunc(order, func(a, b slot) int {
		return cmp.Or(cmp.Compare(a.delay, b.delay), cmp.Compare(a.i, b.i))
	})
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	take := func() (slot, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(order) {
			return slot{}, false
		}
		next++
		return order[next-1], true
	}
	for range min(max(concurrency, 1), len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, ok := take()
				if !ok || wait(ctx, s.delay-now().Sub(start)) != nil {
					return
				}
				fetch(locations[s.i])
			}
		}()
	}
	wg.Wait()
}
