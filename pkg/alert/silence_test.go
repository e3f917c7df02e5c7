package alert

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/weather"
)

func (h *harness) suppressed(reason string) int {
	return int(testutil.ToFloat64(h.e.ops.suppressed.WithLabelValues(reason)))
}

func (h *harness) alert(tb testing.TB, loc, rule string) api.Alert {
	tb.Helper()
	as, err := h.e.Alerts(context.Background(), api.Filter{Location: loc, Rule: rule})
	if err != nil || len(as) != 1 {
		tb.Fatalf("Alerts(%s, %s) = %+v, %v; want one", loc, rule, as, err)
	}
	return as[0]
}

func (h *harness) silence(tb testing.TB, m api.Matchers, d time.Duration) api.Silence {
	tb.Helper()
	s, err := h.e.AddSilence(context.Background(), api.SilenceRequest{Matchers: m, Duration: d.String(), CreatedBy: "ops"})
	if err != nil {
		tb.Fatalf("AddSilence: %v", err)
	}
	return s
}

func TestEngine_Silence(t *testing.T) {
	gust := func(min int, v any) weather.Reading { return rd("toronto", min, "windGust", v) }
	repeat := func(r *RuleConfig) { r.Repeat = 10 * time.Minute }
	ctx := context.Background()

	t.Run("MutesThenSendsOneNoticeAfterExpiry", func(t *testing.T) {
		h := newHarness(t, testConfig(rule("gusty", "windGust >= 20", repeat)), Deps{})
		s := h.silence(t, api.Matchers{Rule: "gust*", Location: "toronto"}, time.Hour)
		if testGauge(h.e.ops.silencesActive) != 1 {
			t.Errorf("silences_active = %v, want 1", testGauge(h.e.ops.silencesActive))
		}
		h.observe(t, gust(0, 25), gust(5, 25), gust(10, 25)) // firing, then a repeat at +10m
		if got := h.rec["rec"].lines(); len(got) != 0 {
			t.Fatalf("sent %q while silenced", got)
		}
		a := h.alert(t, "toronto", "gusty")
		if !a.Silenced || !reflect.DeepEqual(a.SilencedBy, []string{s.ID}) || a.Suppressed != 2 || a.Phase != "firing" {
			t.Errorf("alert while silenced = %+v, want silenced by %s with 2 suppressed", a, s.ID)
		}
		if got := h.suppressed(reasonSilenced); got != 2 {
			t.Errorf("suppressed{silenced} = %d, want 2", got)
		}
		if ss, _ := h.e.Silences(ctx); len(ss) != 1 || ss[0].Suppressed != 2 || ss[0].State != "active" {
			t.Errorf("Silences = %+v, want one active with 2 suppressed", ss)
		}
		// Another silence on a different location does not match.
		if as, _ := h.e.Alerts(ctx, api.Filter{State: "silenced"}); len(as) != 1 {
			t.Errorf("Alerts(state=silenced) = %+v", as)
		}
		if err := h.e.ExpireSilence(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		h.observe(t, gust(12, 25))
		h.observe(t, gust(14, 25), gust(16, 25))
		if got, want := h.rec["rec"].lines(), []string{"firing gusty toronto"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after expiry sent %q, want %q (exactly one)", got, want)
		}
		if h.transitions("gusty", kindReleased) != 1 {
			t.Errorf("released transitions = %d, want 1", h.transitions("gusty", kindReleased))
		}
		if ss, _ := h.e.Silences(ctx); ss[0].State != "expired" {
			t.Errorf("silence state after expiry = %q", ss[0].State)
		}
		if testGauge(h.e.ops.silencesActive) != 0 {
			t.Errorf("silences_active = %v after expiry, want 0", testGauge(h.e.ops.silencesActive))
		}
	})

	t.Run("SilencedFromStartToEndSendsNothing", func(t *testing.T) {
		h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
		h.silence(t, api.Matchers{Location: "toronto"}, time.Hour)
		h.observe(t, gust(0, 25), gust(5, 10))
		h.clk.Set(t0.Add(2 * time.Hour))
		h.e.Tick(ctx)
		h.observe(t, gust(130, 10))
		if got := h.rec["rec"].lines(); len(got) != 0 {
			t.Fatalf("sent %q for a firing silenced throughout", got)
		}
		if got := h.suppressed(reasonSilenced); got != 1 {
			t.Errorf("suppressed{silenced} = %d, want 1 (the firing; no resolved notice is owed)", got)
		}
	})

	t.Run("SweepSendsTheNoticeWithoutANewReading", func(t *testing.T) {
		h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
		h.silence(t, api.Matchers{Rule: "gusty"}, 30*time.Minute)
		h.observe(t, gust(0, 25))
		h.e.Tick(ctx)
		if got := h.rec["rec"].lines(); len(got) != 0 {
			t.Fatalf("sent %q while silenced", got)
		}
		h.clk.Set(t0.Add(31 * time.Minute))
		h.e.Tick(ctx)
		if got, want := h.rec["rec"].lines(), []string{"firing gusty toronto"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after the silence ended sent %q, want %q", got, want)
		}
		if !strings.Contains(h.rec["rec"].msgs[0].Text, "gusts 90 km/h") { // 25 m/s
			t.Errorf("released notice lacks the firing values:\n%s", h.rec["rec"].msgs[0].Text)
		}
		h.observe(t, gust(32, 25))
		h.e.Tick(ctx)
		if got := len(h.rec["rec"].lines()); got != 1 {
			t.Errorf("%d notices, want still 1", got)
		}
	})

	t.Run("PendingSilenceDoesNotMute", func(t *testing.T) {
		h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
		start := t0.Add(time.Hour)
		if _, err := h.e.AddSilence(ctx, api.SilenceRequest{Matchers: api.Matchers{Rule: "gusty"}, StartsAt: &start, Duration: "1h"}); err != nil {
			t.Fatal(err)
		}
		h.observe(t, gust(0, 25))
		if got := h.rec["rec"].lines(); len(got) != 1 {
			t.Fatalf("sent %q, want the firing (the silence starts later)", got)
		}
	})
}

func TestEngine_Ack(t *testing.T) {
	ctx := context.Background()
	gust := func(min int, v any) weather.Reading { return rd("toronto", min, "windGust", v) }
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20", func(r *RuleConfig) { r.Repeat = 10 * time.Minute })), Deps{})
	if _, err := h.e.Ack(ctx, "toronto", "gusty", api.AckRequest{By: "ana"}); err == nil || !strings.Contains(err.Error(), "not firing") {
		t.Fatalf("Ack of an inactive alert = %v, want not firing", err)
	}
	h.observe(t, gust(0, 25))
	a, err := h.e.Ack(ctx, "toronto", "gusty", api.AckRequest{By: "ana", Comment: "crew on site"})
	if err != nil || !a.Acknowledged || a.Ack.By != "ana" {
		t.Fatalf("Ack = %+v, %v", a, err)
	}
	h.observe(t, gust(10, 25), gust(20, 25))
	h.observe(t, gust(30, 10))
	if got, want := h.rec["rec"].lines(), []string{"firing gusty toronto", "resolved gusty toronto"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %q, want %q (no repeats once acknowledged)", got, want)
	}
	if got := h.suppressed(reasonAcknowledged); got != 2 {
		t.Errorf("suppressed{acknowledged} = %d, want 2", got)
	}
	if txt := h.rec["rec"].msgs[1].Text; !strings.Contains(txt, "Acknowledged by ana: crew on site") {
		t.Errorf("resolved notice does not name who acknowledged:\n%s", txt)
	}
	// A new firing starts unacknowledged and repeats again.
	h.observe(t, gust(40, 25), gust(50, 25))
	if got := h.rec["rec"].lines(); len(got) != 4 || !strings.Contains(h.rec["rec"].msgs[3].Subject, "continues") {
		t.Errorf("after a new firing sent %q, want firing and repeat", got)
	}
}

func TestEngine_Inhibit(t *testing.T) {
	cfg := testConfig(
		rule("strong-wind", "windGust >= 20"), // a target listed before its source
		rule("heavy-rain", "rainIntensity >= 8"),
		rule("thunderstorm", "weatherCode == 8000"),
	)
	cfg.Inhibit = []InhibitConfig{{Source: MatcherConfig{Rule: "thunderstorm"}, Target: MatcherConfig{Rule: "strong-wind|heavy-rain"}, Equal: []string{"location"}}}
	h := newHarness(t, cfg, Deps{})
	storm := func(loc string, min int, code int) weather.Reading {
		return rd(loc, min, "windGust", 25, "rainIntensity", 1, "weatherCode", code)
	}
	h.observe(t, storm("toronto", 0, 8000), storm("sao-paulo", 0, 1000))
	if got, want := h.rec["rec"].lines(), []string{"firing strong-wind sao-paulo", "firing thunderstorm toronto"}; !reflect.DeepEqual(sorted(got), want) {
		t.Fatalf("sent %q, want %q (strong-wind at toronto inhibited, not at sao-paulo)", got, want)
	}
	a := h.alert(t, "toronto", "strong-wind")
	if !a.Inhibited || a.InhibitedBy != "thunderstorm@toronto" || a.Suppressed != 1 || a.Phase != "firing" {
		t.Errorf("target while inhibited = %+v", a)
	}
	if got := h.suppressed(reasonInhibited); got != 1 {
		t.Errorf("suppressed{inhibited} = %d, want 1", got)
	}
	h.rec["rec"].reset()
	h.observe(t, storm("toronto", 5, 1000)) // the storm passes, the wind stays
	if got, want := h.rec["rec"].lines(), []string{"firing strong-wind toronto", "resolved thunderstorm toronto"}; !reflect.DeepEqual(sorted(got), want) {
		t.Fatalf("after the source resolved sent %q, want %q", got, want)
	}
	if a := h.alert(t, "toronto", "strong-wind"); a.Inhibited {
		t.Errorf("target still inhibited: %+v", a)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestEngine_DigestNamesWhoAcknowledged(t *testing.T) {
	cfg := testConfig(rule("gusty", "windGust >= 20"))
	cfg.Channels["daily"] = ChannelConfig{Type: "log", Digest: DigestConfig{Schedule: "0 7 * * *", Timezone: "America/Sao_Paulo"}}
	h := newHarness(t, cfg, Deps{})
	h.observe(t, rd("toronto", 0, "windGust", 30))
	if _, err := h.e.Ack(context.Background(), "toronto", "gusty", api.AckRequest{By: "ana"}); err != nil {
		t.Fatal(err)
	}
	h.observe(t, rd("toronto", 30, "windGust", 5))
	h.clk.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	h.e.Tick(context.Background())
	msgs := h.rec["daily"].msgs
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "  gusty: fired 1, resolved 1, acknowledged by ana\n") {
		t.Fatalf("digest does not name who acknowledged: %+v", msgs)
	}
}

func TestEngine_Locations(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	r := rd("toronto", 5, "windGust", 12, "temperature", nil, "humidity", 81.5, "pollenTree", 3)
	h.observe(t, r)
	r.Values.Set("windGust", 99) // the consumer reuses its readings' values
	r.Values.Set("pollenTree", 4)
	ls, err := h.e.Locations(context.Background())
	if err != nil || len(ls) != 2 {
		t.Fatalf("Locations = %+v, %v", ls, err)
	}
	want := api.Location{ID: "toronto", Name: "Toronto", Timezone: "America/Toronto", Lat: 43.65, Lon: -79.38,
		LastReadingAt: t0.Add(5 * time.Minute), Values: map[string]float64{"windGust": 12, "humidity": 81.5, "pollenTree": 3}}
	if !reflect.DeepEqual(ls[1], want) {
		t.Errorf("toronto = %+v, want %+v", ls[1], want)
	}
	if ls[0].ID != "sao-paulo" || !ls[0].LastReadingAt.IsZero() || ls[0].Values != nil {
		t.Errorf("sao-paulo, never read = %+v", ls[0])
	}
}

// TestEngine_SilenceMutesForecastNotices: a silence matching a forecast rule
// mutes its notices (counted as suppressed) while the alert's state moves
// on. A muted prediction is owed: the first update after the silence is
// sent as the prediction, and a cancellation of a prediction nobody heard
// is not sent.
func TestEngine_SilenceMutesForecastNotices(t *testing.T) {
	cfg := testConfig(fcRule("wind-ahead", "windGust >= 20", 12*time.Hour))
	silenced := func(t *testing.T) *harness {
		h := newHarness(t, cfg, Deps{})
		h.silence(t, api.Matchers{Rule: "wind-ahead", Location: "toronto"}, 30*time.Minute)
		h.forecast(t, fcast("toronto", 0, "windGust", 5, 25)) // onset 13:00
		if got := h.rec["rec"].lines(); len(got) != 0 {
			t.Fatalf("sent %q while silenced", got)
		}
		if got := h.suppressed(reasonSilenced); got != 1 {
			t.Errorf("suppressed{silenced} = %d, want 1", got)
		}
		if a := h.alert(t, "toronto", "wind-ahead"); a.Phase != phasePredicted || !a.Silenced || a.Suppressed != 1 {
			t.Errorf("under the silence: phase %q, silenced %v, suppressed %d; want %q, true, 1", a.Phase, a.Silenced, a.Suppressed, phasePredicted)
		}
		h.clk.Set(t0.Add(31 * time.Minute))
		return h
	}
	t.Run("UpdateAfterTheSilenceIsSentAsThePrediction", func(t *testing.T) {
		h := silenced(t)
		h.forecast(t, fcast("toronto", 31*time.Minute, "windGust", 5, 5, 25)) // onset 14:00
		if got, want := h.rec["rec"].lines(), []string{"predicted wind-ahead toronto"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after the silence sent %q, want %q", got, want)
		}
	})
	t.Run("CancellationOfAnUnheardPredictionIsNotSent", func(t *testing.T) {
		h := silenced(t)
		h.forecast(t, fcast("toronto", 31*time.Minute, "windGust", 5, 5, 5))
		if got := h.rec["rec"].lines(); len(got) != 0 {
			t.Errorf("sent %q for a prediction nobody was told of", got)
		}
		if a, _, _ := h.e.store.Get(context.Background(), "toronto", "wind-ahead"); a.Phase != phaseInactive || a.Unsent {
			t.Errorf("after the cancellation: phase %q, unsent %v; want inactive, false", a.Phase, a.Unsent)
		}
	})
}

// TestEngine_AddSilenceForgetsLongExpiredOnes: silences expired for more
// than a week are no longer listed, and adding a silence deletes them from
// the store, so the silences every batch reads stay few.
func TestEngine_AddSilenceForgetsLongExpiredOnes(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	old := h.silence(t, api.Matchers{Rule: "gusty"}, time.Hour)
	h.clk.Set(t0.Add(5 * 24 * time.Hour))
	recent := h.silence(t, api.Matchers{Location: "toronto"}, time.Hour)
	h.clk.Set(t0.Add(8 * 24 * time.Hour))
	listed, err := h.e.Silences(ctx)
	if err != nil || len(listed) != 1 || listed[0].ID != recent.ID {
		t.Fatalf("Silences = %+v, %v; want only %s (the other ended over a week ago)", listed, err, recent.ID)
	}
	if stored, _ := h.e.store.Silences(ctx); len(stored) != 2 {
		t.Fatalf("stored %d silences before the next add, want 2 (listing deletes nothing)", len(stored))
	}
	added := h.silence(t, api.Matchers{Rule: "gusty"}, time.Hour)
	stored, err := h.e.store.Silences(ctx)
	var ids []string
	for _, s := range stored {
		ids = append(ids, s.ID)
	}
	if want := []string{recent.ID, added.ID}; err != nil || !reflect.DeepEqual(ids, want) {
		t.Errorf("stored after an add: %q, %v; want %q (%s deleted)", ids, err, want, old.ID)
	}
}

// TestEngine_BatchMemoDropped: what a batch read for muting (the silences;
// with inhibition across locations, every stored alert) is not kept after
// the batch, at any of the locations.
func TestEngine_BatchMemoDropped(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	h.silence(t, api.Matchers{Rule: "gusty", Location: "toronto"}, 30*time.Minute)
	h.observe(t, rd("toronto", 0, "windGust", 30)) // a firing: muting reads the silences
	ls := h.e.locs["toronto"]
	if a := ls.alerts.Get("gusty"); a == nil || a.Phase != phaseFiring || a.Suppressed != 1 {
		t.Fatalf("gusty at toronto = %+v, want firing with 1 notice suppressed", a)
	}
	if ls.ops != nil {
		t.Fatalf("toronto keeps the batch's reads after it: %+v", *ls.ops)
	}
}
