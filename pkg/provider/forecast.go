package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// Forecaster fetches what a provider predicts for a location. A provider
// that forecasts does it through the same client, hence the same rate-limit
// budget, as its realtime fetches.
type Forecaster interface {
	// Name is the value of the forecast's provider field and of metric
	// labels.
	Name() string
	// FetchForecast returns the forecast of loc issued at issuedAt (the
	// poller's schedule time) with the steps valid from issuedAt to
	// issuedAt+horizon, values named and converted as a reading's.
	FetchForecast(ctx context.Context, loc weather.Location, issuedAt time.Time, horizon time.Duration) (weather.Forecast, error)
}

// CheckedForecaster returns f with every forecast it fetches checked
// against the forecast contract (weather.Forecast.CheckContract) before the
// poller sees it: a forecast that fails is an ErrBadResponse, and nothing
// is put. A forecast left with no step in the horizon is one too.
func CheckedForecaster(f Forecaster, maxSkew time.Duration, now func() time.Time) Forecaster {
	return checkedForecaster{f: f, maxSkew: maxSkew, now: now}
}

type checkedForecaster struct {
	f       Forecaster
	maxSkew time.Duration
	now     func() time.Time
}

func (c checkedForecaster) Name() string { return c.f.Name() }

func (c checkedForecaster) FetchForecast(ctx context.Context, loc weather.Location, issuedAt time.Time, horizon time.Duration) (weather.Forecast, error) {
	f, err := c.f.FetchForecast(ctx, loc, issuedAt, horizon)
	if err != nil {
		return f, err
	}
	if err := f.CheckContract(c.now(), c.maxSkew); err != nil {
		return weather.Forecast{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return f, nil
}

// WithinHorizon keeps the steps valid from issuedAt to issuedAt+horizon:
// providers answer with whole days, and the current hour.
func WithinHorizon(steps []weather.ForecastStep, issuedAt time.Time, horizon time.Duration) []weather.ForecastStep {
	end := issuedAt.Add(horizon)
	kept := steps[:0]
	for _, s := range steps {
		if !s.ValidAt.Before(issuedAt) && !s.ValidAt.After(end) {
			kept = append(kept, s)
		}
	}
	return kept
}
