package openmeteo_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/provider/openmeteo"
	"github.com/weatherd/weatherd/pkg/weather"
)

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func f(x float64) *float64 { return &x }

func TestParse(t *testing.T) {
	t.Run("Full", func(t *testing.T) {
		obs, err := openmeteo.Parse(fixture(t, "forecast.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Time.Equal(time.Date(2026, 11, 26, 23, 45, 0, 0, time.UTC)) {
			t.Fatalf("time %v", obs.Time)
		}
		want := map[string]*float64{
			"temperature": f(1.6), "humidity": f(95), "temperatureApparent": f(-0.7),
			// 0.3 mm and 0.1 mm over 900 s → 1.2 and 0.4 mm/h.
			"precipitationIntensity": f(1.2), "rainIntensity": f(0.4),
			// 0.14 cm of snow = 0.2 mm water over 900 s → 0.8 mm/h.
			"snowIntensity": f(0.8),
			"weatherCode":   f(5000), // WMO 73 moderate snow → Snow
			"cloudCover":    f(100), "pressureSeaLevel": f(1024.3), "pressureSurfaceLevel": f(1013.2),
			"windSpeed": f(2.1), "windDirection": f(225), "windGust": f(4.2),
		}
		if !reflect.DeepEqual(obs.Values.Map(), want) {
			t.Fatalf("values\n got %v\nwant %v", dump(obs.Values.Map()), dump(want))
		}
		if obs.Skipped != nil {
			t.Fatalf("skipped %q", obs.Skipped)
		}
	})
	t.Run("Nulls", func(t *testing.T) {
		obs, err := openmeteo.Parse(fixture(t, "forecast_nulls.json"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*float64{"temperature": f(24.1), "windGust": nil, "weatherCode": nil}
		if !reflect.DeepEqual(obs.Values.Map(), want) {
			t.Fatalf("values\n got %v\nwant %v", dump(obs.Values.Map()), dump(want))
		}
	})
	t.Run("OtherUnitsAndOffset", func(t *testing.T) {
		obs, err := openmeteo.Parse(fixture(t, "forecast_other_units.json"))
		if err != nil {
			t.Fatal(err)
		}
		// 18:45 at UTC-5 is 23:45 UTC.
		if !obs.Time.Equal(time.Date(2026, 11, 26, 23, 45, 0, 0, time.UTC)) {
			t.Fatalf("time %v", obs.Time)
		}
		// 34.9 °F → 1.61 °C; 0.1 inch over 3600 s → 2.54 mm/h; 7.2 km/h → 2 m/s.
		want := map[string]*float64{"temperature": f(1.61), "precipitationIntensity": f(2.54), "windSpeed": f(2)}
		if !reflect.DeepEqual(obs.Values.Map(), want) {
			t.Fatalf("values\n got %v\nwant %v", dump(obs.Values.Map()), dump(want))
		}
		if want := []string{`current_units.wind_gusts_10m is "furlong/fortnight", want "m/s"`}; !reflect.DeepEqual(obs.Skipped, want) {
			t.Fatalf("skipped %q", obs.Skipped)
		}
	})
	for _, tc := range []struct{ file, want string }{
		{"forecast_no_time.json", "bad response: forecast response has no current.time"},
		{"error_400.json", "bad response: API error: Latitude must be in range of -90 to 90°. Given: 91.0."},
		{"not_json.html", "bad response: forecast response is not JSON of the expected shape: invalid character '<' looking for beginning of value"},
	} {
		t.Run("Bad/"+tc.file, func(t *testing.T) {
			_, err := openmeteo.Parse(fixture(t, tc.file))
			if !errors.Is(err, provider.ErrBadResponse) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWeatherCode(t *testing.T) {
	for wmo, want := range map[int]int{0: 1000, 1: 1100, 2: 1101, 3: 1001, 45: 2000, 48: 2000, 51: 4000, 55: 4000,
		56: 6000, 61: 4200, 63: 4001, 65: 4201, 66: 6200, 67: 6201, 71: 5100, 73: 5000, 75: 5101, 77: 5001,
		80: 4200, 81: 4001, 82: 4201, 85: 5100, 86: 5101, 95: 8000, 96: 8000, 99: 8000, 42: 0} {
		if got := openmeteo.WeatherCode(wmo); got != want {
			t.Errorf("WMO %d → %d, want %d", wmo, got, want)
		}
	}
}

func dump(v map[string]*float64) map[string]any {
	out := map[string]any{}
	for k, p := range v {
		if p == nil {
			out[k] = nil
		} else {
			out[k] = *p
		}
	}
	return out
}

func TestClient_Fetch(t *testing.T) {
	var requests atomic.Int64
	var lastQuery atomic.Value
	var respond atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		lastQuery.Store(r.URL.Path + "?" + r.URL.RawQuery)
		respond.Load().(http.HandlerFunc)(w, r)
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 26, 23, 47, 3, 0, time.UTC)
	c, err := openmeteo.New(openmeteo.Config{
		BaseURL: srv.URL + "/v1", MaxBodyBytes: 1 << 20, Attempts: 3,
		Limits: httpx.Limits{PerMinute: 600, PerHour: 5000, PerDay: 10000},
	}, time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler),
		httpx.WithClock(func() time.Time { return now }),
		httpx.WithSleep(func(ctx context.Context, d time.Duration) error { return ctx.Err() }))
	if err != nil {
		t.Fatal(err)
	}
	loc := weather.Location{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38}

	t.Run("OK", func(t *testing.T) {
		body := fixture(t, "forecast.json")
		respond.Store(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
		r, err := c.Fetch(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.ParseQuery(strings.SplitN(lastQuery.Load().(string), "?", 2)[1])
		want := url.Values{
			"latitude": {"43.65"}, "longitude": {"-79.38"}, "wind_speed_unit": {"ms"}, "timezone": {"UTC"},
			"current": {"temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,rain,snowfall,weather_code,cloud_cover,pressure_msl,surface_pressure,wind_speed_10m,wind_direction_10m,wind_gusts_10m"},
		}
		if !strings.HasPrefix(lastQuery.Load().(string), "/v1/forecast?") || !reflect.DeepEqual(q, want) {
			t.Fatalf("query %s", lastQuery.Load())
		}
		if r.EventID != "toronto/2026-11-26T23:45:00Z" || r.Provider != "openmeteo" || !r.IngestedAt.Equal(now) || r.Values.Len() != 13 {
			t.Fatalf("reading %+v", r)
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrorBody", func(t *testing.T) {
		before := requests.Load()
		body := fixture(t, "error_400.json")
		respond.Store(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			w.Write(body)
		}))
		_, err := c.Fetch(context.Background(), loc)
		want := "openmeteo toronto: bad response: GET /forecast: HTTP 400: Latitude must be in range of -90 to 90°. Given: 91.0."
		if !errors.Is(err, provider.ErrBadResponse) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		if n := requests.Load() - before; n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("429StopsCallsUntilTheHour", func(t *testing.T) {
		before := requests.Load()
		respond.Store(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			w.Write([]byte(`{"error":true,"reason":"Hourly API request limit exceeded. Please try again in the next hour."}`))
		}))
		for i := 0; i < 5; i++ {
			_, err := c.Fetch(context.Background(), loc)
			var rl *provider.RateLimitedError
			if !errors.As(err, &rl) || !rl.RetryAt.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("fetch %d: got %v", i, err)
			}
		}
		if n := requests.Load() - before; n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
}
