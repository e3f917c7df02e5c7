package lake

import (
	"math/bits"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// numValueColumns is len(ValueColumns) (a test keeps them equal).
const numValueColumns = 28

// bufRow is how a shard buffers one gold row until its flush: the fixed
// fields and the values inline, with a bit per present value. It holds four
// pointers (the strings) where a Row holds one per value, so the buffer —
// the long-lived part of the heap — is cheap for the garbage collector to
// scan while it fills, and the decoded reading's map can go at once.
type bufRow struct {
	eventID, locationID, locationName, provider string
	lat, lon                                    float64
	observedAt, ingestedAt                      time.Time // UTC
	present                                     uint32    // bit i: ValueColumns[i] has a value
	vals                                        [numValueColumns]float64
}

// set fills b from r and reports how many values have no gold column
// (they stay in raw/ only). A null value is an absent one.
func (b *bufRow) set(r weather.Reading) (unknown int) {
	*b = bufRow{
		eventID:      r.EventID,
		locationID:   r.Location.ID,
		locationName: r.Location.Name,
		provider:     r.Provider,
		lat:          r.Location.Lat,
		lon:          r.Location.Lon,
		observedAt:   r.ObservedAt.UTC(),
		ingestedAt:   r.IngestedAt.UTC(),
	}
	for name, v := range r.Values {
		i, ok := columnOf(name)
		if !ok {
			unknown++
			continue
		}
		if v != nil {
			b.present |= 1 << i
			b.vals[i] = *v
		}
	}
	return unknown
}

// toRow sets row from b; the row points into b, so b must outlive its use.
func (b *bufRow) toRow(row *Row, ints *int32Slab) {
	*row = Row{
		EventID:      b.eventID,
		LocationID:   b.locationID,
		LocationName: b.locationName,
		Lat:          b.lat,
		Lon:          b.lon,
		ObservedAt:   b.observedAt,
		IngestedAt:   b.ingestedAt,
		Provider:     b.provider,
	}
	for m := b.present; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		row.setColumn(i, &b.vals[i], ints)
	}
}

// columnOf returns the index in ValueColumns of the column of value name.
func columnOf(name string) (int, bool) {
	switch name {
	case "temperature":
		return 0, true
	case "temperatureApparent":
		return 1, true
	case "dewPoint":
		return 2, true
	case "humidity":
		return 3, true
	case "windSpeed":
		return 4, true
	case "windGust":
		return 5, true
	case "windDirection":
		return 6, true
	case "pressureSurfaceLevel":
		return 7, true
	case "pressureSeaLevel":
		return 8, true
	case "weatherCode":
		return 9, true
	case "precipitationIntensity":
		return 10, true
	case "precipitationProbability":
		return 11, true
	case "precipitationType":
		return 12, true
	case "rainIntensity":
		return 13, true
	case "freezingRainIntensity":
		return 14, true
	case "snowIntensity":
		return 15, true
	case "sleetIntensity":
		return 16, true
	case "rainAccumulation":
		return 17, true
	case "snowAccumulation":
		return 18, true
	case "sleetAccumulation":
		return 19, true
	case "iceAccumulation":
		return 20, true
	case "visibility":
		return 21, true
	case "cloudCover":
		return 22, true
	case "cloudBase":
		return 23, true
	case "cloudCeiling":
		return 24, true
	case "uvIndex":
		return 25, true
	case "uvHealthConcern":
		return 26, true
	case "evapotranspiration":
		return 27, true
	}
	return 0, false
}

// setColumn stores v in the column ValueColumns[i].
func (r *Row) setColumn(i int, v *float64, ints *int32Slab) {
	switch i {
	case 0:
		r.Temperature = v
	case 1:
		r.TemperatureApparent = v
	case 2:
		r.DewPoint = v
	case 3:
		r.Humidity = v
	case 4:
		r.WindSpeed = v
	case 5:
		r.WindGust = v
	case 6:
		r.WindDirection = v
	case 7:
		r.PressureSurfaceLevel = v
	case 8:
		r.PressureSeaLevel = v
	case 9:
		r.WeatherCode = toInt32(v, ints)
	case 10:
		r.PrecipitationIntensity = v
	case 11:
		r.PrecipitationProbability = v
	case 12:
		r.PrecipitationType = toInt32(v, ints)
	case 13:
		r.RainIntensity = v
	case 14:
		r.FreezingRainIntensity = v
	case 15:
		r.SnowIntensity = v
	case 16:
		r.SleetIntensity = v
	case 17:
		r.RainAccumulation = v
	case 18:
		r.SnowAccumulation = v
	case 19:
		r.SleetAccumulation = v
	case 20:
		r.IceAccumulation = v
	case 21:
		r.Visibility = v
	case 22:
		r.CloudCover = v
	case 23:
		r.CloudBase = v
	case 24:
		r.CloudCeiling = v
	case 25:
		r.UvIndex = v
	case 26:
		r.UvHealthConcern = toInt32(v, ints)
	case 27:
		r.Evapotranspiration = v
	}
}
