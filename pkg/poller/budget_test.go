package poller

import (
	"reflect"
	"strings"
	"testing"
	"time"
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
	free := Plan{PerHour: 25, PerDay: 500}
	t.Run("Exceeds", func(t *testing.T) {
		ws, err := BudgetWarnings("*/5 * * * *", 5, "tomorrowio", free, monday)
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
		ws, err := BudgetWarnings("*/3 * * * *", 1, "tomorrowio", free, monday)
		if err != nil || ws != nil {
			t.Fatalf("got %q, %v; want none", ws, err)
		}
	})
	t.Run("HourOnly", func(t *testing.T) {
		// Every minute from 8:00 to 8:59: the day fits, the 8 o'clock hour does not.
		ws, _ := BudgetWarnings("* 8 * * *", 2, "openmeteo", Plan{PerHour: 100, PerDay: 10000}, monday)
		if len(ws) != 1 || !strings.Contains(ws[0], "2 locations × 60 ticks/hour = 120 calls/hour exceeds the openmeteo plan's 100/hour") {
			t.Fatalf("got %q", ws)
		}
	})
	t.Run("Unlimited", func(t *testing.T) {
		ws, err := BudgetWarnings("@every 1s", 100, "openmeteo", Plan{}, monday)
		if err != nil || ws != nil {
			t.Fatalf("got %q, %v", ws, err)
		}
	})
}
