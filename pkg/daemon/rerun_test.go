package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/config"
)

// TestDaemon_TwoRunsKeepBothRunsReadings: two runs of the embedded default
// (memory stream, simulated provider) one after the other, in the same hour
// and on the same lake folder. The memory stream starts over on each run,
// yet the second run's objects never take the first run's names: the gold
// read back holds every reading of both runs.
func TestDaemon_TwoRunsKeepBothRunsReadings(t *testing.T) {
	dir := t.TempDir()
	run := func(name string, min int) {
		cfg, err := config.Default()
		if err != nil {
			t.Fatal(err)
		}
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.Lake.URL = "file://" + dir
		cfg.Poller.Schedule = "@every 1s"
		// Readings only: forecast events count among the consumed records
		// too, and at the turn of an hour a scheduled fetch follows the one
		// at start, so forecasts alone could make up min.
		cfg.Poller.Forecast.Enabled = false
		in := start(t, name, cfg)
		waitUntil(t, name+": readings consumed", 60*time.Second, func() bool {
			return in.metric(t, "weatherd_consumer_records_total") >= float64(min)
		})
		in.stop(t) // the final flush writes everything consumed
	}
	key := func(eventID string, ingested time.Time) string { return fmt.Sprint(eventID, ingested.UnixMilli()) }

	if h := time.Now().Add(2 * time.Minute).Truncate(time.Hour); h.After(time.Now()) {
		t.Logf("the hour ends in under 2 minutes; the runs may straddle it (%s)", h)
	}
	run("first", 5)
	first := map[string]bool{}
	for _, r := range goldRows(t, dir) {
		first[key(r.EventID, r.IngestedAt)] = true
	}
	if len(first) == 0 {
		t.Fatal("the first run wrote no gold rows")
	}
	run("second", 5)
	all := map[string]bool{}
	rows := goldRows(t, dir)
	for _, r := range rows {
		all[key(r.EventID, r.IngestedAt)] = true
	}
	lost := 0
	for k := range first {
		if !all[k] {
			lost++
		}
	}
	if lost > 0 || len(all) <= len(first) || len(rows) != len(all) {
		t.Errorf("gold after the second run: %d rows (%d distinct), %d of the first run's %d lost; want every first-run row kept and the second run's added",
			len(rows), len(all), lost, len(first))
	}
	t.Logf("first run: %d gold rows; both runs: %d", len(first), len(all))
}
