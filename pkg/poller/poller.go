// Package poller calls a weather provider for every configured location on a
// cron schedule and hands each new observation to the stream producer.
package poller

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Poller runs one tick per schedule time. A tick fetches every location once,
// spread over part of the interval with bounded concurrency. Ticks never
// overlap: schedule times that pass while a tick runs are skipped and counted.
type Poller struct {
	cfg       Config
	schedule  cron.Schedule
	locations []weather.Location
	prov      provider.Provider
	out       stream.Producer
	metrics   *metrics
	log       *slog.Logger
	now       func() time.Time
	wait      func(ctx context.Context, d time.Duration) error

	store StateStore // optional: remembers last across restarts

	mu   sync.Mutex
	last map[string]time.Time // newest observation time emitted per location
}

// Option changes a Poller, for tests.
type Option func(*Poller)

// WithClock replaces the clock and the sleep the poller uses.
func WithClock(now func() time.Time, wait func(ctx context.Context, d time.Duration) error) Option {
	return func(p *Poller) { p.now, p.wait = now, wait }
}

// New returns a poller of locations through prov into out, for cfg, which
// Validate accepted.
func New(cfg Config, locations []weather.Location, prov provider.Provider, out stream.Producer, m *Metrics, log *slog.Logger, opts ...Option) (*Poller, error) {
	var ps check.Problems
	cfg.Validate("poller", &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	sched, err := ParseSchedule(cfg.Schedule)
	if err != nil {
		return nil, fmt.Errorf("poller.schedule: %w", err)
	}
	p := &Poller{
		cfg:       cfg,
		schedule:  sched,
		locations: locations,
		prov:      prov,
		out:       out,
		metrics:   m.forProvider(prov.Name()),
		log:       log.With("component", "poller", "provider", prov.Name()),
		now:       time.Now,
		wait:      lifecycle.Sleep,
		last:      make(map[string]time.Time, len(locations)),
	}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Run ticks on the schedule until ctx ends. A tick in progress when ctx ends
// is cancelled; readings already handed to the producer stay there.
func (p *Poller) Run(ctx context.Context) error {
	p.loadMemory(ctx)
	next := p.schedule.Next(p.now())
	if next.IsZero() {
		return p.idle(ctx)
	}
	p.log.Info("poller started", "schedule", p.cfg.Schedule, "locations", len(p.locations), "next", next.Format(time.RFC3339))
	var pending map[string]time.Time // memory not saved yet
	for {
		// Save the memory as soon as the last tick's readings are delivered,
		// checking while waiting for the next tick.
		for pending != nil {
			if p.saveMemory(ctx, pending) {
				pending = nil
				break
			}
			if left := next.Sub(p.now()); left <= 0 || p.wait(ctx, min(left, 200*time.Millisecond)) != nil {
				break
			}
		}
		if err := p.wait(ctx, next.Sub(p.now())); err != nil {
			p.finalSave(pending)
			return nil
		}
		p.tick(ctx, next)
		if p.store != nil {
			pending = p.snapshot()
		}
		// Skip schedule times that passed while the tick ran.
		now := p.now()
		following := p.schedule.Next(next)
		skipped := 0
		for !following.IsZero() && !following.After(now) {
			skipped++
			following = p.schedule.Next(following)
		}
		if skipped > 0 {
			p.metrics.ticksSkipped.Add(float64(skipped))
			p.log.Warn("poll tick ran past the next schedule time; skipping", "skipped_ticks", skipped, "tick", next.Format(time.RFC3339))
		}
		if following.IsZero() {
			p.finalSave(pending)
			return p.idle(ctx)
		}
		next = following
	}
}

// idle waits for ctx once the schedule has no next time (robfig/cron's Next
// returns the zero time for a spec that matches nothing within five years):
// waiting for the zero time would spin, ticking as fast as it can.
func (p *Poller) idle(ctx context.Context) error {
	p.log.Error("poller.schedule has no next time; not polling until restarted with another schedule", "schedule", p.cfg.Schedule)
	<-ctx.Done()
	return nil
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

// tick polls every location once for schedule time at.
func (p *Poller) tick(ctx context.Context, at time.Time) {
	start := p.now()
	p.metrics.ticks.Inc()
	spread := p.spread(at)
	t := &tally{counts: map[string]int{}, firstErr: map[string]string{}}
	fanOut(ctx, p.locations, at, spread, p.cfg.Concurrency, start, p.now, p.wait, func(loc weather.Location) {
		outcome, err := p.pollOne(ctx, loc)
		t.add(outcome, loc.ID, err)
	})
	attrs := []any{"tick", at.UTC().Format(time.RFC3339), "locations", len(p.locations), "duration", p.now().Sub(start).Round(time.Millisecond).String()}
	for _, o := range outcomes {
		if n := t.counts[o]; n > 0 {
			attrs = append(attrs, o, n)
		}
	}
	p.log.Info("poll", attrs...)
	// One error line per kind of failure per tick: an expired key or a rate
	// limit says so once, not once per location.
	for _, o := range outcomes {
		if msg, ok := t.firstErr[o]; ok {
			p.log.Error("poll failures", "outcome", o, "count", t.counts[o], "first", msg)
		}
	}
}

// outcomes in the order the summary line shows them.
var outcomes = []string{"ok", "duplicate", "buffer_full", "unauthorized", "rate_limited", "bad_response", "unavailable", "timeout", "error"}

// pollOne fetches one location and hands a new observation to the producer.
func (p *Poller) pollOne(ctx context.Context, loc weather.Location) (string, error) {
	fctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	began := p.now()
	r, err := p.prov.Fetch(fctx, loc)
	p.metrics.duration.Observe(p.now().Sub(began).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			return "cancelled", nil
		}
		outcome := provider.Outcome(err)
		p.metrics.requests.WithLabelValues(outcome).Inc()
		return outcome, err
	}
	if !p.isNew(loc.ID, r.ObservedAt) {
		p.metrics.requests.WithLabelValues("duplicate").Inc()
		p.log.Debug("same observation as last time", "location", loc.ID, "observed_at", r.ObservedAt)
		return "duplicate", nil
	}
	data, err := r.Encode()
	if err != nil {
		p.metrics.requests.WithLabelValues("bad_response").Inc()
		return "bad_response", fmt.Errorf("encode reading: %w", err)
	}
	if err := p.out.Put(ctx, r.PartitionKey(), data); err != nil {
		p.forget(loc.ID, r.ObservedAt)
		if errors.Is(err, stream.ErrBufferFull) {
			p.metrics.requests.WithLabelValues("buffer_full").Inc()
			return "buffer_full", err
		}
		p.metrics.requests.WithLabelValues("error").Inc()
		return "error", fmt.Errorf("put reading: %w", err)
	}
	p.metrics.requests.WithLabelValues("ok").Inc()
	p.log.Debug("polled", "location", loc.ID, "observed_at", r.ObservedAt)
	return "ok", nil
}

// isNew records observedAt for id and reports whether it is newer than the
// last observation emitted for id.
func (p *Poller) isNew(id string, observedAt time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if last, ok := p.last[id]; ok && !observedAt.After(last) {
		return false
	}
	p.last[id] = observedAt
	return true
}

// forget undoes isNew when the reading could not be handed on, so the next
// tick emits the same observation again instead of losing it.
func (p *Poller) forget(id string, observedAt time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last[id].Equal(observedAt) {
		delete(p.last, id)
	}
}

// spread is how long the tick at may spread its fetches: at most cfg.Spread
// and under half the time to the next tick.
func (p *Poller) spread(at time.Time) time.Duration {
	half := p.schedule.Next(at).Sub(at) / 2
	return max(0, min(p.cfg.Spread, half))
}

// jitter places a location at a stable offset within the spread, different
// per tick, so requests are spread evenly instead of sent as a burst.
func jitter(id string, at time.Time, spread time.Duration) time.Duration {
	if spread <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	h.Write([]byte(at.UTC().Format(time.RFC3339)))
	return time.Duration(h.Sum64() % uint64(spread))
}
