package notify

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Unit systems and wind units a channel may display values in (values are
// stored in metric units with wind in m/s, as readings carry them).
const (
	UnitsMetric   = "metric"
	UnitsImperial = "imperial"

	WindKmh   = "km/h"
	WindMs    = "m/s"
	WindMph   = "mph"
	WindKnots = "kn"
)

// Units is how one channel shows values to people: a unit system and,
// separately, the wind speed unit (sailors want knots in a metric country).
type Units struct {
	System string // metric or imperial
	Wind   string // km/h, m/s, mph or kn
}

// ParseUnits checks a channel's units and wind_units settings; empty ones
// default to metric, and to the system's usual wind unit (km/h, mph).
func ParseUnits(system, wind string) (Units, error) {
	u := Units{System: system, Wind: wind}
	switch u.System {
	case "":
		u.System = UnitsMetric
	case UnitsMetric, UnitsImperial:
	default:
		return Units{}, fmt.Errorf("got %q, want metric or imperial", system)
	}
	switch u.Wind {
	case "":
		u.Wind = WindKmh
		if u.System == UnitsImperial {
			u.Wind = WindMph
		}
	case WindKmh, WindMs, WindMph, WindKnots:
	default:
		return Units{}, fmt.Errorf("got %q, want km/h, m/s, mph or kn", wind)
	}
	return u, nil
}

// kind of quantity a value name measures, for conversion.
type quantity int

const (
	other quantity = iota
	temperature
	speed
	rate        // mm/h
	depth       // mm
	distance    // km
	pressure    // hPa
	percent     // %
	degrees     // wind direction
	dimensional // no unit (indexes, codes)
)

var quantities = map[string]quantity{
	"temperature": temperature, "temperatureApparent": temperature, "dewPoint": temperature,
	"windSpeed": speed, "windGust": speed, "windDirection": degrees,
	"rainIntensity": rate, "snowIntensity": rate, "sleetIntensity": rate,
	"freezingRainIntensity": rate, "precipitationIntensity": rate,
	"rainAccumulation": depth, "snowAccumulation": depth, "sleetAccumulation": depth,
	"iceAccumulation": depth, "snowDepth": depth, "hailSize": depth,
	"humidity": percent, "cloudCover": percent, "precipitationProbability": percent, "hailProbability": percent,
	"pressureSurfaceLevel": pressure, "pressureSeaLevel": pressure,
	"visibility": distance, "cloudBase": distance, "cloudCeiling": distance,
	"uvIndex": dimensional, "uvHealthConcern": dimensional, "weatherCode": dimensional,
	"precipitationType": dimensional, "evapotranspiration": depth,
}

// Format shows the stored (metric) value of name in the channel's units,
// rounded as people read it: "80 km/h", "28.4 °F", "2.5 mm/h", "75%".
func (u Units) Format(name string, v float64) string {
	imperial := u.System == UnitsImperial
	switch quantities[name] {
	case temperature:
		if imperial {
			return num(v*9/5+32, 1) + " °F"
		}
		return num(v, 1) + " °C"
	case speed:
		switch u.Wind {
		case WindMs:
			return num(v, 1) + " m/s"
		case WindMph:
			return num(v*3600/1609.344, 0) + " mph"
		case WindKnots:
			return num(v*3600/1852, 0) + " kn"
		}
		return num(v*3.6, 0) + " km/h"
	case rate:
		if imperial {
			return num(v/25.4, 2) + " in/h"
		}
		return num(v, 1) + " mm/h"
	case depth:
		if imperial {
			return num(v/25.4, 2) + " in"
		}
		return num(v, 1) + " mm"
	case distance:
		if imperial {
			return num(v/1.609344, 1) + " mi"
		}
		return num(v, 1) + " km"
	case pressure:
		if imperial {
			return num(v*0.0295299830714, 2) + " inHg"
		}
		return num(v, 0) + " hPa"
	case percent:
		return num(v, 0) + "%"
	case degrees:
		return num(v, 0) + "°"
	}
	return num(v, 1)
}

// num formats x with at most prec decimals, without trailing zeros and
// without a "-0".
func num(x float64, prec int) string {
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// labels are the words people use for the values; names not listed are
// spelled out from their camelCase ("cloudBase" -> "cloud base").
var labels = map[string]string{
	"windGust": "gusts", "windSpeed": "wind", "windDirection": "wind direction",
	"rainIntensity": "rain", "snowIntensity": "snow", "sleetIntensity": "sleet",
	"freezingRainIntensity": "freezing rain", "precipitationIntensity": "precipitation",
	"precipitationProbability": "chance of precipitation", "hailProbability": "chance of hail",
	"temperatureApparent": "feels like", "uvIndex": "UV index", "uvHealthConcern": "UV concern",
	"rainAccumulation": "rain total", "snowAccumulation": "snowfall", "iceAccumulation": "ice",
}

// Label is the human name of a value ("windGust" -> "gusts").
func Label(name string) string {
	if l, ok := labels[name]; ok {
		return l
	}
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
