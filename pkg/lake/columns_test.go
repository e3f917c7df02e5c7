package lake

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/pkg/weather"
)

// TestColumnLayouts_MatchSchemas: each layout names its file's columns in
// the schema's order — its fixed columns, then weather.Columns.
func TestColumnLayouts_MatchSchemas(t *testing.T) {
	check := func(t *testing.T, schema *parquet.Schema, fixed []string) {
		t.Helper()
		want := fixed
		for _, c := range weather.Columns {
			want = append(want, c.Column)
		}
		var got []string
		for _, path := range schema.Columns() {
			got = append(got, path...)
		}
		if len(got) != len(want) {
			t.Fatalf("schema has columns %q, layout %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("column %d is %s in the schema, %s in the layout", i, got[i], want[i])
			}
		}
	}
	var gold, fcast []string
	for _, f := range goldLayout.fixed {
		gold = append(gold, f.name)
	}
	for _, f := range forecastLayout.fixed {
		fcast = append(fcast, f.name)
	}
	check(t, parquet.SchemaOf(Row{}), gold)
	check(t, parquet.SchemaOf(forecastRow{}), fcast)
}

// TestEncodeBuffered_RowGroupsAndBlocks: files whose rows end on, just
// before and just after a block (colBlock) or a row group, over several
// buffered chunks, read back row for row as parquet-go's struct path writes
// them, in the expected number of row groups.
func TestEncodeBuffered_RowGroupsAndBlocks(t *testing.T) {
	const groupRows = 2 * colBlock
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: groupRows})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, colBlock - 1, colBlock, colBlock + 1, groupRows, groupRows + 1, 3*groupRows - 1, 1700} {
		rs := testReadings(n)
		var p goldPart
		plain := make([]Row, n)
		for i, r := range rs {
			p.addRow(&r, &recycler{})
			plain[i], _ = rowFrom(r, new(bufRow))
		}
		data, err := e.encodeBuffered(p.rows, p.n)
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		if got, want := len(f.RowGroups()), (n+groupRows-1)/groupRows; got != want {
			t.Errorf("%d rows: %d row groups, want %d", n, got, want)
		}
		back, err := parquet.Read[Row](bytes.NewReader(data), int64(len(data)))
		if err != nil || len(back) != n {
			t.Fatalf("%d rows: read back %d: %v", n, len(back), err)
		}
		ref, err := e.encodeRows(plain)
		if err != nil {
			t.Fatal(err)
		}
		refBack, err := parquet.Read[Row](bytes.NewReader(ref), int64(len(ref)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range back {
			if got, want := rowOf(back[i]), rowOf(refBack[i]); got != want {
				t.Fatalf("%d rows: row %d\n got %s\nwant %s", n, i, got, want)
			}
		}
	}
}
