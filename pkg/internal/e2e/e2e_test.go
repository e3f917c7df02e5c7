package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
)

// e2eFaults answers a few requests with 500 (retried by the client) and
// with 429 + Retry-After: 1 (the client pauses one second), deterministically.
func e2eFaults(n int) answer {
	switch {
	case n%97 == 50:
		return answer429RetryAfter
	case n%41 == 17:
		return answer500
	}
	return answerOK
}

// TestEndToEnd runs the real binary on a one-second schedule against 60
// locations until each has gone through 20 observations (both storms of the
// alerting locations), then checks the lake, the notifications and the
// metrics against exactly what the fake API served.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	const nSites, steps = 60, 20
	sys := newSystem(t, options{sites: nSites, perStep: 2, faults: e2eFaults})
	start := time.Now()
	p := sys.start()
	sys.waitReady(p, 60*time.Second)

	sys.waitPastStep(p, steps, 4*time.Minute)
	t.Logf("polled %d steps per location in %s", steps, time.Since(start).Round(time.Second))

	// A 429 without Retry-After stops every call until the window resets (a
	// minute with no hour or minute limit configured): nothing is sent after it.
	before := testkit.MustScrape(t, sys.addr()).Sum("weatherd_poll_requests_total", `outcome="rate_limited"`)
	sys.api.exhaust()
	time.Sleep(6 * time.Second)
	if n := sys.api.lateRequests(2 * time.Second); n != 0 {
		t.Errorf("%d requests reached the API more than 2s after a 429 without Retry-After, want 0", n)
	}
	if after := testkit.MustScrape(t, sys.addr()).Sum("weatherd_poll_requests_total", `outcome="rate_limited"`); after < before+float64(nSites) {
		t.Errorf("rate_limited outcomes went from %v to %v during the 6s block, want at least %d more (the locations skipped locally)", before, after, nSites)
	}

	want := sys.api.snapshot()
	wantAlerts := expectedTransitions(sys.sites, want)
	st := sys.api.stats()
	waitFor(t, 90*time.Second, "consumer caught up and notifications delivered", func() (bool, string) {
		m, err := testkit.Scrape(sys.addr())
		if err != nil {
			return false, err.Error()
		}
		produced, consumed := m.Sum("weatherd_readings_produced_total"), m.Sum("weatherd_consumer_records_total")
		notes := len(sys.sub.notifications())
		return produced == float64(len(want)) && consumed >= produced && notes >= len(wantAlerts),
			fmt.Sprintf("served %d, produced %v, consumed %v, notifications %d of %d", len(want), produced, consumed, notes, len(wantAlerts))
	})
	m := testkit.MustScrape(t, sys.addr())

	p.stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lc, err := sys.readLake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkLake(t, lc, want, sys.sites)
	notes := sys.sub.notifications()
	checkNotifications(t, sys.sites, notes, wantAlerts, false)
	for _, p := range sys.sub.problems() {
		t.Errorf("subscriber: %s", p)
	}

	// The counters say the same.
	fired, resolved := 0, 0
	for _, tr := range wantAlerts {
		if tr.state == "firing" {
			fired++
		} else {
			resolved++
		}
	}
	okAnswers := st.byAnswer[answerOK]
	checks := []struct {
		name      string
		got, want float64
	}{
		{"weatherd_readings_produced_total", m.Sum("weatherd_readings_produced_total"), float64(len(want))},
		{"weatherd_consumer_records_total", m.Sum("weatherd_consumer_records_total"), float64(len(want))},
		{`weatherd_poll_requests_total{outcome="ok"}`, m.Sum("weatherd_poll_requests_total", `outcome="ok"`), float64(len(want))},
		{`weatherd_poll_requests_total{outcome="ok"|"duplicate"}`, m.Sum("weatherd_poll_requests_total", `outcome="ok"`) + m.Sum("weatherd_poll_requests_total", `outcome="duplicate"`), float64(okAnswers)},
		{`weatherd_poll_http_requests_total{status="2xx"}`, m.Sum("weatherd_poll_http_requests_total", `status="2xx"`), float64(okAnswers)},
		{`weatherd_poll_http_requests_total{status="5xx"}`, m.Sum("weatherd_poll_http_requests_total", `status="5xx"`), float64(st.byAnswer[answer500])},
		{`weatherd_poll_http_requests_total{status="429"}`, m.Sum("weatherd_poll_http_requests_total", `status="429"`), float64(st.byAnswer[answer429RetryAfter] + st.byAnswer[answer429NoRetryAfter])},
		{`weatherd_alert_transitions_total{state="firing"}`, m.Sum("weatherd_alert_transitions_total", `rule="strong-wind"`, `state="firing"`), float64(fired)},
		{`weatherd_alert_transitions_total{state="resolved"}`, m.Sum("weatherd_alert_transitions_total", `rule="strong-wind"`, `state="resolved"`), float64(resolved)},
		{`weatherd_notifications_total{channel="sns",outcome="sent"}`, m.Sum("weatherd_notifications_total", `channel="sns"`, `outcome="sent"`), float64(len(wantAlerts))},
		{`weatherd_poison_records_total`, m.Sum("weatherd_poison_records_total"), 0},
		{`weatherd_producer_dropped_total`, m.Sum("weatherd_producer_dropped_total"), 0},
		{`weatherd_lake_flush_failures_total`, m.Sum("weatherd_lake_flush_failures_total"), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if rl := m.Sum("weatherd_poll_requests_total", `outcome="rate_limited"`); rl < float64(st.byAnswer[answer429RetryAfter]+st.byAnswer[answer429NoRetryAfter]) {
		t.Errorf(`weatherd_poll_requests_total{outcome="rate_limited"} = %v, want at least the %d 429 answers`, rl, st.byAnswer[answer429RetryAfter]+st.byAnswer[answer429NoRetryAfter])
	}
	if m.Sum("weatherd_lake_objects_written_total", `kind="gold"`) < 1 {
		t.Errorf("weatherd_lake_objects_written_total{kind=\"gold\"} is 0")
	}
	if code, _, err := testkit.Get(sys.addr(), "/healthz"); err == nil || code == http.StatusOK {
		t.Errorf("/healthz still answers after exit")
	}
	t.Logf("served %d observations (%d requests: %d ok, %d×500, %d×429 Retry-After, %d×429 without); %d transitions notified; lake: %d gold, %d raw objects; total %s",
		len(want), st.requests, okAnswers, st.byAnswer[answer500], st.byAnswer[answer429RetryAfter], st.byAnswer[answer429NoRetryAfter],
		len(wantAlerts), lc.goldFiles, lc.rawFiles, time.Since(start).Round(time.Second))
}
