package weather

// Kind is how a typed column stores a value.
type Kind uint8

// Kinds of Column. A column never changes kind: Athena refuses a column
// whose type differs between files.
const (
	// Double is a Parquet DOUBLE (Athena double).
	Double Kind = iota + 1
	// Int32 is a Parquet INT32 (Athena int), for codes such as weatherCode;
	// a value that is not a whole number in range is stored as null.
	Int32
)

// Column is a reading value that has a typed column of its own in the lake.
type Column struct {
	Name   string // Tomorrow.io value name, e.g. windGust
	Column string // snake_case column name, e.g. wind_gust
	Kind   Kind
}

// Columns lists, in column order, the values that have a typed OPTIONAL
// column in gold Parquet files; other values are kept only in raw/. It is
// the one definition of those columns: pkg/lake generates its Row from it
// (go generate ./pkg/lake) and checks deploy/athena/tables.sql against it.
// Append new columns at the end; never change a column's kind.
var Columns = [...]Column{
	{"temperature", "temperature", Double},
	{"temperatureApparent", "temperature_apparent", Double},
	{"dewPoint", "dew_point", Double},
	{"humidity", "humidity", Double},
	{"windSpeed", "wind_speed", Double},
	{"windGust", "wind_gust", Double},
	{"windDirection", "wind_direction", Double},
	{"pressureSurfaceLevel", "pressure_surface_level", Double},
	{"pressureSeaLevel", "pressure_sea_level", Double},
	{"weatherCode", "weather_code", Int32},
	{"precipitationIntensity", "precipitation_intensity", Double},
	{"precipitationProbability", "precipitation_probability", Double},
	{"precipitationType", "precipitation_type", Int32},
	{"rainIntensity", "rain_intensity", Double},
	{"freezingRainIntensity", "freezing_rain_intensity", Double},
	{"snowIntensity", "snow_intensity", Double},
	{"sleetIntensity", "sleet_intensity", Double},
	{"rainAccumulation", "rain_accumulation", Double},
	{"snowAccumulation", "snow_accumulation", Double},
	{"sleetAccumulation", "sleet_accumulation", Double},
	{"iceAccumulation", "ice_accumulation", Double},
	{"visibility", "visibility", Double},
	{"cloudCover", "cloud_cover", Double},
	{"cloudBase", "cloud_base", Double},
	{"cloudCeiling", "cloud_ceiling", Double},
	{"uvIndex", "uv_index", Double},
	{"uvHealthConcern", "uv_health_concern", Int32},
	{"evapotranspiration", "evapotranspiration", Double},
}
