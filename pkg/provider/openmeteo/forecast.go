package openmeteo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/weather"
)

var _ provider.Forecaster = (*Client)(nil)

// FetchForecast gets loc's hourly forecast: the same /forecast endpoint
// as Fetch with hourly= for the same variables, one request counted
// against the same limits. Values are mapped as Fetch maps them; hourly
// precipitation, rain and snowfall are sums over the preceding hour, so
// they already are per-hour intensities.
func (c *Client) FetchForecast(ctx context.Context, loc weather.Location, issuedAt time.Time, horizon time.Duration) (weather.Forecast, error) {
	q := url.Values{}
	q.Set("latitude", coord(loc.Lat))
	q.Set("longitude", coord(loc.Lon))
	q.Set("hourly", current)
	q.Set("wind_speed_unit", "ms")
	q.Set("timezone", "UTC")
	// From the current hour: one more than the horizon's hours covers it.
	q.Set("forecast_hours", strconv.Itoa(int(math.Ceil(horizon.Hours()))+1))
	body, err := c.http.Get(ctx, "GET /forecast", c.base+"/forecast?"+q.Encode(), nil)
	if err != nil {
		return weather.Forecast{}, fmt.Errorf("openmeteo forecast %s: %w", loc.ID, err)
	}
	fc, err := ParseForecast(body)
	if err != nil {
		return weather.Forecast{}, fmt.Errorf("openmeteo forecast %s: %w", loc.ID, err)
	}
	for _, s := range fc.Skipped {
		c.log.Warn("forecast value skipped", "location", loc.ID, "reason", s)
	}
	steps := provider.WithinHorizon(fc.Steps, issuedAt, horizon)
	if len(steps) == 0 {
		return weather.Forecast{}, fmt.Errorf("openmeteo forecast %s: %w: no hourly step between %s and %s", loc.ID, provider.ErrBadResponse,
			issuedAt.UTC().Format(time.RFC3339), issuedAt.Add(horizon).UTC().Format(time.RFC3339))
	}
	return weather.NewForecast(loc, Name, issuedAt, c.http.Now(), steps), nil
}

// Forecast is a parsed forecast response's hourly block.
type Forecast struct {
	Steps []weather.ForecastStep
	// Skipped says which variables were dropped and why (not an array of
	// numbers, or a unit this version cannot convert).
	Skipped []string
}

type hourlyResponse struct {
	Error       bool                       `json:"error"`
	Reason      string                     `json:"reason"`
	UTCOffset   int                        `json:"utc_offset_seconds"`
	HourlyUnits map[string]string          `json:"hourly_units"`
	Hourly      map[string]json.RawMessage `json:"hourly"`
}

// ParseForecast reads a forecast response's hourly block: hourly.time[]
// and one array per variable, index for index. A hour whose array is
// shorter than hourly.time, or holds null, has that value null; a
// variable that is not an array of numbers is skipped and reported. No
// hourly.time, a bad time, or more than weather.MaxForecastSteps hours is
// ErrBadResponse.
func ParseForecast(body []byte) (Forecast, error) {
	var r hourlyResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Forecast{}, fmt.Errorf("%w: forecast response is not JSON of the expected shape: %v", provider.ErrBadResponse, err)
	}
	if r.Error {
		return Forecast{}, fmt.Errorf("%w: API error: %s", provider.ErrBadResponse, r.Reason)
	}
	var times []string
	if raw, ok := r.Hourly["time"]; !ok || json.Unmarshal(raw, &times) != nil || len(times) == 0 {
		return Forecast{}, fmt.Errorf("%w: forecast response has no hourly.time", provider.ErrBadResponse)
	}
	if len(times) > weather.MaxForecastSteps {
		return Forecast{}, fmt.Errorf("%w: forecast response has %d hours, want at most %d", provider.ErrBadResponse, len(times), weather.MaxForecastSteps)
	}
	fc := Forecast{Steps: make([]weather.ForecastStep, len(times))}
	for i, ts := range times {
		t, err := time.Parse("2006-01-02T15:04", ts)
		if err != nil {
			return Forecast{}, fmt.Errorf("%w: hourly.time[%d] %q is not of the form 2006-01-02T15:04", provider.ErrBadResponse, i, ts)
		}
		// Local time without offset unless timezone=UTC was honoured.
		fc.Steps[i] = weather.ForecastStep{ValidAt: t.Add(-time.Duration(r.UTCOffset) * time.Second).UTC(), Values: weather.Values{}}
	}
	for _, f := range fields {
		raw, ok := r.Hourly[f.api]
		if !ok {
			continue
		}
		var xs []*float64
		if err := json.Unmarshal(raw, &xs); err != nil {
			fc.Skipped = append(fc.Skipped, fmt.Sprintf("hourly.%s is not an array of numbers", f.api))
			continue
		}
		conv := func(x float64) float64 { return x }
		if unit, ok := r.HourlyUnits[f.api]; ok && unit != f.unit {
			c, ok := convert(unit, f.unit)
			if !ok {
				fc.Skipped = append(fc.Skipped, fmt.Sprintf("hourly_units.%s is %q, want %q", f.api, unit, f.unit))
				continue
			}
			conv = c
		}
		for i := range fc.Steps {
			if i >= len(xs) || xs[i] == nil {
				fc.Steps[i].Values.SetNull(f.name)
				continue
			}
			v := conv(*xs[i])
			if f.factor != 0 {
				v *= f.factor
			}
			if f.api == "weather_code" {
				v = float64(WeatherCode(int(v)))
			} else {
				v = math.Round(v*100) / 100
			}
			fc.Steps[i].Values.Set(f.name, v)
		}
	}
	return fc, nil
}
