package simulated

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

var locations = []weather.Location{
	{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63},
	{ID: "rio-de-janeiro", Name: "Rio de Janeiro", Lat: -22.91, Lon: -43.17},
	{ID: "curitiba", Name: "Curitiba", Lat: -25.43, Lon: -49.27},
	{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38},
	{ID: "lisbon", Name: "Lisbon", Lat: 38.72, Lon: -9.14},
}

var epoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func defaultProvider(seed int64) *Provider {
	return mustNew(Config{Seed: seed, FrontEvery: 4 * time.Minute, FrontDuration: 100 * time.Second}, time.Now)
}

func mustNew(cfg Config, now func() time.Time) *Provider {
	p, err := New(cfg, epoch, locations, now)
	if err != nil {
		panic(err)
	}
	return p
}

func TestProvider_Deterministic(t *testing.T) {
	a, b, c := defaultProvider(42), defaultProvider(42), defaultProvider(7)
	at := epoch.Add(37 * time.Minute)
	if !reflect.DeepEqual(a.Values(locations[0], at), b.Values(locations[0], at)) {
		t.Error("same seed gave different weather")
	}
	if reflect.DeepEqual(a.Values(locations[0], at), c.Values(locations[0], at)) {
		t.Error("different seeds gave the same weather")
	}
}

func TestProvider_Fetch(t *testing.T) {
	now := epoch.Add(90*time.Second + 400*time.Millisecond)
	p := mustNew(Config{Seed: 42, FrontEvery: 4 * time.Minute, FrontDuration: 2 * time.Minute}, func() time.Time { return now })
	r, err := p.Fetch(context.Background(), locations[3])
	if err != nil {
		t.Fatal(err)
	}
	if r.EventID != "toronto/2026-11-27T12:01:30Z" || r.Provider != "simulated" || r.Units != "metric" || r.Location.Name != "Toronto" {
		t.Errorf("reading = %+v", r)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("simulated reading is not a valid event: %v", err)
	}
	for _, name := range []string{"temperature", "humidity", "windSpeed", "windGust", "rainIntensity", "weatherCode", "pressureSurfaceLevel"} {
		if _, ok := r.Values.Get(name); !ok {
			t.Errorf("value %s missing", name)
		}
	}
}

// TestProvider_DailyCycle: afternoons are warmer than dawns, on local solar time.
func TestProvider_DailyCycle(t *testing.T) {
	p := defaultProvider(42)
	lisbon := locations[4] // about UTC
	for day := range 5 {
		base := time.Date(2026, 6, 1+day, 0, 0, 0, 0, time.UTC).Add(10 * 24 * time.Hour)
		dawnVals, afternoonVals := p.Values(lisbon, base.Add(6*time.Hour+36*time.Minute)), p.Values(lisbon, base.Add(15*time.Hour+36*time.Minute))
		dawn, _ := dawnVals.Get("temperature")
		afternoon, _ := afternoonVals.Get("temperature")
		if afternoon-dawn < 4 {
			t.Errorf("day %d: 15:00 %.1f°C vs 06:00 %.1f°C: want a daily cycle of several degrees", day, afternoon, dawn)
		}
	}
}

// TestProvider_FrontsFireTheDefaultRules: with the embedded default, the first
// front brings gusts and heavy rain past the default rules' thresholds within
// the first minute, and conditions clear again after it passes.
func TestProvider_FrontsFireTheDefaultRules(t *testing.T) {
	p := defaultProvider(42)
	first := locations[0]
	var windAt, rainAt, clearAt time.Time
	for s := 0; s <= 4*60; s += 5 {
		at := epoch.Add(time.Duration(s) * time.Second)
		v := p.Values(first, at)
		gust, _ := v.Get("windGust")
		wind, _ := v.Get("windSpeed")
		rain, _ := v.Get("rainIntensity")
		if windAt.IsZero() && (gust >= 17.2 || wind >= 13.9) {
			windAt = at
		}
		if rainAt.IsZero() && rain >= 7.6 {
			rainAt = at
		}
		if !windAt.IsZero() && clearAt.IsZero() && gust < 14 && wind < 11 && rain < 2.5 {
			clearAt = at
		}
	}
	if windAt.IsZero() || windAt.Sub(epoch) > time.Minute {
		t.Errorf("strong wind first at %v after start, want within a minute", windAt.Sub(epoch))
	}
	if rainAt.IsZero() || rainAt.Sub(epoch) > time.Minute {
		t.Errorf("heavy rain first at %v after start, want within a minute", rainAt.Sub(epoch))
	}
	if clearAt.IsZero() || clearAt.Sub(epoch) > 3*time.Minute {
		t.Errorf("conditions cleared at %v after start, want within three minutes", clearAt.Sub(epoch))
	}
	// Fronts are staggered: the last location is still calm in the first minute.
	for s := 0; s <= 60; s += 5 {
		vals := p.Values(locations[4], epoch.Add(time.Duration(s)*time.Second))
		if g, _ := vals.Get("windGust"); g >= 17.2 {
			t.Fatalf("lisbon gusts %.1f at +%ds: fronts are not staggered", g, s)
		}
	}
}

// TestNew_NeedsValidConfig: New takes the fronts as configured, with no
// defaults of its own (config.yaml holds them).
func TestNew_NeedsValidConfig(t *testing.T) {
	_, err := New(Config{Seed: 1}, epoch, locations, time.Now)
	want := "simulated: poller.simulated.front_every: got 0s, want a positive duration\npoller.simulated.front_duration: got 0s, want a positive duration"
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v\nwant %s", err, want)
	}
}
