package poller

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// scripted is a provider whose answers the test decides.
type scripted struct {
	mu    sync.Mutex
	calls []call
	fetch func(loc weather.Location, n int) (weather.Reading, error)
	delay time.Duration
}

type call struct {
	loc string
	at  time.Time
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Fetch(ctx context.Context, loc weather.Location) (weather.Reading, error) {
	s.mu.Lock()
	n := 0
	for _, c := range s.calls {
		if c.loc == loc.ID {
			n++
		}
	}
	s.calls = append(s.calls, call{loc.ID, time.Now()})
	s.mu.Unlock()
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return weather.Reading{}, ctx.Err()
		}
	}
	return s.fetch(loc, n)
}

func (s *scripted) callsFor(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Time
	for _, c := range s.calls {
		if c.loc == id {
			out = append(out, c.at)
		}
	}
	return out
}

// recorder is a producer that keeps what it is given, or refuses when full.
// It delivers at once unless held is set.
type recorder struct {
	mu   sync.Mutex
	keys []string
	data [][]byte
	full bool
	// refuse is how many more Puts are refused as full (before full).
	refuse int

	held  atomic.Bool  // readings stay buffered while set
	asked atomic.Int32 // calls of Buffered
}

func (r *recorder) Put(_ context.Context, key string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full || r.refuse > 0 {
		r.refuse--
		return stream.ErrBufferFull
	}
	r.keys = append(r.keys, key)
	r.data = append(r.data, data)
	return nil
}

