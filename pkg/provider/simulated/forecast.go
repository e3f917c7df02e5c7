package simulated

import (
	"context"
	"math"
	"time"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/weather"
)

var _ provider.Forecaster = (*Provider)(nil)

// MaxForecastSteps bounds a simulated forecast: at demo speed its steps are
// seconds apart, and a forecast of the whole horizon would be thousands.
const MaxForecastSteps = 96

// ForecastStep is the time between two steps of a simulated forecast: a
// quarter of a front's passage, so every front shows in a forecast, and an
// hour at most, as the real providers' forecasts.
func (p *Provider) ForecastStep() time.Duration {
	return min(time.Hour, max(time.Second, (p.cfg.FrontDuration/4).Truncate(time.Second)))
}

// FetchForecast returns the simulated forecast of loc issued at issuedAt:
// the provider's own weather at each step (fronts included, so the next
// front shows up ahead of time), off by an error that grows with the lead
// time and changes with the issue time. A front is forecast a little early
// or late (up to a tenth of the lead time, and never late by more than a
// tenth of its passage), its strength and the temperature a little wrong,
// so forecasts of one time differ from run to run and converge as it nears.
func (p *Provider) FetchForecast(ctx context.Context, loc weather.Location, issuedAt time.Time, horizon time.Duration) (weather.Forecast, error) {
	if err := ctx.Err(); err != nil {
		return weather.Forecast{}, err
	}
	step := p.ForecastStep()
	issuedAt = issuedAt.UTC()
	h := p.hash(loc.ID)
	run := uint64(issuedAt.Unix())
	first := issuedAt.Truncate(step)
	if first.Before(issuedAt) {
		first = first.Add(step)
	}
	var steps []weather.ForecastStep
	for t := first; !t.After(issuedAt.Add(horizon)) && len(steps) < MaxForecastSteps; t = t.Add(step) {
		lead := t.Sub(issuedAt)
		// Timing error in [-lead/10, +lead/10], capped late so a forecast
		// front does not arrive after the real one by more than a little.
		shift := time.Duration((2*unit(h, 100+run) - 1) * float64(lead) / 10)
		shift = min(shift, p.cfg.FrontDuration/10)
		v := p.Values(loc, t.Add(-shift))
		grow := math.Min(1, lead.Hours()/24+float64(lead)/float64(p.cfg.FrontEvery)/4)
		tempErr := 3 * grow * (2*unit(h, 200+run) - 1)
		windErr := 1 + 0.3*grow*(2*unit(h, 300+run)-1)
		if x, ok := v.Get("temperature"); ok {
			v.Set("temperature", round(x+tempErr, 2))
		}
		for _, name := range []string{"windSpeed", "windGust"} {
			if x, ok := v.Get(name); ok {
				v.Set(name, round(x*windErr, 2))
			}
		}
		steps = append(steps, weather.ForecastStep{ValidAt: t, Values: v})
	}
	return weather.NewForecast(loc, Name, issuedAt, p.now(), steps), nil
}
