package lake

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/pkg/weather"
)

// Buffered rows go into the Parquet writer column by column, as Values, a
// block of rows at a time, with no Row struct in between: parquet-go's
// struct path writes an OPTIONAL (pointer) field one value at a time, and
// that was most of the cost of a gold file.

// colBlock is how many buffered rows become one column's values at a time:
// a block of rows stays in the CPU cache while each of its columns is written.
const colBlock = 256

// columnLayout maps a buffered row type B onto its file's columns: the
// fixed columns, in file order, then one per weather.Columns entry.
type columnLayout[B any] struct {
	fixed  []fixedColumn[B]
	values func(*B) *bufValues
}

type fixedColumn[B any] struct {
	name  string // the Parquet column, checked against the schema by the tests
	value func(*B) parquet.Value
}

// columnWriter is what columnLayout.write needs of a parquet.GenericWriter.
type columnWriter interface {
	ColumnWriters() []*parquet.ColumnWriter
	Flush() error
}

// write writes the rows of chunks to w, starting a row group every
// rowGroupRows rows.
func (l *columnLayout[B]) write(w columnWriter, chunks [][]B, rowGroupRows int64) error {
	nfixed := len(l.fixed)
	if n := len(w.ColumnWriters()); n != nfixed+numValueColumns {
		return fmt.Errorf("schema has %d columns, want %d", n, nfixed+numValueColumns)
	}
	var vals [colBlock]parquet.Value
	var rows [colBlock]*bufValues
	var group int64
	for _, c := range chunks {
		for len(c) > 0 {
			n := int(min(int64(min(len(c), colBlock)), rowGroupRows-group))
			block, v, bv := c[:n], vals[:n], rows[:n]
			cols := w.ColumnWriters()
			for j, f := range l.fixed {
				for k := range block {
					v[k] = f.value(&block[k])
				}
				if _, err := cols[j].WriteRowValues(v); err != nil {
					return fmt.Errorf("column %s: %w", f.name, err)
				}
			}
			for k := range block {
				bv[k] = l.values(&block[k])
			}
			for i := range numValueColumns {
				if err := writeValueColumn(cols[nfixed+i], i, bv, v); err != nil {
					return fmt.Errorf("column %s: %w", weather.Columns[i].Column, err)
				}
			}
			c = c[n:]
			if group += int64(n); group == rowGroupRows {
				if err := w.Flush(); err != nil {
					return err
				}
				group = 0
			}
		}
	}
	return nil
}

// writeValueColumn writes value column i of rows to col, through v (as long
// as rows): a null where a row has no value.
func writeValueColumn(col *parquet.ColumnWriter, i int, rows []*bufValues, v []parquet.Value) error {
	bit := uint32(1) << i
	if weather.Columns[i].Kind == weather.Int32 {
		for k, b := range rows {
			v[k] = parquet.Value{}
			if b.present&bit == 0 {
				continue
			}
			if x, ok := codeValue(b.vals[i]); ok {
				v[k] = parquet.Int32Value(x)
				v[k].SetDefinitionLevel(1)
			}
		}
	} else {
		for k, b := range rows {
			v[k] = parquet.Value{}
			if b.present&bit != 0 {
				v[k] = parquet.DoubleValue(b.vals[i])
				v[k].SetDefinitionLevel(1)
			}
		}
	}
	_, err := col.WriteRowValues(v)
	return err
}

// codeValue keeps a code value only when it is a whole number that fits
// INT32; anything else is null in gold (raw/ keeps the original).
func codeValue(x float64) (int32, bool) {
	if x != math.Trunc(x) || x < math.MinInt32 || x > math.MaxInt32 {
		return 0, false
	}
	return int32(x), true
}

// stringValue is s as a BYTE_ARRAY value, without a copy (the column
// buffer copies it).
func stringValue(s string) parquet.Value {
	return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// timeValue is t as a timestamp(millisecond) value, as parquet-go writes a
// time.Time field.
func timeValue(t time.Time) parquet.Value { return parquet.Int64Value(t.UnixMilli()) }

// goldLayout is Row's columns, from a buffered reading.
var goldLayout = columnLayout[bufRow]{
	fixed: []fixedColumn[bufRow]{
		{"event_id", func(b *bufRow) parquet.Value { return stringValue(b.eventID) }},
		{"location_id", func(b *bufRow) parquet.Value { return stringValue(b.locationID) }},
		{"location_name", func(b *bufRow) parquet.Value { return stringValue(b.locationName) }},
		{"lat", func(b *bufRow) parquet.Value { return parquet.DoubleValue(b.lat) }},
		{"lon", func(b *bufRow) parquet.Value { return parquet.DoubleValue(b.lon) }},
		{"observed_at", func(b *bufRow) parquet.Value { return timeValue(b.observedAt) }},
		{"ingested_at", func(b *bufRow) parquet.Value { return timeValue(b.ingestedAt) }},
		{"provider", func(b *bufRow) parquet.Value { return stringValue(b.provider) }},
	},
	values: func(b *bufRow) *bufValues { return &b.values },
}

// forecastLayout is forecastRow's columns, from a buffered forecast step.
var forecastLayout = columnLayout[bufStep]{
	fixed: []fixedColumn[bufStep]{
		{"event_id", func(s *bufStep) parquet.Value { return stringValue(s.forecast.eventID) }},
		{"location_id", func(s *bufStep) parquet.Value { return stringValue(s.forecast.locationID) }},
		{"location_name", func(s *bufStep) parquet.Value { return stringValue(s.forecast.locationName) }},
		{"lat", func(s *bufStep) parquet.Value { return parquet.DoubleValue(s.forecast.lat) }},
		{"lon", func(s *bufStep) parquet.Value { return parquet.DoubleValue(s.forecast.lon) }},
		{"issued_at", func(s *bufStep) parquet.Value { return timeValue(s.forecast.issuedAt) }},
		{"valid_at", func(s *bufStep) parquet.Value { return timeValue(s.validAt) }},
		{"lead_hours", func(s *bufStep) parquet.Value { return parquet.DoubleValue(s.leadHours) }},
		{"ingested_at", func(s *bufStep) parquet.Value { return timeValue(s.forecast.ingestedAt) }},
		{"provider", func(s *bufStep) parquet.Value { return stringValue(s.forecast.provider) }},
	},
	values: func(s *bufStep) *bufValues { return &s.values },
}
