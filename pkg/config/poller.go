package config

import (
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/leader"
	"github.com/weatherd/weatherd/pkg/poller"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/provider/openmeteo"
	"github.com/weatherd/weatherd/pkg/provider/simulated"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
)

// PollerConfig is the poller section: the poller's own keys, and one
// subsection per provider and for the leadership, each owned and validated
// by its package.
type PollerConfig struct {
	poller.Config `mapstructure:",squash"`
	TomorrowIO    tomorrowio.Config `mapstructure:"tomorrowio"`
	OpenMeteo     openmeteo.Config  `mapstructure:"openmeteo"`
	Simulated     simulated.Config  `mapstructure:"simulated"`
	// Leader elects one poller among replicas sharing a stream.
	Leader leader.Config `mapstructure:"leader"`
}

// Validate reports every problem of the section at key; a disabled poller
// is not checked.
func (c PollerConfig) Validate(key string, ps *check.Problems) {
	if !c.Enabled {
		return
	}
	switch c.Provider {
	case tomorrowio.Name:
		if !c.TomorrowIO.HasKey() {
			ps.Add(check.Key(key, "tomorrowio.api_key"), "required when %s is %q (set TOMORROW_API_KEY, or api_key_file)", check.Key(key, "provider"), tomorrowio.Name)
		}
	case openmeteo.Name, simulated.Name:
	default:
		ps.Add(check.Key(key, "provider"), "got %q, want %q, %q or %q", c.Provider, tomorrowio.Name, openmeteo.Name, simulated.Name)
	}
	c.TomorrowIO.Validate(check.Key(key, "tomorrowio"), ps)
	c.OpenMeteo.Validate(check.Key(key, "openmeteo"), ps)
	c.Config.Validate(key, ps)
	if c.Provider == simulated.Name {
		c.Simulated.Validate(check.Key(key, "simulated"), ps)
	}
	c.Leader.Validate(check.Key(key, "leader"), ps)
}

// limits is the rate limits of the provider in use, if it has any.
func (c PollerConfig) limits() (httpx.Limits, bool) {
	switch c.Provider {
	case tomorrowio.Name:
		return c.TomorrowIO.Limits, true
	case openmeteo.Name:
		return c.OpenMeteo.Limits, true
	}
	return httpx.Limits{}, false
}

// BudgetWarnings checks the configured provider's plan against the
// realtime and forecast schedules, which share it, and the number of
// locations (see poller.SharedBudgetWarnings). It returns
// nothing for a disabled poller, the simulated provider or a bad schedule
// (Validate reports that one).
func (c PollerConfig) BudgetWarnings(locations int, now time.Time) []string {
	l, ok := c.limits()
	if !c.Enabled || !ok {
		return nil
	}
	forecast := ""
	if c.Forecast.Enabled {
		forecast = c.Forecast.Schedule
	}
	ws, err := poller.SharedBudgetWarnings(c.Schedule, forecast, locations, c.Provider, poller.Plan{PerHour: l.PerHour, PerDay: l.PerDay}, now)
	if err != nil {
		return nil
	}
	return ws
}
