package openmeteo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/provider/openmeteo"
	"github.com/weatherd/weatherd/pkg/weather"
)

// stepLine is a step as "time name=value ..." in name order.
func stepLine(s weather.ForecastStep) string {
	var parts []string
	for k, v := range s.Values.All() {
		if v == nil {
			parts = append(parts, k+"=null")
		} else {
			parts = append(parts, fmt.Sprintf("%s=%v", k, *v))
		}
	}
	sort.Strings(parts)
	return s.ValidAt.Format(time.RFC3339) + " " + strings.Join(parts, " ")
}

func TestClient_FetchForecast(t *testing.T) {
	var lastQuery string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastQuery = r.URL.Path + "?" + r.URL.RawQuery
		w.Write(body)
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 27, 0, 0, 3, 0, time.UTC)
	c, err := openmeteo.New(openmeteo.Config{BaseURL: srv.URL + "/v1", MaxBodyBytes: 1 << 20, Attempts: 1,
		Limits: httpx.Limits{PerHour: 5000}}, time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler),
		httpx.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	loc := weather.Location{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38}
	issued := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

	t.Run("MissingHours", func(t *testing.T) {
		body = fixture(t, "hourly_missing_hours.json")
		f, err := c.FetchForecast(context.Background(), loc, issued, 3*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.ParseQuery(strings.SplitN(lastQuery, "?", 2)[1])
		if !strings.HasPrefix(lastQuery, "/v1/forecast?") || q.Get("hourly") != "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,rain,snowfall,weather_code,cloud_cover,pressure_msl,surface_pressure,wind_speed_10m,wind_direction_10m,wind_gusts_10m" ||
			q.Get("forecast_hours") != "4" || q.Get("timezone") != "UTC" || q.Get("wind_speed_unit") != "ms" || q.Has("current") {
			t.Errorf("request %s", lastQuery)
		}
		var got []string
		for _, s := range f.Steps {
			got = append(got, stepLine(s))
		}
		// 23:00 is before the issue time and 04:00 past the horizon; 02:00
		// is missing from hourly.time; 01:00 has a null temperature; the
		// gust array stops after 01:00; gusts come in km/h; snow cm turn
		// into water mm; WMO codes into Tomorrow.io's.
		want := []string{
			"2026-11-27T00:00:00Z humidity=96 precipitationIntensity=0 rainIntensity=0 snowIntensity=0 temperature=1.2 weatherCode=4200 windGust=15 windSpeed=5.1",
			"2026-11-27T01:00:00Z humidity=97 precipitationIntensity=1.2 rainIntensity=0.5 snowIntensity=0.7 temperature=null weatherCode=5000 windGust=20 windSpeed=8.3",
			"2026-11-27T03:00:00Z humidity=98 precipitationIntensity=0 rainIntensity=0 snowIntensity=0 temperature=-0.4 weatherCode=1000 windGust=null windSpeed=3.3",
		}
		if !slices.Equal(got, want) {
			t.Errorf("steps\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if f.EventID != "toronto/forecast/2026-11-27T00:00:00Z" || f.Provider != "openmeteo" || !f.IngestedAt.Equal(now) {
			t.Errorf("forecast %+v", f)
		}
		if err := f.CheckContract(now, time.Hour); err != nil {
			t.Error(err)
		}
	})

	for name, tc := range map[string]struct{ body, want string }{
		"NotJSON":    {`<html>`, "forecast response is not JSON"},
		"APIError":   {`{"error":true,"reason":"Cannot initialize WeatherVariable from invalid String value tempeture_2m"}`, "API error: Cannot initialize"},
		"NoTime":     {`{"hourly":{"temperature_2m":[1]}}`, "no hourly.time"},
		"BadTime":    {`{"hourly":{"time":["27.11.2026 00:00"]}}`, `hourly.time[0] "27.11.2026 00:00" is not of the form`},
		"NoneAhead":  {`{"hourly":{"time":["2026-11-26T20:00"],"temperature_2m":[1]}}`, "no hourly step between 2026-11-27T00:00:00Z and 2026-11-27T03:00:00Z"},
		"TooMany":    {`{"hourly":{"time":[` + strings.Repeat(`"2026-11-27T00:00",`, weather.MaxForecastSteps) + `"2026-11-27T00:00"]}}`, "385 hours, want at most 384"},
		"NotNumbers": {`{"hourly":{"time":["2026-11-27T01:00"],"temperature_2m":"warm"}}`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			body = []byte(tc.body)
			f, err := c.FetchForecast(context.Background(), loc, issued, 3*time.Hour)
			if tc.want == "" {
				// A variable that is not an array is skipped, not fatal.
				if err != nil || len(f.Steps) != 1 || f.Steps[0].Values.Len() != 0 {
					t.Fatalf("forecast %+v, err %v", f, err)
				}
				return
			}
			if !errors.Is(err, provider.ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a bad response containing %q", err, tc.want)
			}
		})
	}
}
