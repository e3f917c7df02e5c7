package alert

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// DefaultRules returns rules equal to config.yaml's alerts.rules (the
// embedded default); TestDefaultRules_MatchConfig (package alert_test, which
// may import pkg/config) keeps them equal.
func DefaultRules() []RuleConfig {
	return []RuleConfig{
		{
			Name: "strong-wind", Expr: "windGust >= 17.2 || windSpeed >= 13.9", Clear: "windGust < 14 && windSpeed < 11",
			Repeat: 3 * time.Hour, Severity: "warning", Locations: []string{"*"}, Channels: []string{"log"},
		},
		{
			Name: "strong-wind-ahead", Summary: "Strong wind", Expr: "windGust >= 17.2 || windSpeed >= 13.9",
			Forecast: ForecastConfig{Within: 12 * time.Hour, UpdateShift: time.Hour, Realtime: "strong-wind"},
			Severity: "warning", Locations: []string{"*"}, Channels: []string{"log"},
		},
		{
			Name: "heavy-rain", Expr: "rainIntensity >= 7.6", Clear: "rainIntensity < 2.5",
			Repeat: 3 * time.Hour, Severity: "warning", Locations: []string{"*"}, Channels: []string{"log"},
		},
	}
}

// BenchmarkEngine_Observe measures one batch of 100 readings (100 locations)
// with the memory store; a fifth of the readings cause a transition and a
// notification (rendering it dominates). "test-rules" are the package
// tests' versions of the two default rules (no repeat, channel rec);
// "default-rules" are config.yaml's; "default-rules-steady" are config.yaml's
// on readings that cause no transition, as most real ones: the cost of
// evaluation alone. Delivery (rendering and sending the notifications) runs
// after each batch outside the timer, so the outbox stays short as it does
// beside a running engine. The readings are copied from prepared ones (only their
// times change), so the figures are the engine's.
func BenchmarkEngine_Observe(b *testing.B) {
	b.Run("test-rules", func(b *testing.B) {
		cfg := testConfig(
			rule("strong-wind", "windGust >= 17.2 || windSpeed >= 13.9", func(r *RuleConfig) { r.Clear = "windGust < 14 && windSpeed < 11" }),
			rule("heavy-rain", "rainIntensity >= 7.6", func(r *RuleConfig) { r.Clear = "rainIntensity < 2.5" }),
		)
		benchObserve(b, cfg, "rec", 10)
	})
	defaults := Config{
		Rules:    DefaultRules(),
		Channels: map[string]ChannelConfig{"log": {Type: "log"}},
		State:    StateConfig{Driver: "memory"},
		Outbox:   defaultOutbox,
	}
	b.Run("default-rules", func(b *testing.B) { benchObserve(b, defaults, "log", 10) })
	b.Run("default-rules-steady", func(b *testing.B) { benchObserve(b, defaults, "log", 0) })
}

// benchObserve observes batches in which location l's reading of batch i is
// a gusty one (gust 25 m/s: firing, resolved by the next) when (i+l)%every
// is 0, and a calm one otherwise; every 0 means never gusty.
func benchObserve(b *testing.B, cfg Config, channel string, every int) {
	h := newHarness(b, cfg, Deps{})
	h.e.channels[channel].sender = discard{}
	// calm[l] and gusty[l] are location l's two kinds of reading.
	calm := make([]weather.Reading, 100)
	gusty := make([]weather.Reading, 100)
	for l := range calm {
		id := fmt.Sprintf("loc-%03d", l)
		calm[l] = rd(id, 0, "windGust", 5.0+float64(l%7), "windSpeed", 3.0, "rainIntensity", float64(l%3), "temperature", 20.0)
		gusty[l] = rd(id, 0, "windGust", 25.0, "windSpeed", 3.0, "rainIntensity", 0.0, "temperature", 20.0)
	}
	batch := make([]weather.Reading, 100)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		for l := range batch {
			batch[l] = calm[l]
			if every > 0 && (i+l)%every == 0 {
				batch[l] = gusty[l]
			}
			batch[l].ObservedAt = at
			batch[l].IngestedAt = at.Add(time.Minute)
		}
		if err := h.e.Observe(ctx, batch); err != nil {
			b.Fatal(err)
		}
		// Deliver what the batch queued, as Run does beside the consumer,
		// outside the timer: without it the outbox fills up after
		// alerts.outbox.limit notifications and Observe refuses the batch.
		if every > 0 {
			b.StopTimer()
			h.deliver()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/reading")
}
