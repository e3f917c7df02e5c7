package poller

import (
	"fmt"
	"time"
)

// maxCountedTicks bounds the work of counting a schedule's ticks (a
// once-a-second schedule has 604,800 in a week).
const maxCountedTicks = 1 << 21

// Budget is how many API calls a schedule makes for a number of locations,
// counted over the busiest UTC day and clock hour of a week.
type Budget struct {
	Locations    int
	TicksPerDay  int // in the busiest UTC day
	TicksPerHour int // in the busiest UTC clock hour
}

// CallsPerDay is the calls made in the busiest UTC day.
func (b Budget) CallsPerDay() int { return b.TicksPerDay * b.Locations }

// CallsPerHour is the calls made in the busiest UTC clock hour.
func (b Budget) CallsPerHour() int { return b.TicksPerHour * b.Locations }

// CountBudget counts the ticks of schedule in the seven UTC days starting at
// the day of from, and keeps the busiest day and clock hour (a weekday-only
// or CRON_TZ schedule differs from day to day).
func CountBudget(schedule string, locations int, from time.Time) (Budget, error) {
	s, err := ParseSchedule(schedule)
	if err != nil {
		return Budget{}, err
	}
	start := from.UTC().Truncate(24 * time.Hour)
	end := start.Add(7 * 24 * time.Hour)
	perDay := map[int64]int{}
	perHour := map[int64]int{}
	// Start a second early so a tick at exactly 00:00:00 counts and
	// "@every" schedules get their full number of ticks per day.
	t := start.Add(-time.Second)
	for n := 0; n < maxCountedTicks; n++ {
		t = s.Next(t)
		if t.IsZero() || !t.Before(end) {
			break
		}
		if t.Before(start) {
			continue
		}
		u := t.UTC()
		perDay[u.Truncate(24*time.Hour).Unix()]++
		perHour[u.Truncate(time.Hour).Unix()]++
	}
	b := Budget{Locations: locations}
	for _, n := range perDay {
		b.TicksPerDay = max(b.TicksPerDay, n)
	}
	for _, n := range perHour {
		b.TicksPerHour = max(b.TicksPerHour, n)
	}
	return b, nil
}

// Plan is the part of an API plan a schedule is checked against: calls per
// UTC clock hour and per UTC day, 0 for unlimited.
type Plan struct{ PerHour, PerDay int }

// SharedBudgetWarnings is BudgetWarnings for the realtime schedule and the
// forecast schedule (empty: forecasts disabled) together, which share one
// rate-limit budget per provider, e.g.
//
//	poller: 5 locations × (288 realtime + 24 forecast ticks/day) = 1560 calls/day exceeds the tomorrowio plan's 500/day (poller.tomorrowio.limits.per_day); calls beyond it are skipped until 00:00 UTC
func SharedBudgetWarnings(realtime, forecast string, locations int, provider string, l Plan, from time.Time) ([]string, error) {
	if forecast == "" {
		return BudgetWarnings(realtime, locations, provider, l, from)
	}
	if l.PerDay == 0 && l.PerHour == 0 {
		return nil, nil
	}
	rb, err := CountBudget(realtime, locations, from)
	if err != nil {
		return nil, err
	}
	fb, err := CountBudget(forecast, locations, from)
	if err != nil {
		return nil, err
	}
	// The busiest day (hour) of each schedule, added: an upper bound that
	// is exact for the usual schedules, the same every day and hour.
	var ws []string
	if perDay := rb.CallsPerDay() + fb.CallsPerDay(); l.PerDay > 0 && perDay > l.PerDay {
		ws = append(ws, fmt.Sprintf("poller: %d locations × (%d realtime + %d forecast ticks/day) = %d calls/day exceeds the %s plan's %d/day (poller.%s.limits.per_day); calls beyond it are skipped until 00:00 UTC",
			locations, rb.TicksPerDay, fb.TicksPerDay, perDay, provider, l.PerDay, provider))
	}
	if perHour := rb.CallsPerHour() + fb.CallsPerHour(); l.PerHour > 0 && perHour > l.PerHour {
		ws = append(ws, fmt.Sprintf("poller: %d locations × (%d realtime + %d forecast ticks/hour) = %d calls/hour exceeds the %s plan's %d/hour (poller.%s.limits.per_hour); calls beyond it are skipped until the next hour",
			locations, rb.TicksPerHour, fb.TicksPerHour, perHour, provider, l.PerHour, provider))
	}
	return ws, nil
}

// BudgetWarnings returns one warning per plan window (day, hour) that the
// schedule × locations cannot fit, with the numbers, e.g.
//
//	poller: 5 locations × 288 ticks/day = 1440 calls/day exceeds the tomorrowio plan's 500/day (poller.tomorrowio.limits.per_day); polls beyond it are skipped until 00:00 UTC
//
// The config is valid either way; the provider's limiter refuses the calls
// over the budget, so the operator should hear about it at start-up.
func BudgetWarnings(schedule string, locations int, provider string, l Plan, from time.Time) ([]string, error) {
	if l.PerDay == 0 && l.PerHour == 0 {
		return nil, nil
	}
	b, err := CountBudget(schedule, locations, from)
	if err != nil {
		return nil, err
	}
	var ws []string
	if l.PerDay > 0 && b.CallsPerDay() > l.PerDay {
		ws = append(ws, fmt.Sprintf("poller: %d locations × %d ticks/day = %d calls/day exceeds the %s plan's %d/day (poller.%s.limits.per_day); polls beyond it are skipped until 00:00 UTC",
			b.Locations, b.TicksPerDay, b.CallsPerDay(), provider, l.PerDay, provider))
	}
	if l.PerHour > 0 && b.CallsPerHour() > l.PerHour {
		ws = append(ws, fmt.Sprintf("poller: %d locations × %d ticks/hour = %d calls/hour exceeds the %s plan's %d/hour (poller.%s.limits.per_hour); polls beyond it are skipped until the next hour",
			b.Locations, b.TicksPerHour, b.CallsPerHour(), provider, l.PerHour, provider))
	}
	return ws, nil
}
