package lake

import (
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// BenchmarkEncodeStages measures each encoding stage alone on one goroutine.
func BenchmarkEncodeStages(b *testing.B) {
	recs := benchRecords(b, 20000)
	bodies := make([][]byte, len(recs))
	rds := make([]weather.Reading, len(recs))
	for i := range recs {
		bodies[i] = recs[i].Data
		rds[i], _ = weather.Decode(recs[i].Data)
	}
	enc, _ := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 131072})
	b.Run("raw", func(b *testing.B) {
		st := time.Now()
		for b.Loop() {
			encodeRaw(bodies, &sizeHint{})
		}
		b.ReportMetric(float64(b.N*len(recs))/time.Since(st).Seconds(), "rows/s")
	})
	// rows: buffering the readings, then turning the buffered rows into
	// the Rows the Parquet writer takes, as a flush does.
	bufs := make([]bufRow, len(rds))
	rows := make([]Row, len(rds))
	b.Run("rows", func(b *testing.B) {
		st := time.Now()
		ints := make(int32Slab, 0, 3*len(rds))
		for b.Loop() {
			ints = ints[:0]
			for i := range rds {
				bufs[i].set(&rds[i])
				bufs[i].toRow(&rows[i], &ints)
			}
		}
		b.ReportMetric(float64(b.N*len(recs))/time.Since(st).Seconds(), "rows/s")
	})
	for i := range rds {
		bufs[i].set(&rds[i])
		bufs[i].toRow(&rows[i], nil)
	}
	zstd, _ := newParquetEncoder(ParquetConfig{Compression: "zstd", RowGroupRows: 131072})
	for _, c := range []struct {
		name string
		enc  *parquetEncoder
	}{{"parquet/snappy", enc}, {"parquet/zstd", zstd}} {
		b.Run(c.name, func(b *testing.B) {
			st := time.Now()
			var size int
			for b.Loop() {
				out, err := c.enc.encode(rows)
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
