package alert

import (
	"context"
	"fmt"
	"testing"

	"github.com/weatherd/weatherd/pkg/weather"
)

// BenchmarkEngine_Observe measures one batch of 100 readings (100 locations)
// against the two default rules with the memory store; a fifth of the
// readings cause a transition and a notification.
func BenchmarkEngine_Observe(b *testing.B) {
	cfg := testConfig(
		rule("strong-wind", "windGust >= 17.2 || windSpeed >= 13.9", func(r *RuleConfig) { r.Clear = "windGust < 14 && windSpeed < 11" }),
		rule("heavy-rain", "rainIntensity >= 7.6", func(r *RuleConfig) { r.Clear = "rainIntensity < 2.5" }),
	)
	h := newHarness(b, cfg, Deps{})
	h.rec["rec"] = nil
	h.e.channels["rec"].sender = discard{}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]weather.Reading, 100)
		for l := range batch {
			g := 5.0
			if (i+l)%10 == 0 {
				g = 25
			}
			batch[l] = rd(fmt.Sprintf("loc-%03d", l), i, "windGust", g, "windSpeed", 3.0, "rainIntensity", 0.0, "temperature", 20.0)
		}
		if err := h.e.Observe(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/reading")
}
