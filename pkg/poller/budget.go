package poller

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Limits is an API plan's rate limits, one per fixed UTC window; 0 means
// unlimited. The hour window resets on the hour and the day window at
// 00:00 UTC, as Tomorrow.io's and Open-Meteo's do.
type Limits struct {
	PerSecond int `mapstructure:"per_second"`
	PerMinute int `mapstructure:"per_minute"`
	PerHour   int `mapstructure:"per_hour"`
	PerDay    int `mapstructure:"per_day"`
	// MaxRetryAfter caps how long a 429's Retry-After stops calls to the
	// API, so a misbehaving API cannot stop polling for days
	// (0: DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after"`
}

// DefaultMaxRetryAfter is Limits.MaxRetryAfter when it is 0.
const DefaultMaxRetryAfter = time.Hour

func (l Limits) validate(key string, ps *check.Problems) {
	for _, f := range []struct {
		name string
		n    int
	}{{"per_second", l.PerSecond}, {"per_minute", l.PerMinute}, {"per_hour", l.PerHour}, {"per_day", l.PerDay}} {
		if f.n < 0 {
			ps.Add(check.Key(key, f.name), "got %d, want 0 (unlimited) or more", f.n)
		}
	}
	if l.MaxRetryAfter < 0 {
		ps.Add(check.Key(key, "max_retry_after"), "got %s, want a positive duration (0: default %s)", l.MaxRetryAfter, DefaultMaxRetryAfter)
	}
}

// Units Tomorrow.io can be asked for.
const (
	UnitsMetric   = "metric"
	UnitsImperial = "imperial"
)

// validate reports the problems of the tomorrowio section at key. Whether a
// key is required depends on poller.provider and is checked by Config.Validate
// (a key is present when APIKey or APIKeyFile is set).
func (c TomorrowIOConfig) validate(key string, ps *check.Problems) {
	if !c.APIKey.IsZero() && c.APIKeyFile != "" {
		ps.Add(check.Key(key, "api_key_file"), "set either %s or %s, not both", check.Key(key, "api_key"), check.Key(key, "api_key_file"))
	}
	if c.APIKeyFile != "" {
		if st, err := os.Stat(c.APIKeyFile); err != nil {
			ps.Add(check.Key(key, "api_key_file"), "cannot read %q: %v", c.APIKeyFile, err)
		} else if st.IsDir() {
			ps.Add(check.Key(key, "api_key_file"), "%q is a directory, want a file holding the key", c.APIKeyFile)
		}
	}
	validateBaseURL(check.Key(key, "base_url"), c.BaseURL, ps)
	switch c.Units {
	case UnitsMetric, UnitsImperial:
	default:
		ps.Add(check.Key(key, "units"), "got %q, want %q or %q", c.Units, UnitsMetric, UnitsImperial)
	}
	validateHTTP(key, c.MaxBodyBytes, c.Attempts, ps)
	c.Limits.validate(check.Key(key, "limits"), ps)
}

// HasKey reports whether a key is configured, inline or in a file.
func (c TomorrowIOConfig) HasKey() bool { return !c.APIKey.IsZero() || c.APIKeyFile != "" }

// validate reports the problems of the openmeteo section at key.
func (c OpenMeteoConfig) validate(key string, ps *check.Problems) {
	validateBaseURL(check.Key(key, "base_url"), c.BaseURL, ps)
	validateHTTP(key, c.MaxBodyBytes, c.Attempts, ps)
	c.Limits.validate(check.Key(key, "limits"), ps)
}

func validateBaseURL(key, raw string, ps *check.Problems) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(key, "got %q, want an http(s) URL such as https://api.example.com/v1", raw)
		return
	}
	if u.RawQuery != "" || u.User != nil {
		ps.Add(key, "got %q, want no query or credentials in the base URL", u.Redacted())
	}
}

func validateHTTP(key string, maxBody int64, attempts int, ps *check.Problems) {
	if maxBody < 1024 {
		ps.Add(check.Key(key, "max_body_bytes"), "got %d, want at least 1024", maxBody)
	}
	if attempts < 1 || attempts > 10 {
		ps.Add(check.Key(key, "attempts"), "got %d, want 1 to 10", attempts)
	}
}

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

// BudgetWarnings returns one warning per plan window (day, hour) that the
// schedule × locations cannot fit, with the numbers, e.g.
//
//	poller: 5 locations × 288 ticks/day = 1440 calls/day exceeds the tomorrowio plan's 500/day (poller.tomorrowio.limits.per_day); polls beyond it are skipped until 00:00 UTC
//
// The config is valid either way; the provider's limiter refuses the calls
// over the budget, so the operator should hear about it at start-up.
func BudgetWarnings(schedule string, locations int, provider string, l Limits, from time.Time) ([]string, error) {
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

// BudgetWarnings checks the configured provider's plan against the schedule
// and the number of locations (see the function BudgetWarnings). It returns
// nothing for a disabled poller, the simulated provider or a bad schedule
// (Validate reports that one).
func (c Config) BudgetWarnings(locations int, now time.Time) []string {
	if !c.Enabled {
		return nil
	}
	var l Limits
	switch c.Provider {
	case ProviderTomorrowIO:
		l = c.TomorrowIO.Limits
	case ProviderOpenMeteo:
		l = c.OpenMeteo.Limits
	default:
		return nil
	}
	ws, err := BudgetWarnings(c.Schedule, locations, c.Provider, l, now)
	if err != nil {
		return nil
	}
	return ws
}
