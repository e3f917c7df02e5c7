// Package config loads weatherd's configuration: the embedded default, the
// operator's YAML file merged over it, ${VAR} expansion and WEATHERD_
// environment overrides, decoded strictly and validated as a whole.
package config

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/kcl"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Config is the whole configuration of one weatherd process.
type Config struct {
	Log             LogConfig          `mapstructure:"log"`
	HTTP            HTTPConfig         `mapstructure:"http"`
	ShutdownTimeout time.Duration      `mapstructure:"shutdown_timeout"`
	AWS             awsconf.Config     `mapstructure:"aws"`
	Locations       []weather.Location `mapstructure:"locations"`
	Poller          PollerConfig       `mapstructure:"poller"`
	Stream          stream.Config      `mapstructure:"stream"`
	Consumer        kcl.Config         `mapstructure:"consumer"`
	Alerts          alert.Config       `mapstructure:"alerts"`
	Lake            lake.Config        `mapstructure:"lake"`
}

// LogConfig is the log section.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// HTTPConfig is the http section.
type HTTPConfig struct {
	Listen string `mapstructure:"listen"`
	// API is the operator API's access (the API itself is always served).
	API api.Config `mapstructure:"api"`
}

// Validate returns nil or a *check.Error listing every problem, each naming
// its key path and the value it got.
func (c *Config) Validate() error {
	var ps check.Problems
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.Add("log.level", "got %q, want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		ps.Add("log.format", "got %q, want json or text", c.Log.Format)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		ps.Add("http.listen", "got %q, want host:port (e.g. :9108)", c.HTTP.Listen)
	}
	c.HTTP.API.Validate("http.api", &ps)
	if c.ShutdownTimeout <= 0 {
		ps.Add("shutdown_timeout", "got %s, want a positive duration", c.ShutdownTimeout)
	}
	c.AWS.Validate("aws", &ps)
	c.validateLocations(&ps)
	c.Poller.Validate("poller", &ps)
	c.Stream.Validate("stream", &ps)
	c.Consumer.Validate("consumer", &ps)
	c.Alerts.Validate("alerts", &ps)
	c.Lake.Validate("lake", &ps)
	return ps.Err()
}

func (c *Config) validateLocations(ps *check.Problems) {
	if len(c.Locations) == 0 && c.Poller.Enabled {
		ps.Add("locations", "at least one location is required while poller.enabled is true")
	}
	seen := map[string]int{}
	zones := map[string]bool{} // names already checked: a load is a few KiB, times every location
	for i, l := range c.Locations {
		k := check.Index("locations", i)
		if !weather.ValidLocationID(l.ID) {
			ps.Add(k+".id", "got %q, want %s", l.ID, weather.LocationIDRule)
		} else if j, dup := seen[l.ID]; dup {
			ps.Add(k+".id", "duplicate id %q (also locations[%d])", l.ID, j)
		} else {
			seen[l.ID] = i
		}
		if l.Lat < -90 || l.Lat > 90 {
			ps.Add(k+".lat", "got %v, want -90 to 90", l.Lat)
		}
		if l.Lon < -180 || l.Lon > 180 {
			ps.Add(k+".lon", "got %v, want -180 to 180", l.Lon)
		}
		if l.Timezone != "" {
			ok, checked := zones[l.Timezone]
			if !checked {
				_, err := time.LoadLocation(l.Timezone)
				ok = err == nil
				zones[l.Timezone] = ok
			}
			if !ok {
				ps.Add(k+".timezone", "unknown time zone %q", l.Timezone)
			}
		}
		if strings.TrimSpace(l.Name) == "" {
			ps.Add(k+".name", "required")
		} else if len(l.Name) > weather.MaxNameBytes {
			ps.Add(k+".name", "got %d bytes, want at most %d", len(l.Name), weather.MaxNameBytes)
		}
	}
}

// String summarises the configuration for a start-up log line; secrets are
// never part of it.
func (c *Config) String() string {
	return fmt.Sprintf("provider=%s schedule=%q locations=%d stream=%s lake=%s alert_state=%s",
		c.Poller.Provider, c.Poller.Schedule, len(c.Locations), c.Stream.Driver, c.Lake.URL, c.Alerts.State.Driver)
}
