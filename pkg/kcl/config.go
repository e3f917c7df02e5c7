package kcl

import (
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Initial positions.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// Config is the consumer section of the configuration.
type Config struct {
	ApplicationName string        `mapstructure:"application_name"`
	WorkerID        string        `mapstructure:"worker_id"`
	InitialPosition string        `mapstructure:"initial_position"`
	InitialAt       time.Time     `mapstructure:"initial_timestamp"`
	LeaseDuration   time.Duration `mapstructure:"lease_duration"`
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if c.ApplicationName == "" {
		ps.Add(check.Key(key, "application_name"), "required")
	}
	switch c.InitialPosition {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if c.InitialAt.IsZero() {
			ps.Add(check.Key(key, "initial_timestamp"), "required when %s is %s", check.Key(key, "initial_position"), AtTimestamp)
		}
	default:
		ps.Add(check.Key(key, "initial_position"), "got %q, want %s, %s or %s", c.InitialPosition, TrimHorizon, Latest, AtTimestamp)
	}
	if c.LeaseDuration < time.Second {
		ps.Add(check.Key(key, "lease_duration"), "got %s, want at least 1s", c.LeaseDuration)
	}
}
