package alert

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/pipeline"
	"github.com/weatherd/weatherd/pkg/weather"
)

// The pipeline hands forecasts to the engine through this seam.
var _ pipeline.ForecastObserver = (*Engine)(nil)

// fcast is a forecast of loc issued at t0+issued with hourly steps from the
// first whole hour at or after it, of one value name (nil is null).
func fcast(loc string, issued time.Duration, name string, vals ...any) weather.Forecast {
	l := weather.Location{ID: loc, Name: loc}
	for _, x := range testLocations {
		if x.ID == loc {
			l = x
		}
	}
	at := t0.Add(issued)
	first := at.Truncate(time.Hour)
	if first.Before(at) {
		first = first.Add(time.Hour)
	}
	steps := make([]weather.ForecastStep, len(vals))
	for i, v := range vals {
		s := weather.ForecastStep{ValidAt: first.Add(time.Duration(i) * time.Hour), Values: weather.Values{}}
		switch x := v.(type) {
		case nil:
			s.Values.SetNull(name)
		case int:
			s.Values.Set(name, float64(x))
		case float64:
			s.Values.Set(name, x)
		}
		steps[i] = s
	}
	return weather.NewForecast(l, "simulated", at, at, steps)
}

func (h *harness) forecast(tb testing.TB, fs ...weather.Forecast) {
	tb.Helper()
	for _, f := range fs {
		if err := h.e.ObserveForecast(context.Background(), f); err != nil {
			tb.Fatalf("ObserveForecast(%s): %v", f.EventID, err)
		}
	}
	h.deliver()
}

func (r *recorder) sms() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, m := range r.msgs {
		out = append(out, m.SMS)
	}
	return out
}

func fcRule(name, src string, within time.Duration, mod ...func(*RuleConfig)) RuleConfig {
	return rule(name, src, append([]func(*RuleConfig){func(r *RuleConfig) {
		r.Forecast = ForecastConfig{Within: within}
	}}, mod...)...)
}

func summary(s string) func(*RuleConfig) { return func(r *RuleConfig) { r.Summary = s } }

