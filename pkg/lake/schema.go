package lake

import (
	"math"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// ColumnType is the Parquet type of a value column.
type ColumnType string

// Value column types: Double is DOUBLE, Int32 is INT32 (codes such as weatherCode).
const (
	Double ColumnType = "DOUBLE"
	Int32  ColumnType = "INT32"
)

// ValueColumn maps one reading value name to its gold column.
type ValueColumn struct {
	Value  string // Tomorrow.io name, e.g. windGust
	Column string // snake_case column, e.g. wind_gust
	Type   ColumnType
}

// Row is one gold Parquet row: the reading's fixed fields, then one OPTIONAL
// column per known value (ValueColumns), the same type in every file.
type Row struct {
	EventID                  string    `parquet:"event_id"`
	LocationID               string    `parquet:"location_id,dict"`
	LocationName             string    `parquet:"location_name,dict"`
	Lat                      float64   `parquet:"lat"`
	Lon                      float64   `parquet:"lon"`
	ObservedAt               time.Time `parquet:"observed_at,timestamp(millisecond:utc)"`
	IngestedAt               time.Time `parquet:"ingested_at,timestamp(millisecond:utc)"`
	Provider                 string    `parquet:"provider,dict"`
	Temperature              *float64  `parquet:"temperature,optional"`
	TemperatureApparent      *float64  `parquet:"temperature_apparent,optional"`
	DewPoint                 *float64  `parquet:"dew_point,optional"`
	Humidity                 *float64  `parquet:"humidity,optional"`
	WindSpeed                *float64  `parquet:"wind_speed,optional"`
	WindGust                 *float64  `parquet:"wind_gust,optional"`
	WindDirection            *float64  `parquet:"wind_direction,optional"`
	PressureSurfaceLevel     *float64  `parquet:"pressure_surface_level,optional"`
	PressureSeaLevel         *float64  `parquet:"pressure_sea_level,optional"`
	WeatherCode              *int32    `parquet:"weather_code,optional"`
	PrecipitationIntensity   *float64  `parquet:"precipitation_intensity,optional"`
	PrecipitationProbability *float64  `parquet:"precipitation_probability,optional"`
	PrecipitationType        *int32    `parquet:"precipitation_type,optional"`
	RainIntensity            *float64  `parquet:"rain_intensity,optional"`
	FreezingRainIntensity    *float64  `parquet:"freezing_rain_intensity,optional"`
	SnowIntensity            *float64  `parquet:"snow_intensity,optional"`
	SleetIntensity           *float64  `parquet:"sleet_intensity,optional"`
	RainAccumulation         *float64  `parquet:"rain_accumulation,optional"`
	SnowAccumulation         *float64  `parquet:"snow_accumulation,optional"`
	SleetAccumulation        *float64  `parquet:"sleet_accumulation,optional"`
	IceAccumulation          *float64  `parquet:"ice_accumulation,optional"`
	Visibility               *float64  `parquet:"visibility,optional"`
	CloudCover               *float64  `parquet:"cloud_cover,optional"`
	CloudBase                *float64  `parquet:"cloud_base,optional"`
	CloudCeiling             *float64  `parquet:"cloud_ceiling,optional"`
	UvIndex                  *float64  `parquet:"uv_index,optional"`
	UvHealthConcern          *int32    `parquet:"uv_health_concern,optional"`
	Evapotranspiration       *float64  `parquet:"evapotranspiration,optional"`
}

// ValueColumns lists the reading value names (Tomorrow.io camelCase) that have
// a gold column, with the column's name and Parquet type. Other values are
// kept only in raw/.
var ValueColumns = []ValueColumn{
	{Value: "temperature", Column: "temperature", Type: Double},
	{Value: "temperatureApparent", Column: "temperature_apparent", Type: Double},
	{Value: "dewPoint", Column: "dew_point", Type: Double},
	{Value: "humidity", Column: "humidity", Type: Double},
	{Value: "windSpeed", Column: "wind_speed", Type: Double},
	{Value: "windGust", Column: "wind_gust", Type: Double},
	{Value: "windDirection", Column: "wind_direction", Type: Double},
	{Value: "pressureSurfaceLevel", Column: "pressure_surface_level", Type: Double},
	{Value: "pressureSeaLevel", Column: "pressure_sea_level", Type: Double},
	{Value: "weatherCode", Column: "weather_code", Type: Int32},
	{Value: "precipitationIntensity", Column: "precipitation_intensity", Type: Double},
	{Value: "precipitationProbability", Column: "precipitation_probability", Type: Double},
	{Value: "precipitationType", Column: "precipitation_type", Type: Int32},
	{Value: "rainIntensity", Column: "rain_intensity", Type: Double},
	{Value: "freezingRainIntensity", Column: "freezing_rain_intensity", Type: Double},
	{Value: "snowIntensity", Column: "snow_intensity", Type: Double},
	{Value: "sleetIntensity", Column: "sleet_intensity", Type: Double},
	{Value: "rainAccumulation", Column: "rain_accumulation", Type: Double},
	{Value: "snowAccumulation", Column: "snow_accumulation", Type: Double},
	{Value: "sleetAccumulation", Column: "sleet_accumulation", Type: Double},
	{Value: "iceAccumulation", Column: "ice_accumulation", Type: Double},
	{Value: "visibility", Column: "visibility", Type: Double},
	{Value: "cloudCover", Column: "cloud_cover", Type: Double},
	{Value: "cloudBase", Column: "cloud_base", Type: Double},
	{Value: "cloudCeiling", Column: "cloud_ceiling", Type: Double},
	{Value: "uvIndex", Column: "uv_index", Type: Double},
	{Value: "uvHealthConcern", Column: "uv_health_concern", Type: Int32},
	{Value: "evapotranspiration", Column: "evapotranspiration", Type: Double},
}

// setValue stores one reading value in its column; it reports false for a
// value with no column.
func (r *Row) setValue(name string, v *float64, ints *int32Slab) bool {
	i, ok := columnOf(name)
	if ok {
		r.setColumn(i, v, ints)
	}
	return ok
}

// NewRow turns a reading into its gold row. It reports how many values had
// no column (they stay in raw/ only). The row shares the reading's value
// pointers; neither is modified afterwards.
func NewRow(r weather.Reading) (Row, int) {
	var row Row
	u := row.fill(r, nil)
	return row, u
}

// fill sets row from r, taking the INT32 columns' storage from ints (nil:
// one allocation each).
func (row *Row) fill(r weather.Reading, ints *int32Slab) int {
	*row = Row{
		EventID:      r.EventID,
		LocationID:   r.Location.ID,
		LocationName: r.Location.Name,
		Lat:          r.Location.Lat,
		Lon:          r.Location.Lon,
		ObservedAt:   r.ObservedAt.UTC(),
		IngestedAt:   r.IngestedAt.UTC(),
		Provider:     r.Provider,
	}
	unknown := 0
	for name, v := range r.Values {
		if !row.setValue(name, v, ints) {
			unknown++
		}
	}
	return unknown
}

// int32Slab hands out *int32 from shared arrays, so the code columns of a
// batch of rows cost a few allocations instead of one per value.
type int32Slab []int32

func (s *int32Slab) ptr(x int32) *int32 {
	if s == nil {
		return &x
	}
	if len(*s) == cap(*s) {
		*s = make([]int32, 0, 4096)
	}
	*s = append(*s, x)
	return &(*s)[len(*s)-1]
}

// toInt32 keeps a code value only when it is a whole number that fits INT32;
// anything else becomes null in gold (raw/ keeps the original).
func toInt32(v *float64, ints *int32Slab) *int32 {
	if v == nil || *v != math.Trunc(*v) || *v < math.MinInt32 || *v > math.MaxInt32 {
		return nil
	}
	return ints.ptr(int32(*v))
}
