package tomorrowio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/weather"
)

var _ provider.Forecaster = (*Client)(nil)

// FetchForecast gets loc's hourly forecast (GET /weather/forecast with
// timesteps=1h): one request, counted against the same limits as Fetch.
// Steps outside issuedAt..issuedAt+horizon are dropped (the API answers
// with the current hour and about five days).
func (c *Client) FetchForecast(ctx context.Context, loc weather.Location, issuedAt time.Time, horizon time.Duration) (weather.Forecast, error) {
	q := url.Values{}
	q.Set("location", coord(loc.Lat)+","+coord(loc.Lon))
	q.Set("timesteps", "1h")
	q.Set("units", c.units)
	h := http.Header{}
	h.Set("apikey", c.key.Reveal())
	body, err := c.http.Get(ctx, "GET /weather/forecast", c.base+"/weather/forecast?"+q.Encode(), h)
	if err != nil {
		return weather.Forecast{}, fmt.Errorf("tomorrowio forecast %s: %w", loc.ID, err)
	}
	steps, err := ParseForecast(body)
	if err != nil {
		return weather.Forecast{}, fmt.Errorf("tomorrowio forecast %s: %w", loc.ID, err)
	}
	if c.units == UnitsImperial {
		for i := range steps {
			ToMetric(&steps[i].Values)
		}
	}
	steps = provider.WithinHorizon(steps, issuedAt, horizon)
	if len(steps) == 0 {
		return weather.Forecast{}, fmt.Errorf("tomorrowio forecast %s: %w: no hourly step between %s and %s", loc.ID, provider.ErrBadResponse,
			issuedAt.UTC().Format(time.RFC3339), issuedAt.Add(horizon).UTC().Format(time.RFC3339))
	}
	return weather.NewForecast(loc, Name, issuedAt, c.http.Now(), steps), nil
}

type forecastResponse struct {
	Timelines *struct {
		Hourly []struct {
			Time   string                     `json:"time"`
			Values map[string]json.RawMessage `json:"values"`
		} `json:"hourly"`
	} `json:"timelines"`
}

// ParseForecast reads a forecast response's timelines.hourly[], in the
// units it was asked for. Values are kept as Parse keeps a realtime
// response's (nulls as nulls, non-numbers skipped). Malformed JSON, no
// timelines.hourly, more than weather.MaxForecastSteps steps, or a step
// without an RFC 3339 time is ErrBadResponse.
func ParseForecast(body []byte) ([]weather.ForecastStep, error) {
	var r forecastResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: forecast response is not JSON of the expected shape: %v", provider.ErrBadResponse, err)
	}
	if r.Timelines == nil || r.Timelines.Hourly == nil {
		return nil, fmt.Errorf("%w: forecast response has no timelines.hourly", provider.ErrBadResponse)
	}
	if n := len(r.Timelines.Hourly); n > weather.MaxForecastSteps {
		return nil, fmt.Errorf("%w: forecast response has %d hourly steps, want at most %d", provider.ErrBadResponse, n, weather.MaxForecastSteps)
	}
	steps := make([]weather.ForecastStep, 0, len(r.Timelines.Hourly))
	for i, h := range r.Timelines.Hourly {
		t, err := time.Parse(time.RFC3339, h.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: timelines.hourly[%d].time %q is not an RFC 3339 time", provider.ErrBadResponse, i, h.Time)
		}
		steps = append(steps, weather.ForecastStep{ValidAt: t.UTC(), Values: parseValues(h.Values)})
	}
	return steps, nil
}
