package simulated

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// strongWind is the embedded default's strong-wind rule.
func strongWind(v weather.Values) bool {
	g, _ := v.Get("windGust")
	s, _ := v.Get("windSpeed")
	return g >= 17.2 || s >= 13.9
}

// TestProvider_ForecastShowsTheNextFrontFirst: with the embedded default's
// simulated weather (fronts every 4 min for 100 s) and a forecast every 30
// s, the forecast issued 30 s after start already shows the first front of
// every location whose front starts after it, before that front makes the
// realtime strong-wind rule fire, with an onset within two steps of it.
func TestProvider_ForecastShowsTheNextFrontFirst(t *testing.T) {
	p := defaultProvider(42)
	issued := epoch.Add(30 * time.Second)
	step := p.ForecastStep()
	if step != 25*time.Second {
		t.Fatalf("step %s, want 25s (a quarter of the front's 100 s)", step)
	}
	shown := 0
	for _, loc := range locations[1:] { // sao-paulo's front starts at 10 s, before the forecast
		var fires time.Time
		for at := epoch; at.Before(epoch.Add(5 * time.Minute)); at = at.Add(time.Second) {
			if strongWind(p.Values(loc, at)) {
				fires = at
				break
			}
		}
		if fires.IsZero() {
			t.Fatalf("%s: no realtime strong wind in the first 5 minutes", loc.ID)
		}
		f, err := p.FetchForecast(context.Background(), loc, issued, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CheckContract(issued, time.Hour); err != nil {
			t.Fatal(err)
		}
		if len(f.Steps) != MaxForecastSteps || f.Steps[0].ValidAt != issued.Truncate(step).Add(step) && f.Steps[0].ValidAt != issued {
			t.Fatalf("%s: %d steps from %s", loc.ID, len(f.Steps), f.Steps[0].ValidAt)
		}
		var onset time.Time
		for _, s := range f.Steps {
			if strongWind(s.Values) {
				onset = s.ValidAt
				break
			}
		}
		if onset.IsZero() {
			t.Errorf("%s: the forecast issued at +30s does not show the front that fires at +%s", loc.ID, fires.Sub(epoch))
			continue
		}
		// The steps are 25 s apart and the front may be forecast up to 10 s
		// late: the onset is within two steps of the real one.
		if !issued.Before(fires) || onset.Sub(fires).Abs() > 2*step {
			t.Errorf("%s: forecast onset +%s, realtime fires at +%s (issued +30s)", loc.ID, onset.Sub(epoch), fires.Sub(epoch))
		}
		shown++
	}
	if shown != 4 {
		t.Errorf("%d of 4 fronts forecast", shown)
	}
}

// TestProvider_ForecastErrorGrowsWithLead: the first step of a forecast is
// the provider's own weather; further out, forecasts are wrong by more,
// and forecasts of one time issued at different times differ.
func TestProvider_ForecastErrorGrowsWithLead(t *testing.T) {
	p := defaultProvider(7)
	loc := locations[3]
	errAt := func(lead int) float64 {
		var sum float64
		for run := range 40 {
			issued := epoch.Add(time.Duration(run) * 30 * time.Second).Truncate(p.ForecastStep())
			f, err := p.FetchForecast(context.Background(), loc, issued, 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			s := f.Steps[lead]
			fc, _ := s.Values.Get("temperature")
			now := p.Values(loc, s.ValidAt)
			real, _ := now.Get("temperature")
			sum += math.Abs(fc - real)
		}
		return sum / 40
	}
	if e := errAt(0); e != 0 {
		t.Errorf("mean temperature error at lead 0 = %.3f, want 0", e)
	}
	near, far := errAt(1), errAt(90)
	if !(near < 0.2 && far > 1 && far > 5*near) {
		t.Errorf("mean temperature error: %.3f °C one step ahead, %.3f °C 90 steps ahead; want it to grow", near, far)
	}

	valid := epoch.Add(20 * time.Minute)
	a, _ := p.FetchForecast(context.Background(), loc, epoch, time.Hour)
	b, _ := p.FetchForecast(context.Background(), loc, epoch.Add(5*time.Minute), time.Hour)
	ta, tb := tempAt(a, valid), tempAt(b, valid)
	if math.IsNaN(ta) || math.IsNaN(tb) || ta == tb {
		t.Errorf("forecasts of %s issued 5 min apart: %.2f and %.2f, want them to differ", valid, ta, tb)
	}
}

func tempAt(f weather.Forecast, at time.Time) float64 {
	for _, s := range f.Steps {
		if s.ValidAt.Equal(at) {
			v, _ := s.Values.Get("temperature")
			return v
		}
	}
	return math.NaN()
}

// TestProvider_ForecastHourlySteps: with fronts hours apart the steps are
// hourly, and the horizon bounds them.
func TestProvider_ForecastHourlySteps(t *testing.T) {
	p := mustNew(Config{Seed: 1, FrontEvery: 24 * time.Hour, FrontDuration: 6 * time.Hour}, time.Now)
	issued := epoch.Add(10 * time.Minute)
	f, err := p.FetchForecast(context.Background(), locations[0], issued, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Steps) != 24 || !f.Steps[0].ValidAt.Equal(epoch.Add(time.Hour)) || !f.Steps[23].ValidAt.Equal(epoch.Add(24*time.Hour)) {
		t.Errorf("%d steps, %s .. %s", len(f.Steps), f.Steps[0].ValidAt, f.Steps[len(f.Steps)-1].ValidAt)
	}
}
