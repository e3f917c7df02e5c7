package poller

import (
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Config is the poller's own part of the poller section: when and how hard
// to call the provider. The provider and leadership subsections belong to
// their packages; pkg/config puts the section together.
type Config struct {
	Enabled  bool          `mapstructure:"enabled"`
	Schedule string        `mapstructure:"schedule"`
	Provider string        `mapstructure:"provider"`
	Timeout  time.Duration `mapstructure:"timeout"`
	// Concurrency bounds the fetches in flight during one tick.
	Concurrency int `mapstructure:"concurrency"`
	// Spread is the longest a tick's fetches are spread over (jitter); the
	// spread is also kept under half the time to the next tick.
	Spread time.Duration `mapstructure:"spread"`
	// Forecast is when and how far ahead to fetch forecasts.
	Forecast ForecastConfig `mapstructure:"forecast"`
}

// Validate reports every problem of the poller's keys at key (the provider
// name is checked where the providers are known, in pkg/config).
func (c Config) Validate(key string, ps *check.Problems) {
	if _, err := ParseSchedule(c.Schedule); err != nil {
		ps.Add(check.Key(key, "schedule"), "%v", err)
	}
	if c.Timeout <= 0 {
		ps.Add(check.Key(key, "timeout"), "got %s, want a positive duration", c.Timeout)
	}
	if c.Concurrency < 1 {
		ps.Add(check.Key(key, "concurrency"), "got %d, want at least 1", c.Concurrency)
	}
	if c.Spread < 0 {
		ps.Add(check.Key(key, "spread"), "got %s, want a duration of 0 or more", c.Spread)
	}
	c.Forecast.Validate(check.Key(key, "forecast"), ps)
}
