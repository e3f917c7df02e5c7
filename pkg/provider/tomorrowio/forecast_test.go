package tomorrowio_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
	"github.com/weatherd/weatherd/pkg/weather"
)

var issued = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func (h *harness) forecast(t *testing.T, horizon time.Duration) (weather.Forecast, error) {
	t.Helper()
	return h.c.FetchForecast(context.Background(), toronto, issued, horizon)
}

func TestClient_FetchForecast(t *testing.T) {
	t.Run("ImperialHourlyWithNulls", func(t *testing.T) {
		h := newHarness(t, func(c *tomorrowio.Config) { c.Units = "imperial" })
		h.api.set(reply(200, fixture(t, "forecast_imperial.json")))
		f, err := h.forecast(t, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(h.api.lastURL)
		if u.Path != "/v4/weather/forecast" || u.Query().Get("location") != "43.6534,-79.3839" ||
			u.Query().Get("timesteps") != "1h" || u.Query().Get("units") != "imperial" || u.Query().Has("apikey") {
			t.Errorf("request %s", h.api.lastURL)
		}
		if h.api.lastKey != apiKey {
			t.Errorf("apikey header %q", h.api.lastKey)
		}
		if f.Schema != weather.ForecastSchema || f.EventID != "toronto/forecast/2026-11-27T00:00:00Z" || f.Provider != "tomorrowio" ||
			!f.IngestedAt.Equal(h.clock.Now()) {
			t.Errorf("forecast %+v", f)
		}
		// 23:00 is before the issue time, 03:00 past the 2 h horizon.
		var got []string
		for _, s := range f.Steps {
			got = append(got, s.ValidAt.Format(time.RFC3339)+" "+strings.TrimSpace(dump(s.Values.Map())))
		}
		want := []string{
			"2026-11-27T00:00:00Z cloudBase=0.16 cloudCeiling=null cloudCover=100 dewPoint=0 evapotranspiration=0.001 freezingRainIntensity=0 " +
				"humidity=96 iceAccumulation=0 precipitationProbability=40 pressureSurfaceLevel=1019.3 rainAccumulation=0.51 rainIntensity=5.08 " +
				"sleetAccumulation=0 sleetIntensity=0 snowAccumulation=0 snowIntensity=0 temperature=0 temperatureApparent=-3.5 " +
				"uvHealthConcern=0 uvIndex=0 visibility=6.76 weatherCode=4000 windDirection=230 windGust=10 windSpeed=5",
			"2026-11-27T01:00:00Z cloudBase=null cloudCeiling=null cloudCover=null dewPoint=null humidity=null precipitationProbability=null " +
				"pressureSurfaceLevel=null rainIntensity=null temperature=-2 temperatureApparent=null visibility=null weatherCode=null " +
				"windDirection=null windGust=null windSpeed=null",
			"2026-11-27T02:00:00Z hailProbability=12.5 temperature=-5 windGust=20 windSpeed=12",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("steps\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if err := f.CheckContract(h.clock.Now(), time.Hour); err != nil {
			t.Errorf("contract: %v", err)
		}
	})

	t.Run("429WithRetryAfterSharesTheRealtimeBudget", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(429, fixture(t, "error_429.json"), "Retry-After", "120"))
		_, err := h.forecast(t, 24*time.Hour)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || !rl.RetryAt.Equal(h.clock.Now().Add(120*time.Second)) ||
			!strings.HasPrefix(err.Error(), "tomorrowio forecast toronto: ") {
			t.Fatalf("err = %v, want rate limited for 120 s", err)
		}
		// The realtime fetch waits out the same Retry-After: no request.
		h.api.set(reply(200, fixture(t, "realtime.json")))
		n := h.api.requests.Load()
		if _, err := h.fetch(t); !errors.Is(err, provider.ErrRateLimited) || h.api.requests.Load() != n {
			t.Fatalf("realtime fetch during the forecast's Retry-After: err %v, %d requests sent", err, h.api.requests.Load()-n)
		}
		h.clock.Set(rl.RetryAt)
		if _, err := h.fetch(t); err != nil {
			t.Fatalf("realtime fetch at Retry-After: %v", err)
		}
	})

	t.Run("PlanCountsForecastCalls", func(t *testing.T) {
		h := newHarness(t, func(c *tomorrowio.Config) { c.Limits.PerSecond, c.Limits.PerHour = 0, 2 })
		h.api.set(reply(200, fixture(t, "forecast_imperial.json")))
		if _, err := h.forecast(t, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		h.api.set(reply(200, fixture(t, "realtime.json")))
		if _, err := h.fetch(t); err != nil {
			t.Fatal(err)
		}
		if _, err := h.forecast(t, 24*time.Hour); !errors.Is(err, provider.ErrRateLimited) || h.api.requests.Load() != 2 {
			t.Fatalf("third call of a 2/hour plan: err %v after %d requests", err, h.api.requests.Load())
		}
	})

	for name, tc := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"Truncated":   {200, `{"timelines":{"hourly":[{"time":"2026-11-27T00:00:00Z","values":{"temperature":`, "bad response: forecast response is not JSON of the expected shape"},
		"NoHourly":    {200, `{"timelines":{"daily":[]}}`, "bad response: forecast response has no timelines.hourly"},
		"BadTime":     {200, `{"timelines":{"hourly":[{"time":"midnight","values":{}}]}}`, `bad response: timelines.hourly[0].time "midnight" is not an RFC 3339 time`},
		"HTMLError":   {200, `<html>gateway</html>`, "bad response: forecast response is not JSON"},
		"NoneAhead":   {200, `{"timelines":{"hourly":[{"time":"2026-11-26T22:00:00Z","values":{}}]}}`, "bad response: no hourly step between 2026-11-27T00:00:00Z and 2026-11-28T00:00:00Z"},
		"TooManyStep": {200, `{"timelines":{"hourly":[` + strings.Repeat(`{"time":"2026-11-27T00:00:00Z","values":{}},`, weather.MaxForecastSteps) + `{"time":"2026-11-27T00:00:00Z","values":{}}]}}`, "bad response: forecast response has 385 hourly steps, want at most 384"},
	} {
		t.Run("Malformed"+name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.api.set(reply(tc.status, []byte(tc.body)))
			_, err := h.forecast(t, 24*time.Hour)
			if !errors.Is(err, provider.ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a bad response containing %q", err, tc.want)
			}
		})
	}
}

func TestParseForecast_Metric(t *testing.T) {
	body := []byte(`{"timelines":{"hourly":[{"time":"2026-11-27T05:00:00+02:00","values":{"temperature":-1.5,"windGust":null,"weatherCode":"x"}}]}}`)
	steps, err := tomorrowio.ParseForecast(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || !steps[0].ValidAt.Equal(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)) || strings.TrimSpace(dump(steps[0].Values.Map())) != "temperature=-1.5 windGust=null" {
		t.Fatalf("steps %+v", steps)
	}
}