func (r *recorder) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (r *recorder) Buffered() int {
	r.asked.Add(1)
	if r.held.Load() {
		return r.count()
	}
	return 0
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

func locs(n int) []weather.Location {
	out := make([]weather.Location, n)
	for i := range out {
		out[i] = weather.Location{ID: fmt.Sprintf("loc-%02d", i), Name: fmt.Sprintf("Loc %d", i), Lat: float64(i), Lon: float64(-i)}
	}
	return out
}

// everyObservation gives a new observation time per call (second resolution).
func everyObservation(base time.Time) func(weather.Location, int) (weather.Reading, error) {
	return func(loc weather.Location, n int) (weather.Reading, error) {
		v := weather.Values{}
		v.Set("temperature", float64(n))
		return weather.NewReading(loc, "scripted", base.Add(time.Duration(n)*time.Minute), time.Now(), v), nil
	}
}

func testConfig(schedule string) Config {
	return Config{Enabled: true, Schedule: schedule, Provider: "scripted", Timeout: 2 * time.Second, Concurrency: 2, Spread: 400 * time.Millisecond}
}

func newPoller(t *testing.T, cfg Config, l []weather.Location, prov provider.Provider, out stream.Producer) (*Poller, *prometheus.Registry, *testkit.SyncBuffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	// The poller logs from its own goroutine while tests read the logs.
	var logs testkit.SyncBuffer
	p, err := New(cfg, l, prov, out, NewMetrics(reg), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p, reg, &logs
}

func TestPoller_EveryLocationOncePerTick(t *testing.T) {
	prov := &scripted{fetch: everyObservation(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))}
	out := &recorder{}
	l := locs(6)
	p, _, logs := newPoller(t, testConfig("@every 1s"), l, prov, out)
	tick := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p.tick(context.Background(), tick)
	p.tick(context.Background(), tick.Add(time.Second))

	for _, loc := range l {
		if n := len(prov.callsFor(loc.ID)); n != 2 {
			t.Errorf("%s fetched %d times, want 2", loc.ID, n)
		}
	}
	if out.count() != 12 {
		t.Fatalf("produced %d readings, want 12", out.count())
	}
	for i, key := range out.keys {
		r, err := weather.Decode(out.data[i])
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if r.Location.ID != key {
			t.Errorf("record %d: partition key %q for location %q", i, key, r.Location.ID)
		}
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("ok")); got != 12 {
		t.Errorf("weatherd_poll_requests_total{outcome=ok} = %v, want 12", got)
	}
	if got := testutil.ToFloat64(p.metrics.ticks); got != 2 {
		t.Errorf("ticks = %v, want 2", got)
	}
	if n := strings.Count(logs.String(), `msg=poll `); n != 2 {
		t.Errorf("want one log line per tick, got %d:\n%s", n, logs)
	}
}

func TestPoller_SpreadsRequestsOverTheTick(t *testing.T) {
	prov := &scripted{fetch: everyObservation(time.Now())}
	l := locs(12)
	cfg := testConfig("@every 1s")
	cfg.Concurrency = 12
	p, _, _ := newPoller(t, cfg, l, prov, &recorder{})
	at := time.Now().Truncate(time.Second)
	spread := p.spread(at)
	if spread != 400*time.Millisecond {
		t.Fatalf("spread = %v, want min(400ms, half the 1s interval)", spread)
	}
	start := time.Now()
	p.tick(context.Background(), at)

	// Each location waits for its own offset within the spread: the offsets
	// are not one burst, and no fetch goes out before its offset (a loaded
	// machine only makes fetches later, so only that bound is checked).
	var lo, hi time.Duration = spread, 0
	for _, loc := range l {
		off := jitter(loc.ID, at, spread)
		lo, hi = min(lo, off), max(hi, off)
		calls := prov.callsFor(loc.ID)
		if len(calls) != 1 {
			t.Fatalf("%s fetched %d times, want 1", loc.ID, len(calls))
		}
		if early := start.Add(off).Sub(calls[0]); early > 0 {
			t.Errorf("%s fetched %v before its offset %v in the spread", loc.ID, early, off)
		}
	}
	if hi-lo < 100*time.Millisecond {
		t.Errorf("offsets span %v (%v to %v), want the 12 fetches spread over the 400ms, not a burst", hi-lo, lo, hi)
	}
}

func TestPoller_SkipsDuplicateObservations(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	prov := &scripted{fetch: func(loc weather.Location, n int) (weather.Reading, error) {
		return weather.NewReading(loc, "scripted", at, time.Now(), weather.Values{}), nil // never changes
	}}
	out := &recorder{}
	p, _, _ := newPoller(t, testConfig("@every 1s"), locs(3), prov, out)
	p.tick(context.Background(), at)
	p.tick(context.Background(), at.Add(time.Second))
	if out.count() != 3 {
		t.Errorf("produced %d, want 3 (one per location; the second tick repeats them)", out.count())
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("duplicate")); got != 3 {
		t.Errorf("duplicates counted = %v, want 3", got)
	}
}

func TestPoller_SlowTickSkipsTheNext(t *testing.T) {
	prov := &scripted{fetch: everyObservation(time.Now()), delay: 1500 * time.Millisecond}
	cfg := testConfig("@every 1s")
	cfg.Spread = 0
	p, _, logs := newPoller(t, cfg, locs(1), prov, &recorder{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	// The first tick (at T) takes 1.5s, so T+1s is skipped and the second
	// fetch belongs to the tick at T+2s.
	deadline := time.Now().Add(10 * time.Second)
	for len(prov.callsFor("loc-00")) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	calls := prov.callsFor("loc-00")
	if len(calls) != 2 {
		t.Fatalf("fetched %d times, want 2", len(calls))
	}
	// The warning names the tick that ran long (T); the second fetch must
	// belong to T+2s, not T+1s. A loaded machine only delays fetches, so
	// the check is a lower bound on the fetch time.
	m := regexp.MustCompile(`skipping.* tick=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("skip not logged:\n%s", logs)
	}
	slow, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if calls[0].Before(slow) || calls[1].Before(slow.Add(2*time.Second)) {
		t.Errorf("fetches at %v and %v; want the first at or after the tick %v and the second at or after %v (the tick in between skipped)",
			calls[0].Format(time.StampMilli), calls[1].Format(time.StampMilli), slow.Format(time.StampMilli), slow.Add(2*time.Second).Format(time.StampMilli))
	}
	if got := testutil.ToFloat64(p.metrics.ticksSkipped); got != 1 {
		t.Errorf("skipped ticks = %v, want 1", got)
	}
}

func TestPoller_OneErrorLinePerTick(t *testing.T) {
	prov := &scripted{fetch: func(weather.Location, int) (weather.Reading, error) {
		return weather.Reading{}, fmt.Errorf("tomorrowio: key refused (401): %w", provider.ErrUnauthorized)
	}}
	p, _, logs := newPoller(t, testConfig("@every 1s"), locs(5), prov, &recorder{})
	p.tick(context.Background(), time.Now().Truncate(time.Second))
	if n := strings.Count(logs.String(), "poll failures"); n != 1 {
		t.Errorf("want one error line for the tick, got %d:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "outcome=unauthorized count=5") {
		t.Errorf("error line does not count the failures:\n%s", logs)
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("unauthorized")); got != 5 {
		t.Errorf("unauthorized = %v, want 5", got)
	}
}

func TestPoller_BufferFullRetriesTheObservationNextTick(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	prov := &scripted{fetch: func(loc weather.Location, n int) (weather.Reading, error) {
		return weather.NewReading(loc, "scripted", at, time.Now(), weather.Values{}), nil
	}}
	out := &recorder{full: true}
	p, _, _ := newPoller(t, testConfig("@every 1s"), locs(2), prov, out)
	p.tick(context.Background(), at) // refused
	out.full = false
	p.tick(context.Background(), at.Add(time.Second)) // accepted
	if out.count() != 2 {
		t.Errorf("produced %d, want the 2 refused observations on the next tick", out.count())
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("buffer_full")); got != 2 {
		t.Errorf("buffer_full = %v, want 2", got)
	}
}

func TestNew_BadSchedule(t *testing.T) {
	_, err := New(testConfig("every five minutes"), locs(1), &scripted{}, &recorder{}, NewMetrics(prometheus.NewRegistry()), slog.Default())
	if err == nil || !strings.Contains(err.Error(), `poller.schedule: bad cron spec "every five minutes"`) {
		t.Errorf("err = %v", err)
	}
}

func TestParseSchedule_CronTZ(t *testing.T) {
	s, err := ParseSchedule("CRON_TZ=America/Sao_Paulo 0 7 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := s.Next(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next = %v, want %v (07:00 in São Paulo)", next.UTC(), want)
	}
}
