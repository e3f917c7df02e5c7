package lease

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// A blob kept on a lease item (a shard's processor state, the poller's
// memory) is paid for by every renewal: DynamoDB charges a write by the size
// of the whole item, not of what it changes. So blobs are stored gzipped
// (see BENCHMARKS.md, "Cost"). A blob stored before that has no gzip header
// and is read as it is.

// maxBlobBytes bounds an unpacked blob: DynamoDB's item limit, which the
// blob was written under.
const maxBlobBytes = 400 << 10

// PackBlob is blob as it is stored on a lease item.
func PackBlob(blob []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(blob); err != nil {
		return nil, fmt.Errorf("compress lease item blob: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress lease item blob: %w", err)
	}
	return b.Bytes(), nil
}

// UnpackBlob is the blob stored as stored: gunzipped when it carries gzip's
// header, as it is otherwise (stored by an older weatherd). One that does
// not unpack is returned as stored, for its reader to reject with its own
// error.
func UnpackBlob(stored []byte) []byte {
	if len(stored) < 2 || stored[0] != 0x1f || stored[1] != 0x8b {
		return stored
	}
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return stored
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxBlobBytes+1))
	if err != nil || len(out) > maxBlobBytes {
		return stored
	}
	return out
}
