package tomorrowio

import (
	"math"

	"github.com/weatherd/weatherd/pkg/weather"
)

// Conversion factors from Tomorrow.io's imperial units to its metric ones.
const (
	mphToMS     = 0.44704  // mph → m/s
	inHgToHPa   = 33.8639  // inHg → hPa
	inchToMM    = 25.4     // in, in/h → mm, mm/h
	mileToKM    = 1.609344 // mi → km
	roundDigits = 100      // metric values keep two decimals, as the API sends them
)

// imperial says how each imperial value converts; values not listed (%,
// degrees, codes, indices) are the same in both systems.
var imperial = map[string]func(float64) float64{
	"temperature":            fahrenheitToCelsius,
	"temperatureApparent":    fahrenheitToCelsius,
	"dewPoint":               fahrenheitToCelsius,
	"windSpeed":              scale(mphToMS),
	"windGust":               scale(mphToMS),
	"pressureSurfaceLevel":   scale(inHgToHPa),
	"pressureSeaLevel":       scale(inHgToHPa),
	"precipitationIntensity": scale(inchToMM),
	"rainIntensity":          scale(inchToMM),
	"snowIntensity":          scale(inchToMM),
	"sleetIntensity":         scale(inchToMM),
	"freezingRainIntensity":  scale(inchToMM),
	"rainAccumulation":       scale(inchToMM),
	"snowAccumulation":       scale(inchToMM),
	"sleetAccumulation":      scale(inchToMM),
	"iceAccumulation":        scale(inchToMM),
	"visibility":             scale(mileToKM),
	"cloudBase":              scale(mileToKM),
	"cloudCeiling":           scale(mileToKM),
}

func fahrenheitToCelsius(f float64) float64 { return (f - 32) * 5 / 9 }

func scale(k float64) func(float64) float64 { return func(x float64) float64 { return x * k } }

// ToMetric converts, in place, the values of an imperial realtime response to
// the metric units readings carry, rounded to two decimals. Nulls stay null.
func ToMetric(v *weather.Values) {
	for name, p := range v.All() {
		conv, ok := imperial[name]
		if !ok || p == nil {
			continue
		}
		v.Set(name, math.Round(conv(*p)*roundDigits)/roundDigits)
	}
}
