package lake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// encodeRaw writes one line per record body, as received, gzip-compressed.
// A body that holds raw newlines (pretty-printed JSON, which Decode accepts)
// is compacted onto one line so the object stays valid NDJSON.
func encodeRaw(bodies [][]byte) ([]byte, error) {
	var size int
	for _, b := range bodies {
		size += len(b) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size/6+512))
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
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
		if _, err := zw.Write([]byte{'\n'}); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
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
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
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

// parquetEncoder writes gold files; it is the one place that knows the
// Parquet library, so it could be swapped without touching the writer.
type parquetEncoder struct {
	codec        compress.Codec
	rowGroupRows int64
}

func newParquetEncoder(p ParquetConfig) (*parquetEncoder, error) {
	e := &parquetEncoder{rowGroupRows: p.RowGroupRows}
	switch p.Compression {
	case "snappy", "":
		e.codec = &parquet.Snappy
	case "zstd":
		e.codec = &zstd.Codec{Level: zstd.SpeedDefault}
	default:
		return nil, fmt.Errorf("parquet compression %q: want snappy or zstd", p.Compression)
	}
	if e.rowGroupRows <= 0 {
		e.rowGroupRows = 1 << 20
	}
	return e, nil
}

// encode returns a Parquet file holding rows; it refuses to write an empty
// file (some readers reject files without row groups).
func (e *parquetEncoder) encode(rows []Row) ([]byte, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("parquet: refusing to write a file with no rows")
	}
	var buf bytes.Buffer
	buf.Grow(len(rows)*40 + 4096)
	w := parquet.NewGenericWriter[Row](&buf,
		parquet.Compression(e.codec),
		parquet.MaxRowsPerRowGroup(e.rowGroupRows),
		parquet.CreatedBy("weatherd", "", ""),
	)
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("parquet: write rows: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet: close: %w", err)
	}
	return buf.Bytes(), nil
}
