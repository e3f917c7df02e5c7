package weather

import (
	"testing"
	"time"
)

func BenchmarkDecode(b *testing.B) {
	v := Values{}
	for _, name := range []string{"temperature", "temperatureApparent", "dewPoint", "humidity", "windSpeed", "windGust", "windDirection",
		"pressureSurfaceLevel", "rainIntensity", "precipitationProbability", "cloudCover", "visibility", "uvIndex", "weatherCode"} {
		v.Set(name, 12.34)
	}
	v.SetNull("cloudCeiling")
	r := NewReading(Location{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63}, "tomorrowio",
		time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC), time.Now(), v)
	data, err := r.Encode()
	if err != nil {
		b.Fatal(err)
	}
	// Decode (the fast path for weatherd's own shape) beside the general
	// path it falls back to (goccy/go-json, then Validate), in one run.
	for _, c := range []struct {
		name   string
		decode func([]byte) (Reading, error)
	}{{"fast", Decode}, {"general", generalDecode}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
