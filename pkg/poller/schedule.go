package poller

import (
	"fmt"

	"github.com/robfig/cron/v3"
)

// ParseSchedule parses a poller.schedule spec: standard five-field cron, an
// optional CRON_TZ= prefix, and descriptors such as @every 5m.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("bad cron spec %q: %v", spec, err)
	}
	return s, nil
}
