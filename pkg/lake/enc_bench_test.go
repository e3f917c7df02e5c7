package lake

import (
	"bytes"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/weatherd/weatherd/pkg/weather"
)

// BenchmarkEncodeStages measures each encoding stage alone on one goroutine:
// raw gzip, and a gold file from buffered rows (the column writer, with
// snappy and zstd) beside parquet-go's struct path on the same rows.
func BenchmarkEncodeStages(b *testing.B) {
	recs := benchRecords(b, 20000)
	bodies := make([][]byte, len(recs))
	var p goldPart
	for i := range recs {
		bodies[i] = recs[i].Data
		r, err := weather.Decode(recs[i].Data)
		if err != nil {
			b.Fatal(err)
		}
		p.addRow(&r, &recycler{})
	}
	b.Run("raw", func(b *testing.B) {
		st := time.Now()
		for b.Loop() {
			encodeRaw(bodies, &sizeHint{})
		}
		b.ReportMetric(float64(b.N*len(recs))/time.Since(st).Seconds(), "rows/s")
	})
	snappy, _ := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 131072})
	zstd, _ := newParquetEncoder(ParquetConfig{Compression: "zstd", RowGroupRows: 131072})
	// The same rows as Row structs, for the struct path.
	data, err := snappy.encodeBuffered(p.rows, p.n)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := parquet.Read[Row](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		encode func() ([]byte, error)
	}{
		{"parquet/snappy", func() ([]byte, error) { return snappy.encodeBuffered(p.rows, p.n) }},
		{"parquet/zstd", func() ([]byte, error) { return zstd.encodeBuffered(p.rows, p.n) }},
		{"parquet/snappy-structs", func() ([]byte, error) { return snappy.encodeRows(rows) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := time.Now()
			var size int
			for b.Loop() {
				out, err := c.encode()
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.ReportMetric(float64(b.N*len(recs))/time.Since(st).Seconds(), "rows/s")
			b.ReportMetric(float64(size)/float64(len(rows)), "bytes/row")
		})
	}
}
