package tomorrowio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
	"github.com/weatherd/weatherd/pkg/secret"
	"github.com/weatherd/weatherd/pkg/weather"
)

const apiKey = "tk_SUPERSECRET_0123456789"

var toronto = weather.Location{ID: "toronto", Name: "Toronto", Lat: 43.6534, Lon: -79.3839}

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
		obs, err := tomorrowio.Parse(fixture(t, "realtime.json"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*float64{
			"cloudBase": f(0.2), "cloudCeiling": nil, "cloudCover": f(100), "dewPoint": f(0.88),
			"freezingRainIntensity": f(0), "humidity": f(95), "precipitationProbability": f(0),
			"pressureSurfaceLevel": f(1021.46), "rainIntensity": f(0), "sleetIntensity": f(0), "snowIntensity": f(0),
			"temperature": f(1.63), "temperatureApparent": f(-0.69), "uvHealthConcern": f(0), "uvIndex": f(0),
			"visibility": f(8.63), "weatherCode": f(1001), "windDirection": f(225.13), "windGust": f(4.19), "windSpeed": f(2.13),
		}
		if !obs.Time.Equal(time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC)) {
			t.Fatalf("time %v", obs.Time)
		}
		if !reflect.DeepEqual(obs.Values.Map(), want) {
			t.Fatalf("values\n got %v\nwant %v", dump(obs.Values.Map()), dump(want))
		}
		if obs.Warnings != nil {
			t.Fatalf("warnings %s", obs.Warnings)
		}
	})
	t.Run("OddValues", func(t *testing.T) {
		obs, err := tomorrowio.Parse(fixture(t, "realtime_odd_values.json"))
		if err != nil {
			t.Fatal(err)
		}
		// Nulls kept, unknown numeric kept, strings/bools/objects/arrays and
		// names weather.Decode would refuse skipped.
		want := map[string]*float64{"cloudBase": nil, "cloudCeiling": nil, "temperature": f(-12.5), "humidity": f(40),
			"pressureSeaLevel": f(1032.1), "ozoneLevel": f(31)}
		if !reflect.DeepEqual(obs.Values.Map(), want) {
			t.Fatalf("values\n got %v\nwant %v", dump(obs.Values.Map()), dump(want))
		}
	})
	t.Run("MissingFields", func(t *testing.T) {
		obs, err := tomorrowio.Parse(fixture(t, "realtime_missing_fields.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(obs.Values.Map(), map[string]*float64{"temperature": f(24.1)}) {
			t.Fatalf("values %v", dump(obs.Values.Map()))
		}
	})
	t.Run("Warnings", func(t *testing.T) {
		obs, err := tomorrowio.Parse(fixture(t, "realtime_warnings.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(obs.Warnings), `"code":246009`) {
			t.Fatalf("warnings %s", obs.Warnings)
		}
	})
	for _, tc := range []struct{ file, want string }{
		{"realtime_no_time.json", "bad response: realtime response has no data.time"},
		{"realtime_bad_time.json", `bad response: realtime data.time "26/11/2026 23:40" is not an RFC 3339 time`},
		{"realtime_no_data.json", "bad response: realtime response has no data object"},
		{"realtime_truncated.json", "bad response: realtime response is not JSON of the expected shape: unexpected end of JSON input"},
		{"error_401.json", "bad response: realtime response has no data object"},
	} {
		t.Run("Bad/"+tc.file, func(t *testing.T) {
			_, err := tomorrowio.Parse(fixture(t, tc.file))
			if !errors.Is(err, provider.ErrBadResponse) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestToMetric(t *testing.T) {
	obs, err := tomorrowio.Parse(fixture(t, "realtime_imperial.json"))
	if err != nil {
		t.Fatal(err)
	}
	tomorrowio.ToMetric(&obs.Values)
	want := map[string]*float64{
		"cloudBase": f(0.19), "cloudCeiling": nil, "cloudCover": f(100), "dewPoint": f(0.88),
		"freezingRainIntensity": f(0), "humidity": f(95), "precipitationProbability": f(0),
		"pressureSurfaceLevel": f(1021.34), "rainIntensity": f(2.54), "sleetIntensity": f(0), "snowIntensity": f(0),
		"temperature": f(1.63), "temperatureApparent": f(-0.69), "uvHealthConcern": f(0), "uvIndex": f(0),
		"visibility": f(8.63), "weatherCode": f(1001), "windDirection": f(225.13), "windGust": f(4.19), "windSpeed": f(2.13),
	}
	if !reflect.DeepEqual(obs.Values.Map(), want) {
		t.Fatalf("values\n got %v\nwant %v", dump(obs.Values.Map()), dump(want))
	}
}

func dump(v map[string]*float64) string {
	var b strings.Builder
	for _, k := range sortedKeys(v) {
		if v[k] == nil {
			fmt.Fprintf(&b, "%s=null ", k)
		} else {
			fmt.Fprintf(&b, "%s=%v ", k, *v[k])
		}
	}
	return b.String()
}

func sortedKeys(v map[string]*float64) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// fakeAPI is a Tomorrow.io stand-in that counts requests and answers with
// whatever respond says.
type fakeAPI struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	respond  func(w http.ResponseWriter, r *http.Request)
	lastURL  string
	lastKey  string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	a := &fakeAPI{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		a.mu.Lock()
		a.lastURL, a.lastKey = r.URL.String(), r.Header.Get("apikey")
		respond := a.respond
		a.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAPI) set(respond func(w http.ResponseWriter, r *http.Request)) {
	a.mu.Lock()
	a.respond = respond
	a.mu.Unlock()
}

func reply(status int, body []byte, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

// clock is a fake clock whose sleep advances it and records the delays.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func (c *clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type harness struct {
	api   *fakeAPI
	clock *clock
	reg   *prometheus.Registry
	logs  *bytes.Buffer
	c     *tomorrowio.Client
}

func defaultConfig(base string) tomorrowio.Config {
	return tomorrowio.Config{
		APIKey:       apiKey,
		BaseURL:      base,
		Units:        "metric",
		MaxBodyBytes: 1 << 20,
		Attempts:     3,
		Limits:       httpx.Limits{PerSecond: 3, PerHour: 25, PerDay: 500},
	}
}

func newHarness(t *testing.T, edit func(*tomorrowio.Config)) *harness {
	t.Helper()
	h := &harness{api: newFakeAPI(t), reg: prometheus.NewRegistry(), logs: &bytes.Buffer{},
		clock: &clock{t: time.Date(2026, 11, 26, 23, 41, 2, 123e6, time.UTC)}}
	cfg := defaultConfig(h.api.srv.URL + "/v4/")
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := tomorrowio.New(cfg, 200*time.Millisecond, h.reg, log,
		httpx.WithClock(h.clock.Now), httpx.WithSleep(h.clock.Sleep))
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

func (h *harness) fetch(t *testing.T) (weather.Reading, error) {
	t.Helper()
	return h.c.Fetch(context.Background(), toronto)
}

func TestClient_Fetch(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(200, fixture(t, "realtime.json"),
			"X-RateLimit-Remaining-Second", "2", "X-RateLimit-Remaining-Hour", "20", "X-RateLimit-Remaining-Day", "480"))
		r, err := h.fetch(t)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := h.api.lastURL, "/v4/weather/realtime?location=43.6534%2C-79.3839&units=metric"; got != want {
			t.Fatalf("url %q, want %q", got, want)
		}
		if h.api.lastKey != apiKey {
			t.Fatalf("apikey header %q", h.api.lastKey)
		}
		if r.EventID != "toronto/2026-11-26T23:40:00Z" || r.Provider != "tomorrowio" || r.Units != "metric" ||
			!r.IngestedAt.Equal(h.clock.Now()) || r.Values.Len() != 20 || !r.Values.Has("cloudCeiling") || r.Values.Map()["cloudCeiling"] != nil {
			t.Fatalf("reading %+v", r)
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		for window, want := range map[string]float64{"second": 2, "hour": 20, "day": 480} {
			if got := testutil.ToFloat64(gauge(h.reg, t, window)); got != want {
				t.Errorf("remaining %s = %v, want %v", window, got, want)
			}
		}
	})
	t.Run("Imperial", func(t *testing.T) {
		h := newHarness(t, func(c *tomorrowio.Config) { c.Units = "imperial" })
		h.api.set(reply(200, fixture(t, "realtime_imperial.json")))
		r, err := h.fetch(t)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(h.api.lastURL, "units=imperial") {
			t.Fatalf("url %q", h.api.lastURL)
		}
		if v, _ := r.Values.Get("windGust"); v != 4.19 {
			t.Fatalf("windGust %v, want 4.19 m/s", v)
		}
		if r.Units != "metric" {
			t.Fatalf("units %q", r.Units)
		}
	})
	t.Run("WarningsLoggedAtDebug", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(200, fixture(t, "realtime_warnings.json")))
		if _, err := h.fetch(t); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h.logs.String(), `"level":"DEBUG","msg":"API warnings"`) || !strings.Contains(h.logs.String(), "246009") {
			t.Fatalf("logs: %s", h.logs)
		}
	})
	t.Run("Unauthorized", func(t *testing.T) {
		for _, status := range []int{401, 403} {
			h := newHarness(t, nil)
			h.api.set(reply(status, fixture(t, "error_401.json")))
			_, err := h.fetch(t)
			want := fmt.Sprintf("tomorrowio toronto: unauthorized: GET /weather/realtime: HTTP %d: Invalid Auth (401001): The method requires authentication but it was not presented or is invalid. (check the API key)", status)
			if !errors.Is(err, provider.ErrUnauthorized) || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
			if n := h.api.requests.Load(); n != 1 {
				t.Fatalf("%d requests, want 1 (no retry)", n)
			}
		}
	})
	t.Run("BadRequest", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(400, fixture(t, "error_400.json")))
		_, err := h.fetch(t)
		if !errors.Is(err, provider.ErrBadResponse) || !strings.Contains(err.Error(), "HTTP 400: Invalid Query Parameters (400001): The entries provided") {
			t.Fatalf("got %v", err)
		}
		if n := h.api.requests.Load(); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(200, fixture(t, "realtime_truncated.json")))
		_, err := h.fetch(t)
		if !errors.Is(err, provider.ErrBadResponse) || provider.Outcome(err) != "bad_response" {
			t.Fatalf("got %v", err)
		}
		if n := h.api.requests.Load(); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("HugeBody", func(t *testing.T) {
		h := newHarness(t, func(c *tomorrowio.Config) { c.MaxBodyBytes = 4096 })
		huge := append([]byte(`{"data":{"time":"2026-11-26T23:40:00Z","values":{"temperature":1,"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
		h.api.set(reply(200, append(huge, `"}}}`...)))
		_, err := h.fetch(t)
		want := "tomorrowio toronto: bad response: GET /weather/realtime: HTTP 200: response body over 4096 bytes"
		if err == nil || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		if n := h.api.requests.Load(); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("ServerErrorRetried", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(503, []byte("upstream down")))
		_, err := h.fetch(t)
		want := "tomorrowio toronto: unavailable: GET /weather/realtime: gave up after 3 attempts: HTTP 503: upstream down"
		if !errors.Is(err, provider.ErrUnavailable) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		if n := h.api.requests.Load(); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
		sleeps := h.clock.Sleeps()
		if len(sleeps) != 2 {
			t.Fatalf("sleeps %v, want 2 backoffs", sleeps)
		}
		for i, base := range []time.Duration{500 * time.Millisecond, time.Second} {
			if sleeps[i] < base/2 || sleeps[i] >= base {
				t.Errorf("backoff %d = %s, want in [%s, %s)", i+1, sleeps[i], base/2, base)
			}
		}
	})
	t.Run("ServerErrorThenOK", func(t *testing.T) {
		h := newHarness(t, nil)
		var n atomic.Int64
		ok := fixture(t, "realtime.json")
		h.api.set(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				reply(500, nil)(w, r)
				return
			}
			reply(200, ok)(w, r)
		})
		if _, err := h.fetch(t); err != nil {
			t.Fatal(err)
		}
		if n := h.api.requests.Load(); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
	t.Run("SlowRetriedThenUnavailable", func(t *testing.T) {
		h := newHarness(t, nil)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		h.api.set(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		_, err := h.fetch(t)
		want := "tomorrowio toronto: unavailable: GET /weather/realtime: gave up after 3 attempts: timed out"
		if !errors.Is(err, provider.ErrUnavailable) || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		if n := h.api.requests.Load(); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
	})
	t.Run("RedirectNotFollowed", func(t *testing.T) {
		var leaked atomic.Int64
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Add(1) }))
		defer other.Close()
		h := newHarness(t, nil)
		h.api.set(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		})
		_, err := h.fetch(t)
		if !errors.Is(err, provider.ErrBadResponse) || !strings.Contains(err.Error(), "HTTP 302") {
			t.Fatalf("got %v", err)
		}
		if leaked.Load() != 0 {
			t.Fatal("the redirect was followed (with the apikey header)")
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(503, nil))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := h.c.Fetch(ctx, toronto)
		if !errors.Is(err, context.Canceled) || provider.Outcome(err) != "timeout" {
			t.Fatalf("got %v", err)
		}
	})
}

