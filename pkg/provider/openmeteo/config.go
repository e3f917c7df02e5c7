package openmeteo

import (
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
)

// Config is the poller.openmeteo section: the keyless Open-Meteo API.
type Config struct {
	BaseURL      string       `mapstructure:"base_url"`
	MaxBodyBytes int64        `mapstructure:"max_body_bytes"`
	Attempts     int          `mapstructure:"attempts"`
	Limits       httpx.Limits `mapstructure:"limits"`
}

// Validate reports the problems of the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	httpx.ValidateBaseURL(check.Key(key, "base_url"), c.BaseURL, ps)
	httpx.ValidateRequests(key, c.MaxBodyBytes, c.Attempts, ps)
	c.Limits.Validate(check.Key(key, "limits"), ps)
}
