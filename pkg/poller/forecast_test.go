package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// scriptedForecaster answers every location with a two-step forecast, or
// with err for the locations it names.
type scriptedForecaster struct {
	mu    sync.Mutex
	calls []string // "<location> <issued_at> <horizon>"
	fail  map[string]error
}

func (s *scriptedForecaster) Name() string { return "scripted" }

func (s *scriptedForecaster) FetchForecast(_ context.Context, loc weather.Location, issuedAt time.Time, horizon time.Duration) (weather.Forecast, error) {
	s.mu.Lock()
	s.calls = append(s.calls, fmt.Sprintf("%s %s %s", loc.ID, issuedAt.Format(time.RFC3339), horizon))
	err := s.fail[loc.ID]
	s.mu.Unlock()
	if err != nil {
		return weather.Forecast{}, err
	}
	v := weather.Values{}
	v.Set("temperature", 1)
	steps := []weather.ForecastStep{{ValidAt: issuedAt.Add(time.Hour), Values: v}, {ValidAt: issuedAt.Add(2 * time.Hour), Values: v}}
	return weather.NewForecast(loc, "scripted", issuedAt, issuedAt, steps), nil
}

func TestForecastPoller_OneForecastPerLocationPerTick(t *testing.T) {
	prov := &scriptedForecaster{fail: map[string]error{"loc-02": fmt.Errorf("%w: 429", provider.ErrRateLimited)}}
	out := &recorder{}
	cfg := testConfig("@every 5s")
	cfg.Forecast = ForecastConfig{Enabled: true, Schedule: "0 * * * *", Horizon: 24 * time.Hour}
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	p, err := NewForecast(cfg, locs(3), prov, out, NewMetrics(reg), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p.tick(context.Background(), tick)

	if out.count() != 2 {
		t.Fatalf("produced %d forecasts, want 2", out.count())
	}
	for i, key := range out.keys {
		f, err := weather.DecodeForecast(out.data[i])
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if f.Location.ID != key || !f.IssuedAt.Equal(tick) || f.EventID != key+"/forecast/2026-11-27T10:00:00Z" {
			t.Errorf("record %d: key %q, forecast %s issued %s", i, key, f.EventID, f.IssuedAt)
		}
	}
	prov.mu.Lock()
	calls := strings.Join(prov.calls, ",")
	prov.mu.Unlock()
	for _, id := range []string{"loc-00", "loc-01", "loc-02"} {
		if !strings.Contains(calls, id+" 2026-11-27T10:00:00Z 24h0m0s") {
			t.Errorf("calls %s: none for %s issued at the tick with the horizon", calls, id)
		}
	}
	m := p.m.requests
	if ok, rl := testutil.ToFloat64(m.WithLabelValues("ok")), testutil.ToFloat64(m.WithLabelValues("rate_limited")); ok != 2 || rl != 1 {
		t.Errorf("weatherd_forecast_requests_total ok=%v rate_limited=%v, want 2 and 1", ok, rl)
	}
	if !strings.Contains(logs.String(), `msg="forecast poll" component=forecast-poller provider=scripted tick=2026-11-27T10:00:00Z locations=3`) ||
		!strings.Contains(logs.String(), `outcome=rate_limited count=1 first="loc-02: rate limited: 429"`) {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// TestForecastPoller_BufferFull: a fetched forecast the full stream buffer
// refuses is put again, with backoff, until the buffer takes it, and given
// up as buffer_full at the next schedule time; the API is asked once.
func TestForecastPoller_BufferFull(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		out     *recorder
		outcome string
	}{{"refused three times", &recorder{refuse: 3}, "ok"}, {"full until the next tick", &recorder{full: true}, "buffer_full"}} {
		t.Run(c.name, func(t *testing.T) {
			clock := at.Add(30 * time.Second)
			var waits []time.Duration
			now := func() time.Time { return clock }
			wait := func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				clock = clock.Add(d)
				return nil
			}
			cfg := testConfig("@every 5s")
			cfg.Forecast = ForecastConfig{Enabled: true, Schedule: "@every 1h", Horizon: time.Hour}
			prov := &scriptedForecaster{}
			p, err := NewForecast(cfg, locs(1), prov, c.out, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler), WithClock(now, wait))
			if err != nil {
				t.Fatal(err)
			}
			outcome, err := p.fetchOne(context.Background(), locs(1)[0], at)
			if outcome != c.outcome || (c.outcome == "ok") != (err == nil) || (err != nil && !errors.Is(err, stream.ErrBufferFull)) {
				t.Fatalf("outcome %s, err %v; want %s", outcome, err, c.outcome)
			}
			if len(prov.calls) != 1 {
				t.Errorf("%d API calls, want 1 (the forecast is put again, not fetched again)", len(prov.calls))
			}
			if got := testutil.ToFloat64(p.m.requests.WithLabelValues(c.outcome)); got != 1 {
				t.Errorf("requests{outcome=%s} = %v, want 1", c.outcome, got)
			}
			switch c.outcome {
			case "ok":
				if len(waits) != 3 || c.out.count() != 1 {
					t.Fatalf("%d waits, %d forecasts put; want 3 and 1", len(waits), c.out.count())
				}
				for i, d := range waits {
					if nominal := fullBackoff.Nominal(i + 1); d < nominal/2 || d >= nominal {
						t.Errorf("wait %d: %s, want within [%s, %s)", i+1, d, nominal/2, nominal)
					}
				}
			default:
				if next := at.Add(time.Hour); clock.After(next) || next.Sub(clock) > fullBackoff.Max {
					t.Errorf("gave up at %s, want within %s before the next tick %s", clock, fullBackoff.Max, next)
				}
			}
		})
	}
}

