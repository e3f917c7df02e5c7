package poller

import (
	"context"
	"fmt"
	"log/slog"
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
// once), at most concurrency at a time. It then logs msg with the outcomes
// counted, and one error line per kind of failure: an expired key or a rate
// limit says so once a tick, not once per location.
func fanOut(ctx context.Context, c clock, locations []weather.Location, at time.Time, spread time.Duration, concurrency int, log *slog.Logger, msg string, one func(context.Context, weather.Location) (string, error)) {
	start := c.now()
	t := &tally{counts: map[string]int{}, firstErr: map[string]string{}}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, loc := range locations {
		delay := jitter(loc.ID, at, spread)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.wait(ctx, delay-c.now().Sub(start)) != nil {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			outcome, err := one(ctx, loc)
			t.add(outcome, loc.ID, err)
		}()
	}
	wg.Wait()
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
