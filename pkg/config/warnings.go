package config

import "time"

// Warnings lists what is allowed but probably not what the operator wants,
// such as a schedule that cannot fit the weather API plan's daily budget.
// validate prints them; run logs them at start-up.
func Warnings(c *Config) []string {
	if !c.Poller.Enabled {
		return nil
	}
	return c.Poller.BudgetWarnings(len(c.Locations), time.Now())
}
