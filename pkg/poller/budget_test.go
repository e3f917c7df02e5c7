package poller

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

var monday = time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)

func TestCountBudget(t *testing.T) {
	for _, tc := range []struct {
		schedule           string
		perDay, perHourMax int
	}{
		{"@every 5m", 288, 12},
		{"*/5 * * * *", 288, 12},
		{"*/10 * * * *", 144, 6},
		{"@every 5s", 17280, 720},
		{"@hourly", 24, 1},
		{"0 7 * * *", 1, 1},
		{"0 7 * * 1-5", 1, 1},
		{"*/15 9-17 * * *", 36, 4},
		// 9-17 in São Paulo (UTC-3, no DST since 2019) is 12-20 UTC.
		{"CRON_TZ=America/Sao_Paulo */15 9-17 * * *", 36, 4},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			b, err := CountBudget(tc.schedule, 5, monday)
			if err != nil {
				t.Fatal(err)
			}
			want := Budget{Locations: 5, TicksPerDay: tc.perDay, TicksPerHour: tc.perHourMax}
			if b != want {
				t.Fatalf("got %+v, want %+v", b, want)
			}
		})
	}
	if _, err := CountBudget("every 5 minutes", 1, monday); err == nil {
		t.Fatal("bad schedule: got nil error")
	}
}

func TestBudgetWarnings(t *testing.T) {
	free := Limits{PerSecond: 3, PerHour: 25, PerDay: 500}
	t.Run("Exceeds", func(t *testing.T) {
		ws, err := BudgetWarnings("*/5 * * * *", 5, ProviderTomorrowIO, free, monday)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"poller: 5 locations × 288 ticks/day = 1440 calls/day exceeds the tomorrowio plan's 500/day (poller.tomorrowio.limits.per_day); polls beyond it are skipped until 00:00 UTC",
			"poller: 5 locations × 12 ticks/hour = 60 calls/hour exceeds the tomorrowio plan's 25/hour (poller.tomorrowio.limits.per_hour); polls beyond it are skipped until the next hour",
		}
		if !reflect.DeepEqual(ws, want) {
			t.Fatalf("got\n%q\nwant\n%q", ws, want)
		}
	})
	t.Run("Fits", func(t *testing.T) {
		// One location every 3 minutes: 20/hour and 480/day fit 25/hour and 500/day.
		ws, err := BudgetWarnings("*/3 * * * *", 1, ProviderTomorrowIO, free, monday)
		if err != nil || ws != nil {
			t.Fatalf("got %q, %v; want none", ws, err)
		}
	})
	t.Run("HourOnly", func(t *testing.T) {
		// Every minute from 8:00 to 8:59: the day fits, the 8 o'clock hour does not.
		ws, _ := BudgetWarnings("* 8 * * *", 2, ProviderOpenMeteo, Limits{PerHour: 100, PerDay: 10000}, monday)
		if len(ws) != 1 || !strings.Contains(ws[0], "2 locations × 60 ticks/hour = 120 calls/hour exceeds the openmeteo plan's 100/hour") {
			t.Fatalf("got %q", ws)
		}
	})
	t.Run("Unlimited", func(t *testing.T) {
		ws, err := BudgetWarnings("@every 1s", 100, ProviderOpenMeteo, Limits{}, monday)
		if err != nil || ws != nil {
			t.Fatalf("got %q, %v", ws, err)
		}
	})
	t.Run("ConfigMethod", func(t *testing.T) {
		c := Config{Enabled: true, Schedule: "@every 5m", Provider: ProviderTomorrowIO, TomorrowIO: TomorrowIOConfig{Limits: free}}
		if ws := c.BudgetWarnings(5, monday); len(ws) != 2 {
			t.Fatalf("got %q, want 2 warnings", ws)
		}
		c.Provider = ProviderSimulated
		if ws := c.BudgetWarnings(5, monday); ws != nil {
			t.Fatalf("simulated: got %q", ws)
		}
	})
}

func TestProviderConfig_validate(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := TomorrowIOConfig{BaseURL: "https://api.tomorrow.io/v4", Units: "metric", MaxBodyBytes: 1 << 20, Attempts: 3,
		Limits: Limits{PerSecond: 3, PerHour: 25, PerDay: 500}}
	for _, tc := range []struct {
		name string
		edit func(c *TomorrowIOConfig)
		want []string
	}{
		{"Good", func(c *TomorrowIOConfig) { c.APIKey = "k" }, nil},
		{"KeyFile", func(c *TomorrowIOConfig) { c.APIKeyFile = keyFile }, nil},
		{"Both", func(c *TomorrowIOConfig) { c.APIKey = "k"; c.APIKeyFile = keyFile }, []string{
			"poller.tomorrowio.api_key_file: set either poller.tomorrowio.api_key or poller.tomorrowio.api_key_file, not both"}},
		{"MissingFile", func(c *TomorrowIOConfig) { c.APIKeyFile = "/nonexistent/key" }, []string{
			`poller.tomorrowio.api_key_file: cannot read "/nonexistent/key": stat /nonexistent/key: no such file or directory`}},
		{"Bad", func(c *TomorrowIOConfig) {
			c.BaseURL = "api.tomorrow.io"
			c.Units = "si"
			c.MaxBodyBytes = 0
			c.Attempts = 0
			c.Limits.PerDay = -1
			c.Limits.MaxRetryAfter = -time.Minute
		}, []string{
			`poller.tomorrowio.base_url: got "api.tomorrow.io", want an http(s) URL such as https://api.example.com/v1`,
			`poller.tomorrowio.units: got "si", want "metric" or "imperial"`,
			"poller.tomorrowio.max_body_bytes: got 0, want at least 1024",
			"poller.tomorrowio.attempts: got 0, want 1 to 10",
			"poller.tomorrowio.limits.per_day: got -1, want 0 (unlimited) or more",
			"poller.tomorrowio.limits.max_retry_after: got -1m0s, want a positive duration (0: default 1h0m0s)",
		}},
		{"KeyInURL", func(c *TomorrowIOConfig) { c.BaseURL = "https://api.tomorrow.io/v4?apikey=SECRET" }, []string{
			`poller.tomorrowio.base_url: got "https://api.tomorrow.io/v4?apikey=SECRET", want no query or credentials in the base URL`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			var ps check.Problems
			c.validate("poller.tomorrowio", &ps)
			got := problems(ps)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	t.Run("OpenMeteo", func(t *testing.T) {
		var ps check.Problems
		OpenMeteoConfig{BaseURL: "ftp://x", MaxBodyBytes: 1 << 20, Attempts: 11}.validate("poller.openmeteo", &ps)
		want := []string{
			`poller.openmeteo.base_url: got "ftp://x", want an http(s) URL such as https://api.example.com/v1`,
			"poller.openmeteo.attempts: got 11, want 1 to 10",
		}
		if got := problems(ps); !reflect.DeepEqual(got, want) {
			t.Fatalf("got\n%q\nwant\n%q", got, want)
		}
	})
}

func problems(ps check.Problems) []string {
	err := ps.Err()
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}
