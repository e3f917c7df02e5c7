package daemon

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
)

// TestDaemon_DefaultForecastNoticeBeforeStrongWind runs weatherd on the
// embedded default (simulated provider, memory stream): within its first
// three minutes the log shows a forecast notice ("Strong wind expected in
// <city> at HH:MM (in N min)") for a location, and later the realtime
// strong-wind notice for the same location, not before it.
func TestDaemon_DefaultForecastNoticeBeforeStrongWind(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Lake.URL = "file://" + t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	start := time.Now()
	startLogged(t, "default", cfg, &logs)

	notice := regexp.MustCompile(`msg="alert notification" .*state=(predicted|firing) rule=(strong-wind-ahead|strong-wind) location=(\S+) .*text="([^"]*)"`)
	forecastText := regexp.MustCompile(`^WARNING: Strong wind expected in .+ at \d\d:\d\d \(in (\d+|under 1) min\): gusts up to \d+ km/h`)
	type seen struct {
		predicted time.Duration // since start; 0: not yet
		text      string
		firedLine int // index of the strong-wind firing line; -1: not yet
		predLine  int
	}
	var (
		got    map[string]*seen
		winner string
	)
	scan := func() bool {
		got = map[string]*seen{}
		for i, line := range strings.Split(logs.String(), "\n") {
			m := notice.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			s := got[m[3]]
			if s == nil {
				s = &seen{firedLine: -1, predLine: -1}
				got[m[3]] = s
			}
			switch {
			case m[2] == "strong-wind-ahead" && s.predLine < 0:
				s.predLine, s.text = i, m[4]
				if at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(line)[0], "time=")); err == nil {
					s.predicted = at.Sub(start)
				}
			case m[2] == "strong-wind" && s.firedLine < 0:
				s.firedLine = i
			}
		}
		for loc, s := range got {
			// The first notice about strong wind at loc is the forecast
			// one, and the realtime one follows.
			if s.predLine >= 0 && s.firedLine > s.predLine && s.predicted <= 3*time.Minute {
				winner = loc
				return true
			}
		}
		return false
	}
	waitUntil(t, "a forecast notice within 3 minutes, then strong-wind firing at the same location", 5*time.Minute, scan)
	s := got[winner]
	if !forecastText.MatchString(s.text) {
		t.Errorf("forecast notice at %s reads %q, want it to match %s", winner, s.text, forecastText)
	}
	t.Logf("%s: forecast notice %s after start (%q), then strong-wind fired", winner, s.predicted.Round(time.Second), s.text)
}
