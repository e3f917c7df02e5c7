package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/weather"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// clock is an injected, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// recorder is a Sender that keeps what it got and can fail on demand.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	fail int // fail this many sends
}

func (r *recorder) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("boom")
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// lines summarises messages as "state rule location".
func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, m := range r.msgs {
		out = append(out, fmt.Sprintf("%s %s %s", m.Attributes["state"], m.Attributes["rule"], m.Attributes["location"]))
	}
	return out
}

func (r *recorder) reset() { r.mu.Lock(); r.msgs = nil; r.mu.Unlock() }

var testLocations = []weather.Location{
	{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63, Timezone: "America/Sao_Paulo"},
	{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38, Timezone: "America/Toronto"},
}

func rule(name, exprSrc string, mod ...func(*RuleConfig)) RuleConfig {
	r := RuleConfig{Name: name, Expr: exprSrc, Severity: "warning", Locations: []string{"*"}, Channels: []string{"rec"}}
	for _, m := range mod {
		m(&r)
	}
	return r
}

// defaultOutbox is alerts.outbox of the embedded config.yaml.
var defaultOutbox = testkit.MustDefault[OutboxConfig]("alerts.outbox")

func testConfig(rules ...RuleConfig) Config {
	return Config{
		Rules:    rules,
		Channels: map[string]ChannelConfig{"rec": {Type: "log"}},
		State:    StateConfig{Driver: "memory"},
		Outbox:   defaultOutbox,
	}
}

type harness struct {
	e     *Engine
	rec   map[string]*recorder
	clk   *clock
	reg   *prometheus.Registry
	locs  []weather.Location
	order int
}

func newHarness(tb testing.TB, cfg Config, deps Deps) *harness {
	tb.Helper()
	h := &harness{clk: &clock{t: t0}, reg: prometheus.NewRegistry(), rec: map[string]*recorder{}, locs: testLocations}
	if deps.Now == nil {
		deps.Now = h.clk.Now
	}
	e, err := New(cfg, testLocations, deps, h.reg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	for name, ch := range e.channels {
		r := &recorder{}
		ch.sender = r
		h.rec[name] = r
	}
	h.e = e
	return h
}

func (h *harness) observe(tb testing.TB, rs ...weather.Reading) {
	tb.Helper()
	if err := h.e.Observe(context.Background(), rs); err != nil {
		tb.Fatalf("Observe: %v", err)
	}
	h.deliver()
}

// deliver does what Run does when Observe wakes it: one delivery round.
func (h *harness) deliver() {
	select {
	case <-h.e.wake:
		h.e.deliverAll(context.Background())
	default:
	}
}

// rd builds a reading of loc at t0+min minutes with name/value pairs; a nil
// value is an explicit null.
func rd(loc string, min int, kv ...any) weather.Reading {
	vals := weather.Values{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case nil:
			vals.SetNull(kv[i].(string))
		case int:
			vals.Set(kv[i].(string), float64(v))
		case float64:
			vals.Set(kv[i].(string), v)
		}
	}
	l := weather.Location{ID: loc, Name: loc}
	for _, x := range testLocations {
		if x.ID == loc {
			l = x
		}
	}
	at := t0.Add(time.Duration(min) * time.Minute)
	return weather.NewReading(l, "simulated", at, at.Add(time.Minute), vals)
}

func (h *harness) transitions(rule, st string) int {
	return int(testutil.ToFloat64(h.e.m.transitions.WithLabelValues(rule, st)))
}

func (h *harness) notifications(ch, outcome string) int {
	return int(testutil.ToFloat64(h.e.m.notifications.WithLabelValues(ch, outcome)))
}

func testGauge(g prometheus.Gauge) float64 { return testutil.ToFloat64(g) }

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func isGSM(s string) bool { return notify.IsGSM7(s) }

type discard struct{}

func (discard) Send(context.Context, notify.Message) error { return nil }
