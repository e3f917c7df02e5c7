// Package openmeteo fetches current conditions from the keyless Open-Meteo
// forecast API and maps them to reading events with Tomorrow.io's value
// names, units and weather codes, so alert rules work across providers.
//
// Two mappings are choices, not facts of either API:
//   - precipitation, rain and snowfall in Open-Meteo's "current" block are
//     sums over the preceding current.interval seconds (900 s); they become
//     intensities per hour: mm × 3600 / interval.
//   - snowfall is centimetres of fresh snow; Tomorrow.io's snowIntensity is a
//     water-equivalent rate, so it is converted with Open-Meteo's own rule of
//     thumb, 7 cm of snow ≈ 10 mm of water (mm = cm × 10 / 7), then per hour.
package openmeteo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Name is the provider's name in readings and metric labels.
const Name = "openmeteo"

// DefaultInterval is assumed when a response has no current.interval.
const DefaultInterval = 900

// field maps one Open-Meteo current variable to a reading value.
type field struct {
	api, name, unit string
	// rate: a sum over the interval, turned into a per-hour intensity.
	rate bool
	// factor applied after unit conversion (snow cm → water mm).
	factor float64
}

// fields are the variables asked for, in the order of the request.
var fields = []field{
	{api: "temperature_2m", name: "temperature", unit: "°C"},
	{api: "relative_humidity_2m", name: "humidity", unit: "%"},
	{api: "apparent_temperature", name: "temperatureApparent", unit: "°C"},
	{api: "precipitation", name: "precipitationIntensity", unit: "mm", rate: true},
	{api: "rain", name: "rainIntensity", unit: "mm", rate: true},
	{api: "snowfall", name: "snowIntensity", unit: "cm", rate: true, factor: 10.0 / 7.0},
	{api: "weather_code", name: "weatherCode", unit: "wmo code"},
	{api: "cloud_cover", name: "cloudCover", unit: "%"},
	{api: "pressure_msl", name: "pressureSeaLevel", unit: "hPa"},
	{api: "surface_pressure", name: "pressureSurfaceLevel", unit: "hPa"},
	{api: "wind_speed_10m", name: "windSpeed", unit: "m/s"},
	{api: "wind_direction_10m", name: "windDirection", unit: "°"},
	{api: "wind_gusts_10m", name: "windGust", unit: "m/s"},
}

// current is the value of the request's current= parameter.
var current = func() string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.api
	}
	return strings.Join(names, ",")
}()

// Client fetches current conditions from Open-Meteo.
type Client struct {
	base string
	http *httpx.Client
	log  *slog.Logger
}

var _ provider.Provider = (*Client)(nil)

// New returns a client for cfg, which Validate accepted; timeout bounds each
// HTTP attempt. opts are for tests.
func New(cfg Config, timeout time.Duration, reg prometheus.Registerer, log *slog.Logger, opts ...httpx.Option) (*Client, error) {
	var ps check.Problems
	cfg.Validate("poller.openmeteo", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("openmeteo: %w", err)
	}
	log = log.With("component", "provider", "provider", Name)
	hc, err := httpx.New(httpx.Config{
		Provider:     Name,
		Timeout:      timeout,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Attempts:     cfg.Attempts,
		Limits:       cfg.Limits,
		ErrorMessage: errorMessage,
	}, reg, log, opts...)
	if err != nil {
		return nil, fmt.Errorf("openmeteo: %w", err)
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), http: hc, log: log}, nil
}

// Name implements provider.Provider.
func (c *Client) Name() string { return Name }

// Fetch gets the current conditions at loc.
func (c *Client) Fetch(ctx context.Context, loc weather.Location) (weather.Reading, error) {
	q := url.Values{}
	q.Set("latitude", coord(loc.Lat))
	q.Set("longitude", coord(loc.Lon))
	q.Set("current", current)
	q.Set("wind_speed_unit", "ms")
	q.Set("timezone", "UTC")
	body, err := c.http.Get(ctx, "GET /forecast", c.base+"/forecast?"+q.Encode(), nil)
	if err != nil {
		return weather.Reading{}, fmt.Errorf("openmeteo %s: %w", loc.ID, err)
	}
	obs, err := Parse(body)
	if err != nil {
		return weather.Reading{}, fmt.Errorf("openmeteo %s: %w", loc.ID, err)
	}
	for _, s := range obs.Skipped {
		c.log.Warn("value skipped", "location", loc.ID, "reason", s)
	}
	return weather.NewReading(loc, Name, obs.Time, c.http.Now(), obs.Values), nil
}

