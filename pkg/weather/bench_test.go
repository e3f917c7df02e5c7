package weather

import (
	"math"
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

// BenchmarkEncodeForecast encodes a forecast of 96 hourly steps of 15
// values, beside encoding/json's encoding of the same event (the reference
// the encoder matches byte for byte), in one run.
func BenchmarkEncodeForecast(b *testing.B) {
	f := benchForecast()
	for _, c := range []struct {
		name   string
		encode func(Forecast) ([]byte, error)
	}{{"weatherd", Forecast.Encode}, {"encoding-json", referenceForecastJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.encode(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeForecast decodes the forecast of BenchmarkEncodeForecast,
// as the consumer does each forecast record.
func BenchmarkDecodeForecast(b *testing.B) {
	data, err := benchForecast().Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeForecast(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchForecast is a forecast of 96 hourly steps of 15 values.
func benchForecast() Forecast {
	issued := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	f := Forecast{Schema: ForecastSchema, EventID: ForecastEventID("sao-paulo", issued),
		Location: EventLocation{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63},
		IssuedAt: issued, IngestedAt: issued.Add(time.Second), Provider: "tomorrowio", Units: UnitsMetric}
	for i := range 96 {
		var v Values
		for j, name := range []string{"temperature", "temperatureApparent", "dewPoint", "humidity", "windSpeed", "windGust", "windDirection",
			"pressureSurfaceLevel", "rainIntensity", "precipitationProbability", "cloudCover", "visibility", "uvIndex", "weatherCode", "snowIntensity"} {
			v.Set(name, math.Round(float64(i*j)*10/7)/10) // one decimal, as providers give them
		}
		f.Steps = append(f.Steps, ForecastStep{ValidAt: issued.Add(time.Duration(i+1) * time.Hour), Values: v})
	}
	return f
}
