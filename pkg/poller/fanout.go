package poller

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// fanOut calls fetch once for every location of a tick at, each no earlier
// than its jitter offset within spread after start, with at most concurrency
// calls in flight. It returns when every call has returned, or early when
// ctx ends (locations not yet started are then not fetched).
//
// It runs concurrency goroutines taking locations in offset order, never one
// per location: at 100,000 locations a goroutine (and a timer) per location
// held hundreds of MiB of stacks through every tick.
func fanOut(ctx context.Context, locations []weather.Location, at time.Time, spread time.Duration, concurrency int,
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
