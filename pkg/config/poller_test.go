package config

import (
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/provider/httpx"
)

func TestPollerConfig_BudgetWarnings(t *testing.T) {
	monday := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p := c.Poller
	p.Schedule, p.Provider = "@every 5m", "tomorrowio"
	p.TomorrowIO.Limits = httpx.Limits{PerSecond: 3, PerHour: 25, PerDay: 500}
	if ws := p.BudgetWarnings(5, monday); len(ws) != 2 {
		t.Fatalf("got %q, want 2 warnings", ws)
	}
	p.Provider = "simulated"
	if ws := p.BudgetWarnings(5, monday); ws != nil {
		t.Fatalf("simulated: got %q", ws)
	}
	p.Provider, p.Enabled = "tomorrowio", false
	if ws := p.BudgetWarnings(5, monday); ws != nil {
		t.Fatalf("disabled: got %q", ws)
	}
}

// TestPollerConfig_ForecastsShareTheBudget: the free Tomorrow.io plan with
// 3 locations every 15 minutes fits with hourly forecasts (15/hour,
// 360/day) and not with forecasts every 20 minutes (21/hour, 288 + 216 =
// 504/day); with forecasts off the realtime calls alone fit.
func TestPollerConfig_ForecastsShareTheBudget(t *testing.T) {
	monday := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p := c.Poller
	p.Schedule, p.Provider = "*/15 * * * *", "tomorrowio"
	p.TomorrowIO.Limits = httpx.Limits{PerSecond: 3, PerHour: 25, PerDay: 500}
	p.Forecast.Enabled, p.Forecast.Schedule = true, "0 * * * *"
	if ws := p.BudgetWarnings(3, monday); ws != nil {
		t.Fatalf("hourly forecasts: got %q", ws)
	}
	p.Forecast.Schedule = "*/20 * * * *"
	want := "poller: 3 locations × (96 realtime + 72 forecast ticks/day) = 504 calls/day exceeds the tomorrowio plan's 500/day (poller.tomorrowio.limits.per_day); calls beyond it are skipped until 00:00 UTC"
	if ws := p.BudgetWarnings(3, monday); len(ws) != 1 || ws[0] != want {
		t.Fatalf("forecasts every 20 min: got %q, want %q", ws, want)
	}
	p.Forecast.Enabled = false
	if ws := p.BudgetWarnings(3, monday); ws != nil {
		t.Fatalf("forecasts off: got %q", ws)
	}
}