func TestEngine_ObserveForecast(t *testing.T) {
	shift := func(d time.Duration) func(*RuleConfig) { return func(r *RuleConfig) { r.Forecast.UpdateShift = d } }
	tier := func(g string, n int) func(*RuleConfig) { return func(r *RuleConfig) { r.Group, r.Tier = g, n } }
	gust := func(issued time.Duration, vals ...any) weather.Forecast {
		return fcast("sao-paulo", issued, "windGust", vals...)
	}
	type step struct {
		forecast *weather.Forecast
		reading  *weather.Reading
		tick     time.Duration // set the clock to t0+tick and Tick
	}
	f := func(fc weather.Forecast) step { return step{forecast: &fc} }
	r := func(rd weather.Reading) step { return step{reading: &rd} }
	tests := []struct {
		name  string
		rules []RuleConfig
		steps []step
		want  []string // SMS texts delivered, in order
		trans map[string]int
	}{
		{
			// t0 is 09:00 in São Paulo (UTC-3); 28 m/s is 101 km/h.
			name:  "PredictedRefreshShiftedCleared",
			rules: []RuleConfig{fcRule("wind-ahead", "windGust >= 20", 12*time.Hour, shift(2*time.Hour), summary("Strong wind"))},
			steps: []step{
				f(gust(0, 5, 5, 25, 28, 5)),          // onset 11:00
				f(gust(0, 5, 5, 25, 28, 5)),          // the same forecast again
				f(gust(time.Hour, 5, 24, 27, 5)),     // a refresh saying the same
				f(gust(90*time.Minute, 5, 5, 5, 26)), // from 11:00: onset 14:00, 3 h later
				f(gust(100*time.Minute, 5, 5, 5, 5)), // cleared
			},
			want: []string{
				"WARNING: Strong wind expected in Sao Paulo at 11:00 (in 2 h): gusts up to 101 km/h",
				"WARNING: Strong wind now expected in Sao Paulo at 14:00 (in 3 h 30 min, was 11:00): gusts up to 94 km/h",
				"Strong wind no longer expected in Sao Paulo (was forecast for 14:00)",
			},
			trans: map[string]int{"wind-ahead/predicted": 1, "wind-ahead/updated": 1, "wind-ahead/cancelled": 1},
		},
		{
			// The shift counts from the onset announced, so drifts of less
			// than update_shift each do not add up to silence.
			name:  "ShiftWithinUpdateShiftIsSilent",
			rules: []RuleConfig{fcRule("wind-ahead", "windGust >= 20", 12*time.Hour, shift(90*time.Minute))},
			steps: []step{
				f(gust(0, 5, 5, 5, 5, 25, 5)),        // onset 13:00
				f(gust(time.Hour, 5, 5, 5, 5, 25)),   // 14:00: 1 h later, silent
				f(gust(2*time.Hour, 5, 5, 5, 5, 25)), // 15:00: 2 h after the announced 13:00
				f(gust(3*time.Hour, 5, 5, 5, 25)),    // 15:00 again
			},
			want: []string{
				"WARNING: Wind ahead expected in Sao Paulo at 13:00 (in 4 h): gusts up to 90 km/h",
				"WARNING: Wind ahead now expected in Sao Paulo at 15:00 (in 4 h, was 13:00): gusts up to 90 km/h",
			},
			trans: map[string]int{"wind-ahead/predicted": 1, "wind-ahead/updated": 1},
		},
		{
			// Forecasts come out of order: an older issued_at says nothing.
			name:  "OlderIssuedAtIsIgnored",
			rules: []RuleConfig{fcRule("wind-ahead", "windGust >= 20", 12*time.Hour)},
			steps: []step{
				f(gust(time.Hour, 5, 25, 5)),      // issued 10:00, onset 11:00
				f(gust(0, 5, 5, 5, 5)),            // issued 09:00: would cancel
				f(gust(30*time.Minute, 5, 5, 5)),  // issued 09:30: would cancel
				f(gust(59*time.Minute, 5, 5, 25)), // issued 09:59: would move it
				f(gust(time.Hour, 5, 5, 5)),       // the same issue time again
			},
			want:  []string{"WARNING: Wind ahead expected in Sao Paulo at 11:00 (in 1 h): gusts up to 90 km/h"},
			trans: map[string]int{"wind-ahead/predicted": 1, "wind-ahead/cancelled": 0, "wind-ahead/updated": 0},
		},
		{
			// The linked realtime rule fires at the onset: the forecast
			// alert ends without a word, the realtime alert fires once, and
			// forecasts showing the wind still blowing are no new
			// prediction; once one shows it gone, the next front is.
			name: "HandOverToTheLinkedRealtimeRule",
			rules: []RuleConfig{
				rule("strong-wind", "windGust >= 20", summary("Strong wind")),
				fcRule("wind-ahead", "windGust >= 20", 12*time.Hour, summary("Strong wind"),
					func(r *RuleConfig) { r.Forecast.Realtime = "strong-wind" }),
			},
			steps: []step{
				f(gust(0, 5, 5, 25, 5)),
				r(rd("sao-paulo", 110, "windGust", 8)),
				r(rd("sao-paulo", 120, "windGust", 25)), // the front, on time
				f(gust(130*time.Minute, 26, 24, 5)),     // still blowing: not a prediction
				r(rd("sao-paulo", 135, "windGust", 27)),
				f(gust(4*time.Hour, 5, 5, 30, 5)), // gone, and a new front at 15:00
			},
			want: []string{
				"WARNING: Strong wind expected in Sao Paulo at 11:00 (in 2 h): gusts up to 90 km/h",
				"WARNING: Strong wind in Sao Paulo at 11:00: gusts 90 km/h",
				"WARNING: Strong wind expected in Sao Paulo at 15:00 (in 2 h): gusts up to 108 km/h",
			},
			trans: map[string]int{"wind-ahead/predicted": 2, "wind-ahead/handover": 1, "wind-ahead/cancelled": 0,
				"strong-wind/firing": 1, "strong-wind/repeat": 0},
		},
		{
			// Without a linked rule the onset passing on Run's clock ends it
			// quietly; so does a later forecast issued after the onset.
			name: "OccursWithoutAWord",
			rules: []RuleConfig{
				fcRule("wind-ahead", "windGust >= 20", 12*time.Hour, func(r *RuleConfig) { r.Locations = []string{"sao-paulo"} }),
			},
			steps: []step{
				f(gust(0, 5, 5, 25, 5)),
				{tick: 119 * time.Minute},
				{tick: 120 * time.Minute},
				f(gust(150*time.Minute, 25, 5)), // the wind now: not a new prediction
				f(gust(4*time.Hour, 5, 25)),     // a new front after a gap
			},
			want: []string{
				"WARNING: Wind ahead expected in Sao Paulo at 11:00 (in 2 h): gusts up to 90 km/h",
				"WARNING: Wind ahead expected in Sao Paulo at 14:00 (in 1 h): gusts up to 90 km/h",
			},
			trans: map[string]int{"wind-ahead/predicted": 2, "wind-ahead/occurred": 1, "wind-ahead/cancelled": 0},
		},
		{
			// No clock tick: the first forecast issued at or after the
			// onset ends the alert, and shows the wind now, not ahead.
			name:  "AForecastIssuedAfterTheOnsetEndsIt",
			rules: []RuleConfig{fcRule("wind-ahead", "windGust >= 20", 12*time.Hour)},
			steps: []step{
				f(gust(0, 5, 5, 25, 5)),
				f(gust(2*time.Hour, 25, 24, 5)),
				f(gust(3*time.Hour, 5, 30)),
			},
			want: []string{
				"WARNING: Wind ahead expected in Sao Paulo at 11:00 (in 2 h): gusts up to 90 km/h",
				"WARNING: Wind ahead expected in Sao Paulo at 13:00 (in 1 h): gusts up to 108 km/h",
			},
			trans: map[string]int{"wind-ahead/predicted": 2, "wind-ahead/occurred": 1, "wind-ahead/cancelled": 0},
		},
		{
			name: "TiersEscalateAndCancelOnce",
			rules: []RuleConfig{
				fcRule("wind-20", "windGust >= 20", 12*time.Hour, tier("wind-ahead", 1), summary("Strong wind")),
				fcRule("wind-30", "windGust >= 30", 12*time.Hour, tier("wind-ahead", 2), summary("Gale"),
					func(r *RuleConfig) { r.Severity = "critical" }),
			},
			steps: []step{
				f(gust(0, 5, 5, 25, 5)),
				f(gust(time.Hour, 5, 32, 5)),  // the higher tier: its notice is the update
				f(gust(90*time.Minute, 5, 5)), // cleared: one cancellation, the highest tier's
			},
			want: []string{
				"WARNING: Strong wind expected in Sao Paulo at 11:00 (in 2 h): gusts up to 90 km/h",
				"CRITICAL: Gale expected in Sao Paulo at 11:00 (in 1 h): gusts up to 115 km/h",
				"Gale no longer expected in Sao Paulo (was forecast for 11:00)",
			},
			trans: map[string]int{"wind-20/predicted": 1, "wind-30/predicted": 1, "wind-20/cancelled": 1, "wind-30/cancelled": 1},
		},
		{
			name: "TiersInOneForecastSendOnlyTheHighest",
			rules: []RuleConfig{
				fcRule("wind-20", "windGust >= 20", 12*time.Hour, tier("wind-ahead", 1)),
				fcRule("wind-30", "windGust >= 30", 12*time.Hour, tier("wind-ahead", 2)),
			},
			steps: []step{f(gust(0, 5, 25, 35, 5))},
			want:  []string{"WARNING: Wind 30 expected in Sao Paulo at 11:00 (in 2 h): gusts up to 126 km/h"},
			trans: map[string]int{"wind-20/predicted": 1, "wind-30/predicted": 1},
		},
		{
			name:  "BeyondTheHorizonIsNotExpected",
			rules: []RuleConfig{fcRule("wind-ahead", "windGust >= 20", 2*time.Hour)},
			steps: []step{f(gust(0, 5, 5, 5, 25))},
			want:  []string{},
		},
		{
			name:  "ForecastWithoutTheValuesSaysNothing",
			rules: []RuleConfig{fcRule("wind-ahead", "windGust >= 20", 12*time.Hour)},
			steps: []step{
				f(gust(0, 5, 25)),
				f(fcast("sao-paulo", time.Hour, "temperature", 20, 21)),
				f(gust(2*time.Hour, nil, nil)),
			},
			want: []string{"WARNING: Wind ahead expected in Sao Paulo at 10:00 (in 1 h): gusts up to 90 km/h"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig(tc.rules...), Deps{})
			for _, s := range tc.steps {
				switch {
				case s.forecast != nil:
					h.forecast(t, *s.forecast)
				case s.reading != nil:
					h.observe(t, *s.reading)
				default:
					h.clk.Set(t0.Add(s.tick))
					h.e.Tick(context.Background())
				}
			}
			if got := h.rec["rec"].sms(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
			}
			for k, want := range tc.trans {
				r, st, _ := strings.Cut(k, "/")
				if got := h.transitions(r, st); got != want {
					t.Errorf("transitions{%s,%s} = %d, want %d", r, st, got, want)
				}
			}
		})
	}
}

