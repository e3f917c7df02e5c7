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