func TestForecastConfig_Validate(t *testing.T) {
	var ps check.Problems
	ForecastConfig{Enabled: true, Schedule: "0 0 30 2 *", Horizon: 400 * time.Hour}.Validate("poller.forecast", &ps)
	got := ps.Err().Error()
	for _, want := range []string{
		`poller.forecast.schedule: cron spec "0 0 30 2 *" never fires`,
		"poller.forecast.horizon: got 400h0m0s, want more than 0 and at most 384h0m0s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q, want %q", got, want)
		}
	}
	var none check.Problems
	ForecastConfig{Enabled: false, Schedule: "nonsense"}.Validate("poller.forecast", &none)
	if none.Err() != nil {
		t.Errorf("disabled section checked: %v", none.Err())
	}
}

func TestSharedBudgetWarnings(t *testing.T) {
	free := Plan{PerHour: 25, PerDay: 500}
	t.Run("Exceeds", func(t *testing.T) {
		// 5 locations every 15 min (20/hour) plus hourly forecasts (5/hour)
		// fit the hour (25) but not the day (600 > 500).
		ws, err := SharedBudgetWarnings("*/15 * * * *", "0 * * * *", 5, "tomorrowio", free, monday)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"poller: 5 locations × (96 realtime + 24 forecast ticks/day) = 600 calls/day exceeds the tomorrowio plan's 500/day (poller.tomorrowio.limits.per_day); calls beyond it are skipped until 00:00 UTC"}
		if !reflect.DeepEqual(ws, want) {
			t.Fatalf("got\n%q\nwant\n%q", ws, want)
		}
		ws, _ = SharedBudgetWarnings("*/10 * * * *", "0 * * * *", 4, "tomorrowio", free, monday)
		if len(ws) != 2 || ws[1] != "poller: 4 locations × (6 realtime + 1 forecast ticks/hour) = 28 calls/hour exceeds the tomorrowio plan's 25/hour (poller.tomorrowio.limits.per_hour); calls beyond it are skipped until the next hour" {
			t.Fatalf("got %q", ws)
		}
	})
	t.Run("Fits", func(t *testing.T) {
		// The free-plan example of config.yaml: 3 locations every 15 min
		// and hourly forecasts, 15/hour and 360/day.
		ws, err := SharedBudgetWarnings("*/15 * * * *", "0 * * * *", 3, "tomorrowio", free, monday)
		if err != nil || ws != nil {
			t.Fatalf("got %q, %v; want none", ws, err)
		}
	})
	t.Run("ForecastsOff", func(t *testing.T) {
		a, _ := SharedBudgetWarnings("*/5 * * * *", "", 5, "tomorrowio", free, monday)
		b, _ := BudgetWarnings("*/5 * * * *", 5, "tomorrowio", free, monday)
		if !reflect.DeepEqual(a, b) || len(a) != 2 {
			t.Fatalf("got %q, want the realtime-only warnings %q", a, b)
		}
	})
}

// TestForecastPoller_RunFetchesAtStartThenOnSchedule: a forecast at start
// (issued then), then one per schedule time, on a fake clock.
func TestForecastPoller_RunFetchesAtStartThenOnSchedule(t *testing.T) {
	prov := &scriptedForecaster{}
	out := &recorder{}
	cfg := testConfig("@every 5s")
	cfg.Forecast = ForecastConfig{Enabled: true, Schedule: "0 * * * *", Horizon: 6 * time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	clock := time.Date(2026, 11, 27, 10, 20, 30, 500e6, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	wait := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		if d > 0 {
			clock = clock.Add(d)
		}
		if clock.After(time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)) {
			cancel()
		}
		mu.Unlock()
		return ctx.Err()
	}
	p, err := NewForecast(cfg, locs(1), prov, out, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler), WithClock(now, wait))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := "loc-00 2026-11-27T10:20:30Z 6h0m0s,loc-00 2026-11-27T11:00:00Z 6h0m0s,loc-00 2026-11-27T12:00:00Z 6h0m0s"
	if got := strings.Join(prov.calls, ","); got != want {
		t.Errorf("calls\n got %s\nwant %s", got, want)
	}
	if out.count() != 3 {
		t.Errorf("%d forecasts put, want 3", out.count())
	}
}
