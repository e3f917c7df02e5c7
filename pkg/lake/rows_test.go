package lake

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/pkg/weather"
)

func TestColumnOf_MatchesValueColumns(t *testing.T) {
	if numValueColumns != len(ValueColumns) {
		t.Fatalf("numValueColumns = %d, len(ValueColumns) = %d", numValueColumns, len(ValueColumns))
	}
	for i, c := range ValueColumns {
		if got, ok := columnOf(c.Value); !ok || got != i {
			t.Errorf("columnOf(%q) = %d, %v; want %d", c.Value, got, ok, i)
		}
	}
	if _, ok := columnOf("temperatureMax"); ok {
		t.Error("columnOf(temperatureMax) found a column")
	}
}

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
		for j, c := range ValueColumns {
			switch (i + j) % 7 {
			case 0:
				v.SetNull(c.Value)
			case 1: // absent
			case 2:
				v.Set(c.Value, float64(i)+0.5) // not a code
			default:
				v.Set(c.Value, float64(i*31+j))
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

func TestBufRow_MatchesNewRow(t *testing.T) {
	for i, r := range testReadings(50) {
		want, wantUnknown := NewRow(r)
		var b bufRow
		unknown := b.set(r)
		var got Row
		b.toRow(&got, nil)
		if rowOf(got) != rowOf(want) || unknown != wantUnknown {
			t.Fatalf("reading %d: buffered row\n%s (unknown %d)\nNewRow\n%s (unknown %d)", i, rowOf(got), unknown, rowOf(want), wantUnknown)
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
		for i, r := range rs {
			p.addRow(r, &sync.Pool{})
			plain[i], _ = NewRow(r)
			want[i] = rowOf(plain[i])
		}
		if n > maxRowChunk && len(p.rows) < 2 {
			t.Fatalf("%d rows in %d chunks", n, len(p.rows))
		}
		for name, enc := range map[string]func() ([]byte, error){
			"buffered": func() ([]byte, error) { return e.encodeBuffered(p.rows, p.n) },
			"plain":    func() ([]byte, error) { return e.encode(plain) },
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
