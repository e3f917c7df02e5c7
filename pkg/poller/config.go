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
	Enabled    bool             `mapstructure:"enabled"`
	Schedule   string           `mapstructure:"schedule"`
	Provider   string           `mapstructure:"provider"`
	Timeout    time.Duration    `mapstructure:"timeout"`
	TomorrowIO TomorrowIOConfig `mapstructure:"tomorrowio"`
	OpenMeteo  OpenMeteoConfig  `mapstructure:"openmeteo"`
	Simulated  SimulatedConfig  `mapstructure:"simulated"`
}

// TomorrowIOConfig configures the Tomorrow.io realtime API.
type TomorrowIOConfig struct {
	APIKey  secret.String `mapstructure:"api_key"`
	BaseURL string        `mapstructure:"base_url"`
}

// OpenMeteoConfig configures the keyless Open-Meteo API.
type OpenMeteoConfig struct {
	BaseURL string `mapstructure:"base_url"`
}

// SimulatedConfig configures the built-in simulated weather.
type SimulatedConfig struct {
	Seed int64 `mapstructure:"seed"`
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if !c.Enabled {
		return
	}
	switch c.Provider {
	case ProviderTomorrowIO:
		if c.TomorrowIO.APIKey.IsZero() {
			ps.Add(check.Key(key, "tomorrowio.api_key"), "required when %s is %q (set TOMORROW_API_KEY)", check.Key(key, "provider"), ProviderTomorrowIO)
		}
	case ProviderOpenMeteo, ProviderSimulated:
	default:
		ps.Add(check.Key(key, "provider"), "got %q, want %q, %q or %q", c.Provider, ProviderTomorrowIO, ProviderOpenMeteo, ProviderSimulated)
	}
	if _, err := ParseSchedule(c.Schedule); err != nil {
		ps.Add(check.Key(key, "schedule"), "%v", err)
	}
	if c.Timeout <= 0 {
		ps.Add(check.Key(key, "timeout"), "got %s, want a positive duration", c.Timeout)
	}
}