// TestEngine_ForecastFrost is the README's frost example: the lowest
// temperature of the frost, in each channel's units, with the location's
// real name in the email body.
func TestEngine_ForecastFrost(t *testing.T) {
	cfg := testConfig(fcRule("frost", "temperature <= 0", 18*time.Hour, summary("Frost"),
		func(r *RuleConfig) { r.Channels = []string{"rec", "us"} }))
	cfg.Channels["us"] = ChannelConfig{Type: "log", Units: "imperial"}
	h := newHarness(t, cfg, Deps{})
	// Issued 18:00 local on Thursday; the frost from 03:00, -2.6 °C at worst.
	h.forecast(t, fcast("sao-paulo", 9*time.Hour, "temperature", 4, 3, 2.5, 2, 1.5, 1, 0.5, 0.4, 0.2, -0.5, -2.6, -1.8, 0.4, 3))
	rec, us := h.rec["rec"].msgs, h.rec["us"].msgs
	if len(rec) != 1 || len(us) != 1 {
		t.Fatalf("%d and %d messages, want 1 each", len(rec), len(us))
	}
	if want := "[WARNING] Frost expected in Sao Paulo at Fri 03:00"; rec[0].Subject != want {
		t.Errorf("subject = %q, want %q", rec[0].Subject, want)
	}
	wantText := `Frost expected in São Paulo at Fri 03:00 (in 9 h): temperature down to -2.6 °C.

Location:  São Paulo (sao-paulo)
Rule:      frost, severity warning
Condition: temperature <= 0
Forecast:  issued 2026-11-26 21:00 UTC
Onset:     2026-11-27 06:00 UTC (Fri 03:00 local time)
`
	if rec[0].Text != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", rec[0].Text, wantText)
	}
	if want := "WARNING: Frost expected in Sao Paulo at Fri 03:00 (in 9 h): temperature down to 27.3 F"; us[0].SMS != want {
		t.Errorf("imperial sms = %q, want %q", us[0].SMS, want)
	}
	if a := rec[0].Attributes; a["state"] != "predicted" || a["rule"] != "frost" || a["location"] != "sao-paulo" {
		t.Errorf("attributes = %v", a)
	}
}

