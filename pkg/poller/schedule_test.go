package poller

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/internal/testkit"
)

func TestParseSchedule_NeverFires(t *testing.T) {
	for _, spec := range []string{"0 0 30 2 *", "0 0 31 4 *", "CRON_TZ=Europe/Paris 0 12 31 11 *"} {
		_, err := ParseSchedule(spec)
		if !errors.Is(err, ErrNeverFires) || err.Error() != `cron spec "`+spec+`" never fires: no time in the next 5 years matches it` {
			t.Errorf("ParseSchedule(%q) = %v, want ErrNeverFires", spec, err)
		}
	}
	if _, err := ParseSchedule("0 0 29 2 *"); err != nil { // leap days do come
		t.Errorf("ParseSchedule(leap day) = %v", err)
	}
}

// TestPoller_NeverFiringScheduleStopsOnCancel: robfig/cron's Next returns the
// zero time for a spec that matches nothing; Run must neither tick for it nor
// spin, and must return when its context ends.
func TestPoller_NeverFiringScheduleStopsOnCancel(t *testing.T) {
	prov := &scripted{fetch: everyObservation(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))}
	var logs testkit.SyncBuffer
	p, err := New(testConfig("@every 1h"), locs(2), prov, &recorder{}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Past validation (or a five-year horizon that ran out): the raw spec.
	if p.schedule, err = cron.ParseStandard("0 0 30 2 *"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testkit.WaitFor(t, "poller notices the schedule never fires, or ticks", 5*time.Second, 10*time.Millisecond, func() (bool, string) {
		return strings.Contains(logs.String(), "poller.schedule has no next time") || len(prov.callsFor("loc-00")) > 0, ""
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if n := len(prov.callsFor("loc-00")); n != 0 {
		t.Errorf("%d polls of loc-00 for a schedule that never fires, want 0", n)
	}
}
