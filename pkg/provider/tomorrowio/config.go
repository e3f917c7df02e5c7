package tomorrowio

import (
	"os"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/secret"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Units Tomorrow.io can be asked for; readings are always in metric.
const (
	UnitsMetric   = weather.UnitsMetric
	UnitsImperial = "imperial"
)

// Config is the poller.tomorrowio section: the Tomorrow.io realtime API.
type Config struct {
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
	Limits httpx.Limits `mapstructure:"limits"`
}

// Validate reports the problems of the section at key. Whether a key is
// required depends on which provider the poller uses, so the poller section
// checks HasKey.
func (c Config) Validate(key string, ps *check.Problems) {
	if !c.APIKey.IsZero() && c.APIKeyFile != "" {
		ps.Add(check.Key(key, "api_key_file"), "set either %s or %s, not both", check.Key(key, "api_key"), check.Key(key, "api_key_file"))
	}
	if c.APIKeyFile != "" {
		if st, err := os.Stat(c.APIKeyFile); err != nil {
			ps.Add(check.Key(key, "api_key_file"), "cannot read %q: %v", c.APIKeyFile, err)
		} else if st.IsDir() {
			ps.Add(check.Key(key, "api_key_file"), "%q is a directory, want a file holding the key", c.APIKeyFile)
		}
	}
	httpx.ValidateBaseURL(check.Key(key, "base_url"), c.BaseURL, ps)
	switch c.Units {
	case UnitsMetric, UnitsImperial:
	default:
		ps.Add(check.Key(key, "units"), "got %q, want %q or %q", c.Units, UnitsMetric, UnitsImperial)
	}
	httpx.ValidateRequests(key, c.MaxBodyBytes, c.Attempts, ps)
	c.Limits.Validate(check.Key(key, "limits"), ps)
}

// HasKey reports whether a key is configured, inline or in a file.
func (c Config) HasKey() bool { return !c.APIKey.IsZero() || c.APIKeyFile != "" }
