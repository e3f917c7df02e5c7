package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/stream"
)

// Warnings lists what is allowed but probably not what the operator wants,
// such as a schedule that cannot fit the weather API plan's daily budget.
// validate prints them; run logs them at start-up.
func Warnings(c *Config) []string {
	ws := shutdownWarnings(c)
	if !c.Poller.Enabled {
		return ws
	}
	ws = append(ws, c.Poller.BudgetWarnings(len(c.Locations), time.Now())...)
	if fr := c.Alerts.ForecastRules(); len(fr) > 0 && !c.Poller.Forecast.Enabled {
		ws = append(ws, fmt.Sprintf("poller.forecast.enabled is false, so the forecast rules of alerts.rules (%s) get no forecasts from this poller and never fire; enable forecasts or remove the rules", strings.Join(fr, ", ")))
	}
	ws = append(ws, c.Stream.Warnings("stream")...)
	switch {
	case c.Stream.Driver == stream.DriverKinesis && !c.Poller.Leader.Enabled:
		ws = append(ws, "poller.leader.enabled is false with stream.driver kinesis: every replica polls the weather API, and a restarted poller emits each location's current observation again; set poller.leader.enabled: true")
	case c.Stream.Driver == stream.DriverMemory && c.Poller.Leader.Enabled:
		ws = append(ws, "poller.leader.enabled is true with stream.driver memory: each replica has its own in-process stream, so only the leader's consumer sees readings")
	}
	return ws
}