func gauge(reg *prometheus.Registry, t *testing.T, window string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "weatherd_poll_ratelimit_remaining" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == "tomorrowio" && labels["window"] == window {
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, func() float64 { return m.GetGauge().GetValue() })
			}
		}
	}
	t.Fatalf("no remaining gauge for window %s", window)
	return nil
}

func TestClient_RateLimits(t *testing.T) {
	t.Run("429WithoutRetryAfterStopsCallsUntilTheHour", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(429, fixture(t, "error_429.json")))
		_, err := h.fetch(t)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || !errors.Is(err, provider.ErrRateLimited) {
			t.Fatalf("got %v", err)
		}
		nextHour := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
		if !rl.RetryAt.Equal(nextHour) {
			t.Fatalf("retry at %v, want %v", rl.RetryAt, nextHour)
		}
		if !strings.Contains(rl.Reason, "HTTP 429: Too Many Calls (429001)") {
			t.Fatalf("reason %q", rl.Reason)
		}
		h.api.set(reply(200, fixture(t, "realtime.json")))
		for i := 0; i < 10; i++ {
			h.clock.Set(time.Date(2026, 11, 26, 23, 42+i*1, 0, 0, time.UTC))
			if _, err := h.fetch(t); !errors.Is(err, provider.ErrRateLimited) {
				t.Fatalf("fetch %d: got %v, want rate limited", i, err)
			}
		}
		if n := h.api.requests.Load(); n != 1 {
			t.Fatalf("%d requests while blocked, want only the first", n)
		}
		h.clock.Set(nextHour)
		if _, err := h.fetch(t); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		if n := h.api.requests.Load(); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
	t.Run("429WithRetryAfter", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(429, fixture(t, "error_429.json"), "Retry-After", "120"))
		_, err := h.fetch(t)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || !rl.RetryAt.Equal(h.clock.Now().Add(120*time.Second)) {
			t.Fatalf("got %v", err)
		}
		h.api.set(reply(200, fixture(t, "realtime.json")))
		h.clock.Set(rl.RetryAt.Add(-10 * time.Second))
		if _, err := h.fetch(t); !errors.Is(err, provider.ErrRateLimited) {
			t.Fatalf("before Retry-After: %v", err)
		}
		h.clock.Set(rl.RetryAt)
		if _, err := h.fetch(t); err != nil {
			t.Fatalf("at Retry-After: %v", err)
		}
		if n := h.api.requests.Load(); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
	t.Run("429RetryAfterCapped", func(t *testing.T) {
		// Ten days would stop polling for ten days: the wait is capped at
		// limits.max_retry_after (default 1h).
		for _, tc := range []struct {
			max, want time.Duration
		}{{0, time.Hour}, {10 * time.Minute, 10 * time.Minute}} {
			h := newHarness(t, func(c *tomorrowio.Config) { c.Limits.MaxRetryAfter = tc.max })
			h.api.set(reply(429, fixture(t, "error_429.json"), "Retry-After", "864000"))
			_, err := h.fetch(t)
			var rl *provider.RateLimitedError
			if !errors.As(err, &rl) || !rl.RetryAt.Equal(h.clock.Now().Add(tc.want)) {
				t.Fatalf("max_retry_after %s: got %v, want a retry at %v", tc.max, err, h.clock.Now().Add(tc.want))
			}
			h.api.set(reply(200, fixture(t, "realtime.json")))
			h.clock.Set(rl.RetryAt)
			if _, err := h.fetch(t); err != nil {
				t.Fatalf("max_retry_after %s: at the cap: %v", tc.max, err)
			}
		}
	})
	t.Run("429DayExhausted", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(429, fixture(t, "error_429.json"), "X-RateLimit-Remaining-Day", "0", "X-RateLimit-Remaining-Hour", "4"))
		_, err := h.fetch(t)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || !rl.RetryAt.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("429NoPlanUsesFloor", func(t *testing.T) {
		h := newHarness(t, func(c *tomorrowio.Config) { c.Limits = httpx.Limits{} })
		h.api.set(reply(429, fixture(t, "error_429.json")))
		_, err := h.fetch(t)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || !rl.RetryAt.Equal(h.clock.Now().Add(httpx.RateLimitFloor)) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("LocalHourBudget", func(t *testing.T) {
		h := newHarness(t, func(c *tomorrowio.Config) { c.Limits = httpx.Limits{PerHour: 25, PerDay: 500} })
		h.api.set(reply(200, fixture(t, "realtime.json")))
		for i := 0; i < 25; i++ {
			if _, err := h.fetch(t); err != nil {
				t.Fatalf("fetch %d: %v", i, err)
			}
		}
		_, err := h.fetch(t)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || rl.Reason != "the plan's 25 calls per hour are used" ||
			!rl.RetryAt.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("got %v", err)
		}
		if n := h.api.requests.Load(); n != 25 {
			t.Fatalf("%d requests, want 25", n)
		}
		if got := testutil.ToFloat64(gauge(h.reg, t, "hour")); got != 0 {
			t.Fatalf("remaining hour %v", got)
		}
	})
	t.Run("APISaysHourUsed", func(t *testing.T) {
		// A restart forgets the local counts; the API's headers restore them.
		h := newHarness(t, nil)
		h.api.set(reply(200, fixture(t, "realtime.json"), "X-RateLimit-Remaining-Hour", "0"))
		if _, err := h.fetch(t); err != nil {
			t.Fatal(err)
		}
		_, err := h.fetch(t)
		var rl *provider.RateLimitedError
		if !errors.As(err, &rl) || rl.Reason != "the API reports no calls left this hour" {
			t.Fatalf("got %v", err)
		}
		if n := h.api.requests.Load(); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("PerSecondWaits", func(t *testing.T) {
		h := newHarness(t, nil)
		h.api.set(reply(200, fixture(t, "realtime.json")))
		for i := 0; i < 4; i++ {
			if _, err := h.fetch(t); err != nil {
				t.Fatalf("fetch %d: %v", i, err)
			}
		}
		// 3/s: the fourth call waited for the next second (877 ms from 23:41:02.123).
		if s := h.clock.Sleeps(); len(s) != 1 || s[0] != 877*time.Millisecond {
			t.Fatalf("sleeps %v", s)
		}
	})
}

func TestClient_SecretNeverLeaks(t *testing.T) {
	var logs bytes.Buffer
	api := newFakeAPI(t)
	echo := []byte(`{"code":401001,"type":"Invalid Auth","message":"The key ` + apiKey + ` is not valid."}`)
	api.set(reply(401, echo))
	reg := prometheus.NewRegistry()
	cfg := defaultConfig(api.srv.URL)
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := tomorrowio.New(cfg, time.Second, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(context.Background(), toronto)
	if !errors.Is(err, provider.ErrUnauthorized) {
		t.Fatalf("got %v", err)
	}
	log.Info("fetch failed", "err", err, "config", cfg, "key", cfg.APIKey)
	for _, status := range []int{429, 500, 400} {
		api.set(reply(status, echo))
		_, err := c.Fetch(context.Background(), toronto)
		log.Warn("fetch failed", "err", err)
		if strings.Contains(err.Error(), apiKey) {
			t.Fatalf("HTTP %d: key in error: %v", status, err)
		}
	}
	mfs, _ := reg.Gather()
	everything := logs.String() + err.Error() + fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg) + fmt.Sprint(mfs)
	if strings.Contains(everything, apiKey) {
		t.Fatalf("key leaked:\n%s", everything)
	}
	if !strings.Contains(err.Error(), "The key <secret> is not valid.") {
		t.Fatalf("error %v: want the echoed key redacted", err)
	}
	if !strings.Contains(api.lastURL, "location=") || strings.Contains(api.lastURL, apiKey) || api.lastKey != apiKey {
		t.Fatalf("url %q, header %q: the key belongs in the apikey header only", api.lastURL, api.lastKey)
	}
}

// TestClient_SecretStraddlingTheCut: an error body is quoted up to 200
// bytes; a key echoed across byte 200 is redacted whole, not cut first and
// left half visible.
func TestClient_SecretStraddlingTheCut(t *testing.T) {
	api := newFakeAPI(t)
	prefix := "Invalid Query (400001): "
	pad := strings.Repeat("x", 190-len(prefix)) // the key starts at byte 190
	api.set(reply(400, []byte(`{"code":400001,"type":"Invalid Query","message":"`+pad+apiKey+` is not a location"}`)))
	c, err := tomorrowio.New(defaultConfig(api.srv.URL), time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(context.Background(), toronto)
	want := "tomorrowio toronto: bad response: GET /weather/realtime: HTTP 400: " + prefix + pad + "<secret> i…"
	if !errors.Is(err, provider.ErrBadResponse) || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), apiKey[:6]) {
		t.Fatalf("part of the key in %v", err)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	api := newFakeAPI(t)
	api.set(reply(200, fixture(t, "realtime.json")))
	log := slog.New(slog.DiscardHandler)

	cfg := defaultConfig(api.srv.URL)
	cfg.APIKey, cfg.APIKeyFile = "", keyFile
	c, err := tomorrowio.New(cfg, time.Second, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), toronto); err != nil || api.lastKey != apiKey {
		t.Fatalf("key file: %v, sent %q", err, api.lastKey)
	}
	for _, tc := range []struct {
		key  secret.String
		file string
		want string
	}{
		{"", "", "tomorrowio: no API key (set poller.tomorrowio.api_key or api_key_file)"},
		{"", empty, "tomorrowio: api_key_file " + empty + " is empty"},
		{"", filepath.Join(dir, "missing"), "tomorrowio: read api_key_file: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		cfg.APIKey, cfg.APIKeyFile = tc.key, tc.file
		if _, err := tomorrowio.New(cfg, time.Second, prometheus.NewRegistry(), log); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	body := fixture(b, "realtime.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tomorrowio.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}
