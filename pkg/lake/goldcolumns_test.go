package lake

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// goldColumns is the gold table's schema as Athena, DuckDB and the
// operators' queries see it: column name, Parquet physical type, logical
// type, repetition. Written out by hand, not derived from ValueColumns or
// Row, so that a renamed, retyped, dropped or reordered column fails here
// and is a decision, not an accident.
var goldColumns = []string{
	"event_id BYTE_ARRAY STRING required",
	"location_id BYTE_ARRAY STRING required",
	"location_name BYTE_ARRAY STRING required",
	"lat DOUBLE - required",
	"lon DOUBLE - required",
	"observed_at INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) required",
	"ingested_at INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) required",
	"provider BYTE_ARRAY STRING required",
	"temperature DOUBLE - optional",
	"temperature_apparent DOUBLE - optional",
	"dew_point DOUBLE - optional",
	"humidity DOUBLE - optional",
	"wind_speed DOUBLE - optional",
	"wind_gust DOUBLE - optional",
	"wind_direction DOUBLE - optional",
	"pressure_surface_level DOUBLE - optional",
	"pressure_sea_level DOUBLE - optional",
	"weather_code INT32 INT(32,true) optional",
	"precipitation_intensity DOUBLE - optional",
	"precipitation_probability DOUBLE - optional",
	"precipitation_type INT32 INT(32,true) optional",
	"rain_intensity DOUBLE - optional",
	"freezing_rain_intensity DOUBLE - optional",
	"snow_intensity DOUBLE - optional",
	"sleet_intensity DOUBLE - optional",
	"rain_accumulation DOUBLE - optional",
	"snow_accumulation DOUBLE - optional",
	"sleet_accumulation DOUBLE - optional",
	"ice_accumulation DOUBLE - optional",
	"visibility DOUBLE - optional",
	"cloud_cover DOUBLE - optional",
	"cloud_base DOUBLE - optional",
	"cloud_ceiling DOUBLE - optional",
	"uv_index DOUBLE - optional",
	"uv_health_concern INT32 INT(32,true) optional",
	"evapotranspiration DOUBLE - optional",
}

// TestGold_SchemaIsPinned reads the schema of a gold file as written and
// compares it with goldColumns.
func TestGold_SchemaIsPinned(t *testing.T) {
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 700})
	if err != nil {
		t.Fatal(err)
	}
	var p goldPart
	for _, r := range testReadings(3) {
		p.addRow(&r, &recycler{})
	}
	data, err := e.encodeBuffered(p.rows, p.n)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.Schema().Fields() {
		got = append(got, describeColumn(c))
	}
	if !slices.Equal(got, goldColumns) {
		t.Errorf("gold schema changed\n got %q\nwant %q", got, goldColumns)
	}
}

// describeColumn is one goldColumns line for a leaf column.
func describeColumn(c parquet.Field) string {
	logical := "-"
	if lt := c.Type().LogicalType(); lt != nil {
		logical = lt.String()
	}
	rep := "required"
	switch {
	case c.Optional():
		rep = "optional"
	case c.Repeated():
		rep = "repeated"
	}
	return fmt.Sprintf("%s %s %s %s", c.Name(), c.Type().Kind(), logical, rep)
}