func coord(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// Observation is a parsed forecast response's current block.
type Observation struct {
	Time   time.Time
	Values weather.Values
	// Skipped says which values were dropped and why (a unit this version
	// cannot convert).
	Skipped []string
}

type response struct {
	Error        bool                       `json:"error"`
	Reason       string                     `json:"reason"`
	UTCOffset    int                        `json:"utc_offset_seconds"`
	CurrentUnits map[string]string          `json:"current_units"`
	Current      map[string]json.RawMessage `json:"current"`
}

// Parse reads a forecast response and maps its current block.
func Parse(body []byte) (Observation, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return Observation{}, fmt.Errorf("%w: forecast response is not JSON of the expected shape: %v", provider.ErrBadResponse, err)
	}
	if r.Error {
		return Observation{}, fmt.Errorf("%w: API error: %s", provider.ErrBadResponse, r.Reason)
	}
	if r.Current == nil {
		return Observation{}, fmt.Errorf("%w: forecast response has no current object", provider.ErrBadResponse)
	}
	var ts string
	if raw, ok := r.Current["time"]; !ok || json.Unmarshal(raw, &ts) != nil || ts == "" {
		return Observation{}, fmt.Errorf("%w: forecast response has no current.time", provider.ErrBadResponse)
	}
	t, err := time.Parse("2006-01-02T15:04", ts)
	if err != nil {
		return Observation{}, fmt.Errorf("%w: current.time %q is not of the form 2006-01-02T15:04", provider.ErrBadResponse, ts)
	}
	// Local time without offset unless timezone=UTC was honoured.
	t = t.Add(-time.Duration(r.UTCOffset) * time.Second)

	interval := float64(DefaultInterval)
	if raw, ok := r.Current["interval"]; ok {
		var n float64
		if json.Unmarshal(raw, &n) == nil && n > 0 {
			interval = n
		}
	}

	obs := Observation{Time: t.UTC(), Values: weather.Values{}}
	for _, f := range fields {
		raw, ok := r.Current[f.api]
		if !ok {
			continue
		}
		var x *float64
		if err := json.Unmarshal(raw, &x); err != nil {
			obs.Skipped = append(obs.Skipped, fmt.Sprintf("current.%s is not a number", f.api))
			continue
		}
		if x == nil {
			obs.Values.SetNull(f.name)
			continue
		}
		v := *x
		if unit, ok := r.CurrentUnits[f.api]; ok && unit != f.unit {
			conv, ok := convert(unit, f.unit)
			if !ok {
				obs.Skipped = append(obs.Skipped, fmt.Sprintf("current_units.%s is %q, want %q", f.api, unit, f.unit))
				continue
			}
			v = conv(v)
		}
		if f.factor != 0 {
			v *= f.factor
		}
		if f.rate {
			v = v * 3600 / interval
		}
		if f.api == "weather_code" {
			v = float64(WeatherCode(int(v)))
		} else {
			v = math.Round(v*100) / 100
		}
		obs.Values.Set(f.name, v)
	}
	return obs, nil
}

// convert returns the conversion from unit got to unit want, for the units
// Open-Meteo can be asked for.
func convert(got, want string) (func(float64) float64, bool) {
	switch got + ">" + want {
	case "°F>°C":
		return func(f float64) float64 { return (f - 32) * 5 / 9 }, true
	case "km/h>m/s":
		return func(x float64) float64 { return x / 3.6 }, true
	case "mph>m/s":
		return func(x float64) float64 { return x * 0.44704 }, true
	case "kn>m/s":
		return func(x float64) float64 { return x * 1852 / 3600 }, true
	case "inch>mm":
		return func(x float64) float64 { return x * 25.4 }, true
	case "inch>cm":
		return func(x float64) float64 { return x * 2.54 }, true
	}
	return nil, false
}

// wmo maps WMO weather interpretation codes to Tomorrow.io weather codes.
var wmo = map[int]int{
	0:  1000, // clear sky → Clear
	1:  1100, // mainly clear → Mostly Clear
	2:  1101, // partly cloudy
	3:  1001, // overcast → Cloudy
	45: 2000, // fog
	48: 2000, // depositing rime fog → Fog
	51: 4000, // light drizzle → Drizzle
	53: 4000, // moderate drizzle
	55: 4000, // dense drizzle
	56: 6000, // light freezing drizzle → Freezing Drizzle
	57: 6000, // dense freezing drizzle
	61: 4200, // slight rain → Light Rain
	63: 4001, // moderate rain → Rain
	65: 4201, // heavy rain
	66: 6200, // light freezing rain
	67: 6201, // heavy freezing rain
	71: 5100, // slight snow fall → Light Snow
	73: 5000, // moderate snow fall → Snow
	75: 5101, // heavy snow fall
	77: 5001, // snow grains → Flurries
	80: 4200, // slight rain showers → Light Rain
	81: 4001, // moderate rain showers → Rain
	82: 4201, // violent rain showers → Heavy Rain
	85: 5100, // slight snow showers → Light Snow
	86: 5101, // heavy snow showers → Heavy Snow
	95: 8000, // thunderstorm
	96: 8000, // thunderstorm with slight hail
	99: 8000, // thunderstorm with heavy hail
}

// WeatherCode maps a WMO weather code to the Tomorrow.io code table; an
// unknown code is 0 (Unknown).
func WeatherCode(code int) int { return wmo[code] }

// errorMessage reads Open-Meteo's {"error":true,"reason":"..."} body.
func errorMessage(body []byte) string {
	var e struct {
		Error  bool   `json:"error"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &e) != nil || !e.Error {
		return ""
	}
	return e.Reason
}
