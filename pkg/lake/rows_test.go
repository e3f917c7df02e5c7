package lake

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/pkg/weather"
)

// rowOf is a Row as plain values (pointers followed), for comparisons.
func rowOf(r Row) string {
	v := reflect.ValueOf(r)
	var b bytes.Buffer
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				fmt.Fprintf(&b, "%s=null ", v.Type().Field(i).Name)
				continue
			}
			f = f.Elem()
		}
		fmt.Fprintf(&b, "%s=%v ", v.Type().Field(i).Name, f.Interface())
	}
	return b.String()
}

// testReadings returns n readings with every gold column, nulls, codes
// that are not whole numbers and values with no column.
func testReadings(n int) []weather.Reading {
	out := make([]weather.Reading, n)
	for i := range out {
		v := weather.Values{}
		for j, c := range weather.Columns {
			switch (i + j) % 7 {
			case 0:
				v.SetNull(c.Name)
			case 1: // absent
			case 2:
				v.Set(c.Name, float64(i)+0.5) // not a code
			default:
				v.Set(c.Name, float64(i*31+j))
			}
		}
		if i%3 == 0 {
			v.Set("temperatureMax", 30)
		}
		at := baseHour.Add(time.Duration(i) * time.Second)
		out[i] = weather.NewReading(weather.Location{ID: fmt.Sprintf("loc-%d", i%5), Name: "Zürich", Lat: 47.37, Lon: 8.54},
			"tomorrowio", at, at.Add(1234*time.Millisecond), v)
	}
	return out
}

// TestBufRow_MatchesReading: a buffered row converts back to the reading's
// fields and values, codes that are not whole numbers and nulls as null.
func TestBufRow_MatchesReading(t *testing.T) {
	for i, r := range testReadings(50) {
		var b bufRow
		row, unknown := rowFrom(r, &b)
		wantUnknown := 0
		if i%3 == 0 {
			wantUnknown = 1 // temperatureMax
		}
		if unknown != wantUnknown {
			t.Errorf("reading %d: %d values without a column, want %d", i, unknown, wantUnknown)
		}
		if row.EventID != r.EventID || row.LocationID != r.Location.ID || row.LocationName != r.Location.Name ||
			row.Lat != r.Location.Lat || row.Lon != r.Location.Lon || row.Provider != r.Provider ||
			!row.ObservedAt.Equal(r.ObservedAt) || !row.IngestedAt.Equal(r.IngestedAt) || row.ObservedAt.Location() != time.UTC {
			t.Fatalf("reading %d: row %s", i, rowOf(row))
		}
		rv := reflect.ValueOf(row)
		for j, c := range weather.Columns {
			want, ok := r.Values.Get(c.Name)
			if ok && c.Kind == weather.Int32 && want != math.Trunc(want) {
				ok = false
			}
			got := rv.Field(numFixed + j)
			if got.IsNil() != !ok || ok && got.Elem().Convert(reflect.TypeOf(0.0)).Float() != want {
				t.Fatalf("reading %d: %s = %s, want %v (present %v)", i, c.Column, rowOf(row), want, ok)
			}
		}
	}
}

// TestParquetEncoder_ReusedWriters encodes files of different sizes, from
// plain rows and from buffered chunks (more than one chunk), through one
// encoder whose writers are reused, and reads every file back.
func TestParquetEncoder_ReusedWriters(t *testing.T) {
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 700})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3000, 1, 1025, 17} {
		rs := testReadings(n)
		var p goldPart
		want := make([]string, n)
		plain := make([]Row, n)
		bufs := make([]bufRow, n)
		for i, r := range rs {
			p.addRow(&r, &recycler{})
			plain[i], _ = rowFrom(r, &bufs[i])
			want[i] = rowOf(plain[i])
		}
		if n > maxRowChunk && len(p.rows) < 2 {
			t.Fatalf("%d rows in %d chunks", n, len(p.rows))
		}
		for name, enc := range map[string]func() ([]byte, error){
			"buffered": func() ([]byte, error) { return e.encodeBuffered(p.rows, p.n) },
			"plain":    func() ([]byte, error) { return e.encodeRows(plain) },
		} {
			data, err := enc()
			if err != nil {
				t.Fatalf("%d rows %s: %v", n, name, err)
			}
			back, err := parquet.Read[Row](bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("%d rows %s: read back: %v", n, name, err)
			}
			if len(back) != n {
				t.Fatalf("%d rows %s: read back %d rows", n, name, len(back))
			}
			for i := range back {
				if got := rowOf(back[i]); got != want[i] {
					t.Fatalf("%d rows %s: row %d\n got %s\nwant %s", n, name, i, got, want[i])
				}
			}
		}
	}
}
