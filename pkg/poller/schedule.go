package poller

import (
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrNeverFires is a cron spec that parses but matches no time: robfig/cron's
// Next returns the zero time for it (it looks five years ahead), e.g.
// "0 0 30 2 *" (February 30th).
var ErrNeverFires = errors.New("never fires")

// ParseSchedule parses a poller.schedule spec: standard five-field cron, an
// optional CRON_TZ= prefix, and descriptors such as @every 5m. A spec that
// never fires is an error wrapping ErrNeverFires.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("bad cron spec %q: %v", spec, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("cron spec %q %w: no time in the next 5 years matches it", spec, ErrNeverFires)
	}
	return s, nil
}

// notPassed returns the first time of s from next on that is after now, and
// how many passed ones it skipped (a tick ran past them). The zero time
// means s has no next time.
func notPassed(s cron.Schedule, next, now time.Time) (time.Time, int) {
	skipped := 0
	for !next.IsZero() && !next.After(now) {
		skipped++
		next = s.Next(next)
	}
	return next, skipped
}
