package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/pkg/backoff"
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
	clock     // now and wait
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
	p := &Poller{clock: clock{now: time.Now, wait: lifecycle.Sleep}}
	for _, o := range opts {
		o(p)
	}
	return &ForecastPoller{
		cfg: cfg, schedule: sched, locations: locations, prov: prov, out: out,
		m:     m.forForecasts(prov.Name()),
		log:   log.With("component", "forecast-poller", "provider", prov.Name()),
		clock: p.clock,
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
		var skipped int
		next, skipped = notPassed(p.schedule, next, p.now())
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
	half := p.schedule.Next(at).Sub(at) / 2
	fanOut(ctx, p.clock, p.locations, at, max(0, min(p.cfg.Spread, half)), p.cfg.Concurrency, p.log, "forecast poll",
		func(ctx context.Context, loc weather.Location) (string, error) { return p.fetchOne(ctx, loc, at) })
}

// fullBackoff paces the puts of a fetched forecast while the stream buffer
// is full.
var fullBackoff = backoff.Exponential{Base: 100 * time.Millisecond, Max: 5 * time.Second}

// put hands a fetched forecast to the producer, waiting while the stream
// buffer is full, until it takes it, ctx ends or until (the next schedule
// time, when a newer forecast is fetched) comes. A forecast is fetched once
// a tick, so one refused would leave its location without forecast alerts
// until the next tick (an hour by default); and while the buffer is full,
// the tick's other fetches wait behind it instead of spending API calls on
// forecasts with no room.
func (p *ForecastPoller) put(ctx context.Context, key string, data []byte, until time.Time) error {
	for n := 1; ; n++ {
		err := p.out.Put(ctx, key, data)
		if !errors.Is(err, stream.ErrBufferFull) {
			return err
		}
		d := fullBackoff.Delay(n)
		if !p.now().Add(d).Before(until) {
			return err
		}
		if werr := p.wait(ctx, d); werr != nil {
			return err
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
	if err := p.put(ctx, f.PartitionKey(), data, p.schedule.Next(at)); err != nil {
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
