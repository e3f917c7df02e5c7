package lake

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/pkg/weather"
)

func TestValueColumns_MatchRow(t *testing.T) {
	// Every Row field after the 8 fixed ones is a ValueColumns entry, in
	// order, with the snake_case name of its value and the matching Go type.
	rt := reflect.TypeOf(Row{})
	if rt.NumField() != 8+len(ValueColumns) {
		t.Fatalf("Row has %d fields, want 8 + %d", rt.NumField(), len(ValueColumns))
	}
	upper := regexp.MustCompile(`[A-Z]`)
	for i, c := range ValueColumns {
		f := rt.Field(8 + i)
		tag := strings.Split(f.Tag.Get("parquet"), ",")
		snake := upper.ReplaceAllStringFunc(c.Value, func(s string) string { return "_" + strings.ToLower(s) })
		if tag[0] != c.Column || snake != c.Column || tag[1] != "optional" {
			t.Errorf("field %s: tag %v, column %q, want %q optional", f.Name, tag, c.Column, snake)
		}
		want := map[ColumnType]reflect.Type{Double: reflect.TypeOf((*float64)(nil)), Int32: reflect.TypeOf((*int32)(nil))}[c.Type]
		if f.Type != want {
			t.Errorf("field %s: type %s, want %s", f.Name, f.Type, want)
		}
		var row Row
		v := 42.0
		if !row.setValue(c.Value, &v, nil) {
			t.Errorf("setValue(%q) has no column", c.Value)
		}
		got := reflect.ValueOf(row).Field(8 + i)
		if got.IsNil() || got.Elem().Convert(reflect.TypeOf(0.0)).Float() != 42 {
			t.Errorf("setValue(%q) did not set field %s", c.Value, f.Name)
		}
	}
}

func TestNewRow(t *testing.T) {
	v := weather.Values{}
	v.Set("weatherCode", 4201)
	v.Set("precipitationType", 1.5) // not a code: null in gold
	v.SetNull("cloudBase")
	v.Set("temperatureMax", 30) // daily forecast field: raw only
	r := weather.NewReading(weather.Location{ID: "x", Name: "X"}, "p", baseHour, baseHour, v)
	row, unknown := NewRow(r)
	if unknown != 1 || row.WeatherCode == nil || *row.WeatherCode != 4201 || row.PrecipitationType != nil || row.CloudBase != nil || row.Temperature != nil {
		t.Fatalf("row = %+v, unknown = %d", row, unknown)
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
	// The DDL follows the pinned gold schema, one Athena type per Parquet type.
	athena := map[string]string{"BYTE_ARRAY": "string", "DOUBLE": "double", "INT64": "timestamp", "INT32": "int"}
	var want []string
	for _, c := range goldColumns {
		f := strings.Fields(c)
		want = append(want, f[0]+" "+athena[f[1]])
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
