package alert

import (
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Config is the alerts section of the configuration.
type Config struct {
	Rules    []RuleConfig             `mapstructure:"rules"`
	Channels map[string]ChannelConfig `mapstructure:"channels"`
	State    StateConfig              `mapstructure:"state"`
}

// RuleConfig is one alerts.rules[] entry.
type RuleConfig struct {
	Name      string        `mapstructure:"name"`
	Expr      string        `mapstructure:"expr"`
	Clear     string        `mapstructure:"clear"`
	For       time.Duration `mapstructure:"for"`
	Repeat    time.Duration `mapstructure:"repeat"`
	Severity  string        `mapstructure:"severity"`
	Locations []string      `mapstructure:"locations"`
	Channels  []string      `mapstructure:"channels"`
}

// ChannelConfig is one alerts.channels.<name> entry.
type ChannelConfig struct {
	Type     string `mapstructure:"type"`
	TopicARN string `mapstructure:"topic_arn"`
	URL      string `mapstructure:"url"`
	Format   string `mapstructure:"format"`
}

// StateConfig selects where alert state lives.
type StateConfig struct {
	Driver string `mapstructure:"driver"`
	Table  string `mapstructure:"table"`
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	for name, ch := range c.Channels {
		switch ch.Type {
		case "sns", "webhook", "log":
		default:
			ps.Add(check.Key(key, "channels."+name+".type"), "got %q, want sns, webhook or log", ch.Type)
		}
	}
	switch c.State.Driver {
	case "memory":
	case "dynamodb":
		if c.State.Table == "" {
			ps.Add(check.Key(key, "state.table"), "required when %s is dynamodb", check.Key(key, "state.driver"))
		}
	default:
		ps.Add(check.Key(key, "state.driver"), "got %q, want memory or dynamodb", c.State.Driver)
	}
	for i, r := range c.Rules {
		rk := check.Index(check.Key(key, "rules"), i)
		if r.Name == "" {
			ps.Add(check.Key(rk, "name"), "required")
		}
		if r.Expr == "" {
			ps.Add(check.Key(rk, "expr"), "required")
		}
		for j, ch := range r.Channels {
			if _, ok := c.Channels[ch]; !ok {
				ps.Add(check.Index(check.Key(rk, "channels"), j), "unknown channel %q", ch)
			}
		}
	}
}
