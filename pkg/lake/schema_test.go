package lake

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/pkg/weather"
)

// numFixed is the number of Row fields before the value columns.
const numFixed = 8

// rowFrom is the gold row of r as the writer makes it — buffered in b,
// written to a Parquet file and read back — and how many of r's values have
// no column.
func rowFrom(r weather.Reading, b *bufRow) (Row, int) {
	unknown := b.set(&r)
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 10})
	if err != nil {
		panic(err)
	}
	data, err := e.encodeBuffered([][]bufRow{{*b}}, 1)
	if err != nil {
		panic(err)
	}
	rows, err := parquet.Read[Row](bytes.NewReader(data), int64(len(data)))
	if err != nil || len(rows) != 1 {
		panic(fmt.Sprintf("read back %d rows: %v", len(rows), err))
	}
	return rows[0], unknown
}

// encodeRows is a Parquet file of rows written by parquet-go's struct
// path, the reference the column writer (encodeBuffered) is checked against.
func (e *parquetEncoder) encodeRows(rows []Row) ([]byte, error) {
	return encodeFile(&e.gold, len(rows), &e.goldSize, func(w *parquet.GenericWriter[Row]) error {
		_, err := w.Write(rows)
		return err
	})
}

// TestRow_EveryColumn: each weather.Columns entry is the Parquet column at
// its place, with its type, and a value of that name lands there alone.
func TestRow_EveryColumn(t *testing.T) {
	fields := parquet.SchemaOf(Row{}).Fields()
	if len(fields) != numFixed+len(weather.Columns) {
		t.Fatalf("Row has %d columns, want %d + %d", len(fields), numFixed, len(weather.Columns))
	}
	kind := map[parquet.Kind]weather.Kind{parquet.Double: weather.Double, parquet.Int32: weather.Int32}
	for i, c := range weather.Columns {
		f := fields[numFixed+i]
		if f.Name() != c.Column || !f.Optional() || kind[f.Type().Kind()] != c.Kind {
			t.Errorf("column %d is %s %s (optional %v), want %s of kind %d", numFixed+i, f.Name(), f.Type(), f.Optional(), c.Column, c.Kind)
		}
		v := weather.Values{}
		v.Set(c.Name, 42)
		var b bufRow
		row, unknown := rowFrom(weather.NewReading(weather.Location{ID: "x"}, "p", baseHour, baseHour, v), &b)
		rv := reflect.ValueOf(row)
		for j := numFixed; j < rv.NumField(); j++ {
			got := rv.Field(j)
			switch {
			case j != numFixed+i && !got.IsNil():
				t.Errorf("%s set column %s", c.Name, fields[j].Name())
			case j == numFixed+i && (got.IsNil() || got.Elem().Convert(reflect.TypeOf(0.0)).Float() != 42):
				t.Errorf("%s did not set column %s", c.Name, c.Column)
			}
		}
		if unknown != 0 {
			t.Errorf("%s: %d values without a column", c.Name, unknown)
		}
	}
}

func TestRow_Values(t *testing.T) {
	v := weather.Values{}
	v.Set("weatherCode", 4201)
	v.Set("precipitationType", 1.5) // not a code: null in gold
	v.Set("uvHealthConcern", 1e10)  // out of INT32's range: null in gold
	v.SetNull("cloudBase")
	v.Set("temperatureMax", 30) // daily forecast field: raw only
	v.Set("windGust", 17.25)
	r := weather.NewReading(weather.Location{ID: "x", Name: "X", Lat: 1.5, Lon: -2.5}, "p", baseHour, baseHour.Add(1234), v)
	var b bufRow
	row, unknown := rowFrom(r, &b)
	if unknown != 1 || row.WeatherCode == nil || *row.WeatherCode != 4201 || row.PrecipitationType != nil ||
		row.UvHealthConcern != nil || row.CloudBase != nil || row.Temperature != nil || row.WindGust == nil || *row.WindGust != 17.25 {
		t.Fatalf("row = %s, unknown = %d", rowOf(row), unknown)
	}
	if row.EventID != "x/2026-11-26T20:00:00Z" || row.LocationID != "x" || row.LocationName != "X" || row.Lat != 1.5 || row.Lon != -2.5 ||
		!row.ObservedAt.Equal(baseHour) || !row.IngestedAt.Equal(baseHour) /* 1234 ns: milliseconds in gold */ || row.Provider != "p" {
		t.Fatalf("row = %s", rowOf(row))
	}
}

func TestAthenaDDL_MatchesGoldColumns(t *testing.T) {
	ddl, err := os.ReadFile("../../deploy/athena/tables.sql")
	if err != nil {
		t.Fatal(err)
	}
	s := string(ddl)
	start := strings.Index(s, "weatherd.readings (")
	end := strings.Index(s[start:], "\n)")
	var got []string
	for _, line := range strings.Split(s[start:start+end], "\n")[1:] {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ","))
		got = append(got, f[0]+" "+f[1])
	}
	want := []string{"event_id string", "location_id string", "location_name string", "lat double", "lon double",
		"observed_at timestamp", "ingested_at timestamp", "provider string"}
	for _, c := range weather.Columns {
		want = append(want, c.Column+" "+map[weather.Kind]string{weather.Double: "double", weather.Int32: "int"}[c.Kind])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("DDL columns:\n got %v\nwant %v", got, want)
	}
	for _, kind := range []string{"gold", "raw", "errors"} {
		tmpl := "'storage.location.template' = 's3://YOUR-BUCKET/weatherd/" + kind + "/year=${year}/month=${month}/day=${day}/hour=${hour}/'"
		if !strings.Contains(s, tmpl) {
			t.Errorf("no projection template for %s/", kind)
		}
	}
}