// TestEngine_ForecastWindowAndDigest: a forecast notice waits for the
// channel's delivery window like any other, and a digest lists what is
// still expected.
func TestEngine_ForecastWindowAndDigest(t *testing.T) {
	cfg := testConfig(fcRule("frost", "temperature <= 0", 24*time.Hour, summary("Frost"),
		func(r *RuleConfig) { r.Channels = []string{"day"} }))
	cfg.Channels["day"] = ChannelConfig{Type: "log", Window: WindowConfig{Start: "0 10 * * *", Duration: 2 * time.Hour}}
	cfg.Channels["daily"] = ChannelConfig{Type: "log", Digest: DigestConfig{Schedule: "0 10 * * *", Timezone: "America/Sao_Paulo"}}
	h := newHarness(t, cfg, Deps{})
	h.observe(t, rd("sao-paulo", 0, "temperature", 8))
	h.forecast(t, fcast("sao-paulo", 0, "temperature", 8, 6, 4, 2, 0, -1, 1)) // onset 13:00 local
	if got := h.rec["day"].lines(); len(got) != 0 {
		t.Fatalf("before the window: %q", got)
	}
	h.clk.Set(t0.Add(time.Hour)) // 10:00 local: the window opens, the digest runs
	h.e.Tick(context.Background())
	if got, want := h.rec["day"].sms(), []string{"WARNING: Frost expected in Sao Paulo at 13:00 (in 3 h): temperature down to -1 C"}; !reflect.DeepEqual(got, want) {
		t.Errorf("window channel: %q, want %q (the lead counted from the sending, an hour after the issue)", got, want)
	}
	dg := h.rec["daily"].msgs
	if len(dg) != 1 {
		t.Fatalf("%d digests, want 1", len(dg))
	}
	if !strings.HasSuffix(dg[0].Text, "Expected:\n  Thu 13:00  Frost (warning)\n") {
		t.Errorf("digest text:\n%s", dg[0].Text)
	}
	if want := "; expected: Frost Thu 13:00"; !strings.HasSuffix(dg[0].SMS, want) {
		t.Errorf("digest sms %q, want it to end with %q", dg[0].SMS, want)
	}
}

