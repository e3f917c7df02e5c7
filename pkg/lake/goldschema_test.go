package lake

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestGoldSchema_Unchanged pins the shape of the gold files the writer
// encodes: column names, order, physical and logical types, repetition,
// and each column's encodings (dictionary for the location and provider
// columns). Athena refuses a column whose type differs between files, so
// this must never change by accident: testdata/gold_schema.txt changes only
// together with deploy/athena/tables.sql.
func TestGoldSchema_Unchanged(t *testing.T) {
	want, err := os.ReadFile("testdata/gold_schema.txt")
	if err != nil {
		t.Fatal(err)
	}
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var p goldPart
	for _, r := range testReadings(10) {
		p.addRow(&r, &recycler{})
	}
	data, err := e.encodeBuffered(p.rows, p.n)
	if err != nil {
		t.Fatal(err)
	}
	if got := goldShape(t, data); got != string(want) {
		t.Fatalf("gold file shape changed:\n got %s\nwant %s", got, want)
	}
}

// goldShape describes a Parquet file: its schema, then one line per column
// chunk of the first row group with the codec and encodings.
func goldShape(t *testing.T, data []byte) string {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(f.Schema().String())
	b.WriteString("\n\n")
	for _, c := range f.Metadata().RowGroups[0].Columns {
		m := c.MetaData
		fmt.Fprintf(&b, "%s %s %v\n", strings.Join(m.PathInSchema, "."), m.Codec, m.Encoding)
	}
	return b.String()
}
