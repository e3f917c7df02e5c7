package alert

import (
	"time"

	"github.com/robfig/cron/v3"
)

// window is a channel's delivery window: it opens at each activation of a
// cron schedule and stays open for a duration, in a time zone.
type window struct {
	sched        cron.Schedule
	dur          time.Duration
	tz           *time.Location // nil: the location's zone
	holdCritical bool
}

func newWindow(c WindowConfig) (*window, error) {
	if c.Start == "" {
		return nil, nil
	}
	s, err := cronParser.Parse(c.Start)
	if err != nil {
		return nil, err
	}
	w := &window{sched: s, dur: c.Duration, holdCritical: c.HoldCritical}
	if c.Timezone != "" {
		if w.tz, err = time.LoadLocation(c.Timezone); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// openAt returns t when the window is open at t, else when it next opens.
// zone is used when the window has no time zone of its own.
func (w *window) openAt(t time.Time, zone *time.Location) time.Time {
	tz := w.tz
	if tz == nil {
		tz = zone
	}
	lt := t.In(tz)
	// The latest opening before t started after t-dur iff Next(t-dur) <= t.
	if s := w.sched.Next(lt.Add(-w.dur)); !s.After(lt) {
		return t
	}
	return w.sched.Next(lt).UTC()
}
