package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// ForecastConfig is the poller.forecast section: when to fetch each
// location's forecast and how far ahead.
type ForecastConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Schedule is a cron spec, as poller.schedule.
	Schedule string `mapstructure:"schedule"`
	// Horizon is how far after its issue time a forecast reaches.
	Horizon time.Duration `mapstructure:"horizon"`
}

// Validate reports the problems of the section at key; a disabled section
// is not checked.
func (c ForecastConfig) Validate(key string, ps *check.Problems) {
	if !c.Enabled {
		return
	}
	if _, err := ParseSchedule(c.Schedule); err != nil {
		ps.Add(check.Key(key, "schedule"), "%v", err)
	}
	if c.Horizon <= 0 || c.Horizon > weather.MaxForecastHorizon {
		ps.Add(check.Key(key, "horizon"), "got %s, want more than 0 and at most %s", c.Horizon, weather.MaxForecastHorizon)
	}
}

// ForecastPoller fetches every location's forecast once per schedule time
// and puts each on the stream as a forecast event. Its ticks are spread
// and bounded as the realtime poller's, and never overlap. It keeps no
// memory across ticks: each tick issues new forecasts (issued_at is the
// schedule time), and a forecast put twice by two instances has one
// event_id, which the consumer deduplicates.
type ForecastPoller struct {
	cfg       Config
	schedule  cron.Schedule
	locations []weather.Location
	prov      provider.Forecaster
	out       stream.Producer
	m         *forecastMetrics
	log       *slog.Logger
	now       func() time.Time
	wait      func(ctx context.Context, d time.Duration) error
}

// NewForecast returns the forecast poller of locations through prov into
// out, for cfg (the poller section: its forecast keys, timeout,
// concurrency and spread).
func NewForecast(cfg Config, locations []weather.Location, prov provider.Forecaster, out stream.Producer, m *Metrics, log *slog.Logger, opts ...Option) (*ForecastPoller, error) {
	sched, err := ParseSchedule(cfg.Forecast.Schedule)
	if err != nil {
		return nil, fmt.Errorf("poller.forecast.schedule: %w", err)
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	// The options are the realtime poller's: apply them to one to read
	// the clock they set.
	p := &Poller{now: time.Now, wait: lifecycle.Sleep}
	for _, o := range opts {
		o(p)
	}
	return &ForecastPoller{
		cfg: cfg, schedule: sched, locations: locations, prov: prov, out: out,
		m:   m.forForecasts(prov.Name()),
		log: log.With("component", "forecast-poller", "provider", prov.Name()),
		now: p.now, wait: p.wait,
	}, nil
}

// Run fetches forecasts at once, then on poller.forecast.schedule, until
// ctx ends.
func (p *ForecastPoller) Run(ctx context.Context) error {
	next := p.schedule.Next(p.now())
	if next.IsZero() {
		p.log.Error("poller.forecast.schedule has no next time; not fetching forecasts until restarted with another schedule", "schedule", p.cfg.Forecast.Schedule)
		<-ctx.Done()
		return nil
	}
	p.log.Info("forecast poller started", "schedule", p.cfg.Forecast.Schedule, "horizon", p.cfg.Forecast.Horizon.String(),
		"locations", len(p.locations), "next", next.Format(time.RFC3339))
	// One forecast at once: with an hourly schedule, forecast alerts would
	// otherwise wait up to an hour after a start (or a leadership change)
	// for their first forecast. It costs one call per location per start.
	at := p.now().UTC().Truncate(time.Second)
	for {
		p.tick(ctx, at)
		if ctx.Err() != nil {
			return nil
		}
		if at.Equal(next) { // a schedule tick (not the start one): on to the following
			next = p.schedule.Next(next)
		}
		// Skip schedule times that passed while the tick ran.
		now := p.now()
		skipped := 0
		for !next.IsZero() && !next.After(now) {
			skipped++
			next = p.schedule.Next(next)
		}
		if skipped > 0 {
			p.m.ticksSkipped.Add(float64(skipped))
			p.log.Warn("forecast tick ran past the next schedule time; skipping", "skipped_ticks", skipped, "tick", at.Format(time.RFC3339))
		}
		if next.IsZero() {
			<-ctx.Done()
			return nil
		}
		if err := p.wait(ctx, next.Sub(p.now())); err != nil {
			return nil
		}
		at = next
	}
}

// tick fetches every location's forecast issued at at.
func (p *ForecastPoller) tick(ctx context.Context, at time.Time) {
	start := p.now()
	half := p.schedule.Next(at).Sub(at) / 2
	spread := max(0, min(p.cfg.Spread, half))
	t := &tally{counts: map[string]int{}, firstErr: map[string]string{}}
	fanOut(ctx, p.locations, at, spread, p.cfg.Concurrency, start, p.now, p.wait, func(loc weather.Location) {
		outcome, err := p.fetchOne(ctx, loc, at)
		t.add(outcome, loc.ID, err)
	})
	attrs := []any{"tick", at.UTC().Format(time.RFC3339), "locations", len(p.locations), "duration", p.now().Sub(start).Round(time.Millisecond).String()}
	for _, o := range outcomes {
		if n := t.counts[o]; n > 0 {
			attrs = append(attrs, o, n)
		}
	}
	p.log.Info("forecast poll", attrs...)
	for _, o := range outcomes {
		if msg, ok := t.firstErr[o]; ok {
			p.log.Error("forecast poll failures", "outcome", o, "count", t.counts[o], "first", msg)
		}
	}
}

// fetchOne fetches loc's forecast issued at at and hands it to the producer.
func (p *ForecastPoller) fetchOne(ctx context.Context, loc weather.Location, at time.Time) (string, error) {
	fctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	f, err := p.prov.FetchForecast(fctx, loc, at, p.cfg.Forecast.Horizon)
	if err != nil {
		if ctx.Err() != nil {
			return "cancelled", nil
		}
		outcome := provider.Outcome(err)
		p.m.requests.WithLabelValues(outcome).Inc()
		return outcome, err
	}
	data, err := f.Encode()
	if err != nil {
		p.m.requests.WithLabelValues("bad_response").Inc()
		return "bad_response", fmt.Errorf("encode forecast: %w", err)
	}
	if err := p.out.Put(ctx, f.PartitionKey(), data); err != nil {
		if errors.Is(err, stream.ErrBufferFull) {
			p.m.requests.WithLabelValues("buffer_full").Inc()
			return "buffer_full", err
		}
		p.m.requests.WithLabelValues("error").Inc()
		return "error", fmt.Errorf("put forecast: %w", err)
	}
	p.m.requests.WithLabelValues("ok").Inc()
	p.log.Debug("forecast fetched", "location", loc.ID, "issued_at", f.IssuedAt, "steps", len(f.Steps))
	return "ok", nil
}
