package lake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// gzipWriters holds gzip writers (≈ 1 MiB of state each) between objects.
// Encoders are pooled in sync.Pools: a lake that flushes often reuses them
// from one object to the next, and one that flushes every half minute (a
// thousand locations) gives their memory back after two garbage
// collections instead of keeping it for the next flush.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

func getGzip() *gzip.Writer { return gzipWriters.Get().(*gzip.Writer) }

var newline = []byte{'\n'}

// encodeRaw writes one line per record body, as received, gzip-compressed.
// A body that holds raw newlines (pretty-printed JSON, which Decode accepts)
// is compacted onto one line so the object stays valid NDJSON.
func encodeRaw(bodies [][]byte, hint *sizeHint) ([]byte, error) {
	var size int
	for _, b := range bodies {
		size += len(b) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint.size(size, 1.0/6)))
	zw := getGzip()
	defer gzipWriters.Put(zw)
	zw.Reset(buf)
	var line bytes.Buffer
	for _, b := range bodies {
		if bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0 {
			line.Reset()
			if err := json.Compact(&line, b); err == nil {
				b = line.Bytes()
			}
		}
		if _, err := zw.Write(b); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if _, err := zw.Write(newline); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	hint.learn(size, buf.Len())
	return buf.Bytes(), nil
}

// ErrorRecord is one line of an errors/ object: a stream record that is not
// a usable reading, with why and where it came from.
type ErrorRecord struct {
	Reason         string    `json:"reason"`
	Stream         string    `json:"stream"`
	Shard          string    `json:"shard"`
	SequenceNumber string    `json:"sequence_number"`
	PartitionKey   string    `json:"partition_key"`
	ArrivedAt      time.Time `json:"arrived_at"`
	Data           []byte    `json:"data"` // base64 in JSON
}

func encodeErrors(recs []ErrorRecord) ([]byte, error) {
	var buf bytes.Buffer
	zw := getGzip()
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	enc := json.NewEncoder(zw)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return nil, fmt.Errorf("encode error record: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// fastSnappy is Parquet's SNAPPY codec using the fast s2 block encoder
// (standard snappy blocks, a little larger than the "better" encoder that
// parquet-go's codec uses, and about twice as fast).
type fastSnappy struct{}

func (fastSnappy) String() string                            { return "SNAPPY" }
func (fastSnappy) CompressionCodec() format.CompressionCodec { return format.Snappy }

func (fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}

func (fastSnappy) Decode(dst, src []byte) ([]byte, error) {
	return parquet.Snappy.Decode(dst, src)
}

// parquetEncoder writes gold files; it is the one place that knows the
// Parquet library, so it could be swapped without touching the writer.
type parquetEncoder struct {
	codec        compress.Codec
	rowGroupRows int64
	// gold and forecasts hold Parquet writers between files (see
	// gzipWriters): a writer's page and compression buffers are large, and
	// Reset keeps them.
	gold, forecasts sync.Pool
	goldSize        sizeHint // gold file bytes per row
	forecastSize    sizeHint // forecast file bytes per step
}

func newParquetEncoder(p ParquetConfig) (*parquetEncoder, error) {
	e := &parquetEncoder{rowGroupRows: p.RowGroupRows}
	e.gold.New = func() any { return parquet.NewGenericWriter[Row](io.Discard, e.options()...) }
	e.forecasts.New = func() any { return parquet.NewGenericWriter[forecastRow](io.Discard, e.options()...) }
	switch p.Compression {
	case "snappy":
		e.codec = fastSnappy{}
	case "zstd":
		e.codec = &zstd.Codec{Level: zstd.SpeedDefault}
	default:
		return nil, fmt.Errorf("parquet compression %q: want snappy or zstd", p.Compression)
	}
	return e, nil
}

func (e *parquetEncoder) options() []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(e.codec),
		parquet.MaxRowsPerRowGroup(e.rowGroupRows),
		parquet.CreatedBy("weatherd", "", ""),
	}
}

// encodeBuffered returns a Parquet file of a partition's buffered rows
// (chunks, n rows in all), written column by column (columnLayout).
func (e *parquetEncoder) encodeBuffered(chunks [][]bufRow, n int) ([]byte, error) {
	return encodeFile(&e.gold, n, &e.goldSize, func(w *parquet.GenericWriter[Row]) error {
		return goldLayout.write(w, chunks, e.rowGroupRows)
	})
}

// encodeFile returns a Parquet file of the n rows that rows writes, with a
// writer from pool; it refuses to write an empty file (some readers reject
// files without row groups).
func encodeFile[R any](pool *sync.Pool, n int, hint *sizeHint, rows func(w *parquet.GenericWriter[R]) error) ([]byte, error) {
	if n == 0 {
		return nil, fmt.Errorf("parquet: refusing to write a file with no rows")
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint.size(n, 40)))
	w := pool.Get().(*parquet.GenericWriter[R])
	w.Reset(buf)
	if err := rows(w); err != nil {
		return nil, fmt.Errorf("parquet: write rows: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet: close: %w", err)
	}
	w.Reset(io.Discard) // drop buf; a writer that failed is not reused
	pool.Put(w)
	hint.learn(n, buf.Len())
	return buf.Bytes(), nil
}
