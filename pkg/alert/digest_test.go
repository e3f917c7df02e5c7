package alert

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEngine_Digest(t *testing.T) {
	cfg := testConfig(rule("gusty", "windGust >= 20"))
	cfg.Channels["daily"] = ChannelConfig{Type: "log", Digest: DigestConfig{Schedule: "0 7 * * *", Timezone: "America/Sao_Paulo"}}
	cfg.Channels["daily-us"] = ChannelConfig{Type: "log", Units: "imperial", WindUnits: "mph",
		Digest: DigestConfig{Schedule: "0 7 * * *", Timezone: "America/Sao_Paulo"}}
	h := newHarness(t, cfg, Deps{})
	// t0 is 09:00 local in São Paulo; the digest runs at 07:00 local (10:00Z) the next day.
	h.observe(t,
		rd("sao-paulo", 0, "temperature", 20, "windGust", 10, "rainIntensity", 0),
		rd("sao-paulo", 30, "temperature", 25.5, "windGust", 30, "rainIntensity", 6),
		rd("sao-paulo", 60, "temperature", 18, "windGust", 12, "rainIntensity", 2),
		rd("sao-paulo", 90, "temperature", 19, "windGust", 8),
		rd("toronto", 0, "temperature", -2, "windGust", 5),
	)
	// A replayed reading is not counted twice.
	h.observe(t, rd("sao-paulo", 30, "temperature", 25.5, "windGust", 30, "rainIntensity", 6))
	h.clk.Set(time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC))
	h.e.Tick(context.Background())
	if got := len(h.rec["daily"].lines()); got != 0 {
		t.Fatalf("%d digests before 07:00 local, want 0", got)
	}
	h.clk.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	h.e.Tick(context.Background())
	daily := h.rec["daily"]
	if got, want := daily.lines(), []string{"digest digest sao-paulo", "digest digest toronto"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("digests = %q, want %q", got, want)
	}
	m := daily.msgs[0]
	if want := "Weather digest for Sao Paulo, 2026-11-27"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	// Rain: 6 mm/h for 30 min + 2 mm/h for 30 min = 4 mm (the last reading has no rain value).
	wantText := `Weather digest for São Paulo (sao-paulo)
2026-11-26 12:00 UTC to 2026-11-27 10:00 UTC, 4 readings.

Temperature: 18 °C to 25.5 °C
Max gust:    108 km/h
Rain:        4 mm (max 6 mm/h)

Alerts:
  gusty: fired 1, resolved 1
`
	if m.Text != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", m.Text, wantText)
	}
	if want := "Sao Paulo 2026-11-27: 18 C..25.5 C, gust 108 km/h, rain 4 mm, 1 alert(s)"; m.SMS != want {
		t.Errorf("sms = %q, want %q", m.SMS, want)
	}
	// A channel in imperial units shows the digest in its units.
	if us := h.rec["daily-us"].msgs; len(us) != 2 || !strings.Contains(us[0].Text, `
Temperature: 64.4 °F to 77.9 °F
Max gust:    67 mph
Rain:        0.16 in (max 0.24 in/h)
`) {
		t.Errorf("imperial digests: %d, first:\n%s", len(us), us[0].Text)
	}
	// The next period starts empty: nothing to send at the next run.
	h.clk.Set(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	h.e.Tick(context.Background())
	if got := len(daily.lines()); got != 2 {
		t.Errorf("%d digests after an empty day, want 2", got)
	}
}
