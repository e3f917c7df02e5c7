package poller

import (
	"regexp"
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
	// Leader elects one poller among replicas sharing a stream.
	Leader LeaderConfig `mapstructure:"leader"`
}

// LeaderConfig configures the poller leadership: with it enabled, replicas
// sharing a lease table elect one of them to poll, through a lease item in a
// DynamoDB table, so the weather API is called once per tick, not once per
// replica.
type LeaderConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Table is the DynamoDB table holding the lease (created when missing).
	Table string `mapstructure:"table"`
	// Name is the lease item's key; replicas with the same table and name
	// elect one poller.
	Name string `mapstructure:"name"`
	// LeaseDuration is how long a lease may go unrenewed, timed on the
	// observing replica's own clock, before another replica takes it.
	LeaseDuration time.Duration `mapstructure:"lease_duration"`
	// RenewInterval is how often the leader renews and followers look; less
	// than half of LeaseDuration.
	RenewInterval time.Duration `mapstructure:"renew_interval"`
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
	c.Leader.validate(check.Key(key, "leader"), ps)
}

// leaderTableName is a DynamoDB table name: 3 to 255 of these characters.
var leaderTableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func (c LeaderConfig) validate(key string, ps *check.Problems) {
	if !c.Enabled {
		return
	}
	enabled := check.Key(key, "enabled")
	switch {
	case c.Table == "":
		ps.Add(check.Key(key, "table"), "required when %s is true", enabled)
	case !leaderTableName.MatchString(c.Table):
		ps.Add(check.Key(key, "table"), "got %q, want a DynamoDB table name: 3 to 255 of a-z A-Z 0-9 _ . -", c.Table)
	}
	switch {
	case c.Name == "":
		ps.Add(check.Key(key, "name"), "required when %s is true", enabled)
	case len(c.Name) > 1024:
		ps.Add(check.Key(key, "name"), "got %d bytes, want at most 1024", len(c.Name))
	}
	if c.LeaseDuration < time.Second {
		ps.Add(check.Key(key, "lease_duration"), "got %s, want at least 1s", c.LeaseDuration)
	}
	if c.RenewInterval <= 0 || 2*c.RenewInterval >= c.LeaseDuration {
		ps.Add(check.Key(key, "renew_interval"), "got %s, want more than 0 and less than half of %s (%s)", c.RenewInterval, check.Key(key, "lease_duration"), c.LeaseDuration/2)
	}
}
