package lake

import (
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/weatherd/weatherd/pkg/weather"
)

// BenchmarkDecode compares decoders on one core, for the report: the
// pipeline's weather.Decode (encoding/json + regexp checks) against
// goccy/go-json with and without the same Validate.
func BenchmarkDecode(b *testing.B) {
	recs := benchRecords(b, 10_000)
	run := func(b *testing.B, f func([]byte) error) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := f(recs[i%len(recs)].Data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	}
	b.Run("weather.Decode", func(b *testing.B) {
		run(b, func(d []byte) error { _, err := weather.Decode(d); return err })
	})
	b.Run("goccy+Validate", func(b *testing.B) {
		run(b, func(d []byte) error { _, err := decodeGoccy(d); return err })
	})
	b.Run("proposed", func(b *testing.B) {
		run(b, func(d []byte) error { _, err := decodeProposed(d); return err })
	})
	b.Run("goccy-only", func(b *testing.B) {
		run(b, func(d []byte) error { var r weather.Reading; return gojson.Unmarshal(d, &r) })
	})
}