// TestEngine_ForecastState: a forecast alert is stored with the phases the
// API lists, and ends inactive.
func TestEngine_ForecastState(t *testing.T) {
	h := newHarness(t, testConfig(fcRule("wind-ahead", "windGust >= 20", 12*time.Hour)), Deps{})
	h.forecast(t, fcast("toronto", 0, "windGust", 5, 25))
	a, ok, err := h.e.store.Get(context.Background(), "toronto", "wind-ahead")
	if err != nil || !ok {
		t.Fatalf("Get: %v %v", ok, err)
	}
	if a.Phase != phasePredicted || !a.Onset.Equal(t0.Add(time.Hour)) || !a.LastEval.Equal(t0) || len(a.Outbox) != 0 {
		t.Errorf("stored %+v", a)
	}
	h.forecast(t, fcast("toronto", 30*time.Minute, "windGust", 5, 5, 5))
	a, _, _ = h.e.store.Get(context.Background(), "toronto", "wind-ahead")
	if a.Phase != phaseInactive || !a.Onset.IsZero() {
		t.Errorf("after the cancellation: %+v", a)
	}
	if got, want := h.rec["rec"].lines(), []string{"predicted wind-ahead toronto", "cancelled wind-ahead toronto"}; !reflect.DeepEqual(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

// TestEngine_ForecastHeldPredictionFolds: while a prediction waits for the
// channel's window, an update replaces it (people get one notice, with the
// latest onset) and a cancellation removes it (they get none).
func TestEngine_ForecastHeldPredictionFolds(t *testing.T) {
	cfg := testConfig(fcRule("frost", "temperature <= 0", 24*time.Hour, summary("Frost")))
	cfg.Channels["rec"] = ChannelConfig{Type: "log", Window: WindowConfig{Start: "0 10 * * *", Duration: 2 * time.Hour}}
	h := newHarness(t, cfg, Deps{})
	h.forecast(t,
		fcast("sao-paulo", 0, "temperature", 8, 6, 4, 2, 0, -1, 1),                 // 13:00 local
		fcast("sao-paulo", 10*time.Minute, "temperature", 8, 6, 4, 2, 1, 1, 1, -3), // 17:00 local: an update
		fcast("toronto", 0, "temperature", 3, 2, -1, 1),                            // 09:00 local
		fcast("toronto", 10*time.Minute, "temperature", 3, 2, 1, 1),                // cancelled
	)
	if got := h.transitions("frost", kindUpdated) + h.transitions("frost", kindForecastCancelled); got != 2 {
		t.Fatalf("%d updates and cancellations recorded, want 2", got)
	}
	h.clk.Set(t0.Add(3 * time.Hour)) // both windows open (10:00 in Toronto)
	h.e.Tick(context.Background())
	if got, want := h.rec["rec"].sms(), []string{"WARNING: Frost expected in Sao Paulo at 17:00 (in 5 h): temperature down to -3 C"}; !reflect.DeepEqual(got, want) { // sent at 12:00 local
		t.Errorf("messages %q, want %q", got, want)
	}
	if n := h.e.outboxLen.Load(); n != 0 {
		t.Errorf("outbox = %d, want 0", n)
	}
}

// TestEngine_ForecastLogLine: the log channel's line for a forecast notice
// carries the location and the rule, like other notifications.
func TestEngine_ForecastLogLine(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	clk := &clock{t: t0}
	e, err := New(testConfig(fcRule("wind-ahead", "windGust >= 20", 12*time.Hour, summary("Strong wind"))), testLocations, Deps{Now: clk.Now}, newRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ObserveForecast(context.Background(), fcast("toronto", 0, "windGust", 5, 5, 25)); err != nil {
		t.Fatal(err)
	}
	e.Tick(context.Background())
	var lines []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, `msg="alert notification"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("notification lines:\n%s", buf.String())
	}
	for _, want := range []string{"state=predicted", "rule=wind-ahead", "location=toronto",
		`text="WARNING: Strong wind expected in Toronto at 09:00 (in 2 h): gusts up to 90 km/h"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BenchmarkEngine_ObserveForecast measures one 24-step forecast judged by
// one forecast rule with the memory store, in the steady case (the same
// prediction again: no transition, no write).
func BenchmarkEngine_ObserveForecast(b *testing.B) {
	h := newHarness(b, testConfig(fcRule("wind-ahead", "windGust >= 17.2 || windSpeed >= 13.9", 24*time.Hour)), Deps{})
	vals := make([]any, 24)
	for i := range vals {
		vals[i] = 5.0
	}
	vals[6] = 25.0
	f := fcast("toronto", 0, "windGust", vals...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f.IssuedAt = t0.Add(time.Duration(i+1) * time.Nanosecond)
		if err := h.e.ObserveForecast(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLeadText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20 * time.Second: "under 1 min", 50 * time.Second: "1 min", 45 * time.Minute: "45 min",
		3 * time.Hour: "3 h", 150 * time.Minute: "2 h 30 min", 30 * time.Hour: "30 h",
	} {
		if got := leadText(d); got != want {
			t.Errorf("leadText(%s) = %q, want %q", d, got, want)
		}
	}
}
