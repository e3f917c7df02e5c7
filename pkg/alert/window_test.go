package alert

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestWindow_OpenAt(t *testing.T) {
	w, err := newWindow(WindowConfig{Start: "0 7 * * *", Duration: 15 * time.Hour, Timezone: "America/Sao_Paulo"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct{ now, want string }{
		{"2026-11-27T09:59:59Z", "2026-11-27T10:00:00Z"}, // 06:59:59 local: opens at 07:00
		{"2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"}, // 07:00 local: open
		{"2026-11-28T00:59:59Z", "2026-11-28T00:59:59Z"}, // 21:59:59 local: still open
		{"2026-11-28T01:00:00Z", "2026-11-28T10:00:00Z"}, // 22:00 local: closed until tomorrow 07:00
		{"2026-11-28T04:00:00Z", "2026-11-28T10:00:00Z"}, // 01:00 local
	}
	for _, tc := range tests {
		if got := w.openAt(at(tc.now), time.UTC); !got.Equal(at(tc.want)) {
			t.Errorf("openAt(%s) = %s, want %s", tc.now, got.UTC().Format(time.RFC3339), tc.want)
		}
	}
	// Without its own zone the window follows the location's.
	w2, _ := newWindow(WindowConfig{Start: "0 7 * * *", Duration: 15 * time.Hour})
	toronto, _ := time.LoadLocation("America/Toronto")
	if got, want := w2.openAt(at("2026-11-27T10:00:00Z"), toronto), at("2026-11-27T12:00:00Z"); !got.Equal(want) {
		t.Errorf("toronto openAt = %s, want %s", got, want)
	}
}

func TestEngine_WindowHoldsAndSummarises(t *testing.T) {
	cfg := testConfig(
		rule("gusty", "windGust >= 20", func(r *RuleConfig) { r.Channels = []string{"sms"} }),
		rule("storm", "windGust >= 40", func(r *RuleConfig) { r.Channels = []string{"sms"}; r.Severity = "critical" }),
	)
	cfg.Channels["sms"] = ChannelConfig{Type: "log", Window: WindowConfig{Start: "0 7 * * *", Duration: 15 * time.Hour}}
	h := newHarness(t, cfg, Deps{})
	ctx := context.Background()
	night := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC) // 01:00 in São Paulo
	at := func(m int) time.Time { return night.Add(time.Duration(m) * time.Minute) }
	reading := func(m int, g float64) {
		h.clk.Set(at(m))
		r := rd("sao-paulo", 0, "windGust", g)
		r.ObservedAt = at(m)
		r.EventID = "sao-paulo/" + at(m).Format(time.RFC3339)
		h.observe(t, r)
	}
	reading(0, 25)  // gusty fires: held until 07:00 local
	reading(30, 45) // storm fires: critical bypasses the window
	reading(60, 5)  // both resolve: storm's resolved goes out, gusty's is merged
	sms := h.rec["sms"]
	if got, want := sms.lines(), []string{"firing storm sao-paulo", "resolved storm sao-paulo"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("before the window: %q, want %q", got, want)
	}
	if got := h.notifications("sms", outcomeHeld); got != 1 {
		t.Errorf("held = %d, want 1", got)
	}
	if got := h.notifications("sms", outcomeSummarized); got != 1 {
		t.Errorf("summarized = %d, want 1", got)
	}
	h.clk.Set(time.Date(2026, 11, 27, 9, 59, 59, 0, time.UTC))
	h.e.Tick(ctx)
	if got := len(sms.lines()); got != 2 {
		t.Fatalf("at 06:59:59 local %d messages, want 2", got)
	}
	if got := int(testGauge(h.e.m.held)); got != 1 {
		t.Errorf("held gauge = %d, want 1", got)
	}
	h.clk.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	h.e.Tick(ctx)
	got := sms.msgs[len(sms.msgs)-1]
	if got.Subject != "[RESOLVED] Gusty over in Sao Paulo" {
		t.Errorf("subject = %q", got.Subject)
	}
	if want := "Gusty over in Sao Paulo at 02:00 (fired, then resolved): gusts 18 km/h"; got.SMS != want {
		t.Errorf("sms = %q, want %q", got.SMS, want)
	}
	wantText := `Gusty over in São Paulo at 02:00 (fired, then resolved): gusts 18 km/h.

Location:  São Paulo (sao-paulo)
Rule:      gusty, severity warning
Condition: windGust >= 20
Observed:  2026-11-27 05:00 UTC (02:00 local time)
Since:     2026-11-27 04:00 UTC

While notifications were held:
  2026-11-27 04:00 UTC  firing
  2026-11-27 05:00 UTC  resolved
`
	if got.Text != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", got.Text, wantText)
	}
	if len(sms.lines()) != 3 || int(testGauge(h.e.m.held)) != 0 || h.e.outboxLen.Load() != 0 {
		t.Errorf("after the window opened: %d messages, held %v, outbox %d", len(sms.lines()), testGauge(h.e.m.held), h.e.outboxLen.Load())
	}
}

func TestEngine_WindowHoldCritical(t *testing.T) {
	cfg := testConfig(rule("storm", "windGust >= 40", func(r *RuleConfig) { r.Severity = "critical" }))
	cfg.Channels["rec"] = ChannelConfig{Type: "log", Window: WindowConfig{Start: "0 7 * * *", Duration: 15 * time.Hour, Timezone: "UTC", HoldCritical: true}}
	h := newHarness(t, cfg, Deps{})
	h.clk.Set(t0.Add(12 * time.Hour)) // 00:00 UTC
	h.observe(t, rd("toronto", 0, "windGust", 45))
	if got := len(h.rec["rec"].lines()); got != 0 {
		t.Fatalf("%d messages, want 0 (held)", got)
	}
	h.clk.Set(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	h.e.Tick(context.Background())
	if got, want := h.rec["rec"].lines(), []string{"firing storm toronto"}; !reflect.DeepEqual(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
}
