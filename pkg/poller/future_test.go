package poller

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/weather"
)

// TestPoller_FutureReadingRejected: a provider answers once with an
// observation two days ahead. The reading contract check refuses it before the put,
// and the poller does not remember it, so the provider's next, real,
// observations are put instead of being taken for repeats.
func TestPoller_FutureReadingRejected(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	prov := &scripted{fetch: func(loc weather.Location, n int) (weather.Reading, error) {
		at := now.Add(time.Duration(n-1) * time.Minute) // n=1: 10:00, n=2: 10:01
		if n == 0 {
			at = now.Add(48 * time.Hour)
		}
		v := weather.Values{}
		v.Set("temperature", float64(n))
		return weather.NewReading(loc, "scripted", at, now, v), nil
	}}
	out := &recorder{}
	checked := provider.Checked(prov, time.Hour, func() time.Time { return now })
	p, _, _ := newPoller(t, testConfig("@every 1s"), locs(1), checked, out)
	for i := range 3 {
		p.tick(context.Background(), now.Add(time.Duration(i)*time.Second))
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("bad_response")); got != 1 {
		t.Errorf("weatherd_poll_requests_total{outcome=bad_response} = %v, want 1 (the future reading)", got)
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("duplicate")); got != 0 {
		t.Errorf("weatherd_poll_requests_total{outcome=duplicate} = %v, want 0", got)
	}
	var got []string
	for _, d := range out.data {
		r, err := weather.Decode(d)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.ObservedAt.Format(time.RFC3339))
	}
	if want := []string{"2026-11-27T10:00:00Z", "2026-11-27T10:01:00Z"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("put observations %q, want %q", got, want)
	}
}
