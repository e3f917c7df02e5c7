package poller

import (
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/secret"
)

// Providers.
const (
	ProviderTomorrowIO = "tomorrowio"
	ProviderOpenMeteo  = "openmeteo"
	ProviderSimulated  = "simulated"
)

// Config is the poller section of the configuration.
type Config struct {
	Enabled  bool          `mapstructure:"enabled"`
	Schedule string        `mapstructure:"schedule"`
	Provider string        `mapstructure:"provider"`
	Timeout  time.Duration `mapstructure:"timeout"`
	// Concurrency bounds the fetches in flight during one tick.
	Concurrency int `mapstructure:"concurrency"`
	// Spread is the longest a tick's fetches are spread over (jitter); the
	// spread is also kept under half the time to the next tick.
	Spread     time.Duration    `mapstructure:"spread"`
	TomorrowIO TomorrowIOConfig `mapstructure:"tomorrowio"`
	OpenMeteo  OpenMeteoConfig  `mapstructure:"openmeteo"`
	Simulated  SimulatedConfig  `mapstructure:"simulated"`
}

// TomorrowIOConfig configures the Tomorrow.io realtime API.
type TomorrowIOConfig struct {
	APIKey secret.String `mapstructure:"api_key"`
	// APIKeyFile is a file holding the key (Docker/ECS secrets); set it or
	// APIKey, not both.
	APIKeyFile string `mapstructure:"api_key_file"`
	BaseURL    string `mapstructure:"base_url"`
	// Units asked of the API: metric, or imperial (converted to metric).
	Units string `mapstructure:"units"`
	// MaxBodyBytes caps a response body; a bigger one is a bad response.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// Attempts bounds the tries of one fetch on 5xx answers and timeouts.
	Attempts int `mapstructure:"attempts"`
	// Limits is the plan's rate limits, kept client-side.
	Limits Limits `mapstructure:"limits"`
}

// OpenMeteoConfig configures the keyless Open-Meteo API.
type OpenMeteoConfig struct {
	BaseURL      string `mapstructure:"base_url"`
	MaxBodyBytes int64  `mapstructure:"max_body_bytes"`
	Attempts     int    `mapstructure:"attempts"`
	Limits       Limits `mapstructure:"limits"`
}

// SimulatedConfig configures the built-in simulated weather.
type SimulatedConfig struct {
	Seed          int64         `mapstructure:"seed"`
	FrontEvery    time.Duration `mapstructure:"front_every"`
	FrontDuration time.Duration `mapstructure:"front_duration"`
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if !c.Enabled {
		return
	}
	switch c.Provider {
	case ProviderTomorrowIO:
		if !c.TomorrowIO.HasKey() {
			ps.Add(check.Key(key, "tomorrowio.api_key"), "required when %s is %q (set TOMORROW_API_KEY, or api_key_file)", check.Key(key, "provider"), ProviderTomorrowIO)
		}
	case ProviderOpenMeteo, ProviderSimulated:
	default:
		ps.Add(check.Key(key, "provider"), "got %q, want %q, %q or %q", c.Provider, ProviderTomorrowIO, ProviderOpenMeteo, ProviderSimulated)
	}
	c.TomorrowIO.validate(check.Key(key, "tomorrowio"), ps)
	c.OpenMeteo.validate(check.Key(key, "openmeteo"), ps)
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
	if c.Provider == ProviderSimulated && c.Simulated.FrontDuration > c.Simulated.FrontEvery {
		ps.Add(check.Key(key, "simulated.front_duration"), "got %s, want at most simulated.front_every (%s)", c.Simulated.FrontDuration, c.Simulated.FrontEvery)
	}
}
