package kcl

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// The processor state rides on the shard's lease item, and DynamoDB charges a
// write by the size of the whole item, not of what it changes: every renewal,
// one per renew_interval, pays for the state again. So the state is stored
// gzipped. weatherd's dedupe state for 500 locations at 8 observations each
// is ~50 KB of JSON (50 write units per renewal) and ~9 KB gzipped with
// observation times to the second (see BENCHMARKS.md, "Cost"). A state
// written before it was compressed has no gzip header and is read as it is.

// maxItemBytes bounds an unpacked state: DynamoDB's item limit, which the
// processor's state was written under.
const maxItemBytes = 400 << 10

// packState is state as stored on the lease item.
func packState(state []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(state); err != nil {
		return nil, fmt.Errorf("compress state: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress state: %w", err)
	}
	return b.Bytes(), nil
}

// unpackState is the processor state stored as stored: gunzipped when it
// carries gzip's header, as it is otherwise (an older weatherd's state). A
// stored state that does not unpack is handed over as stored, for the
// processor to reject with its own error.
func unpackState(stored []byte) []byte {
	if len(stored) < 2 || stored[0] != 0x1f || stored[1] != 0x8b {
		return stored
	}
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return stored
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxItemBytes+1))
	if err != nil || len(out) > maxItemBytes {
		return stored
	}
	return out
}

// state is the processor state of l, unpacked.
func (l lease) state() []byte {
	if len(l.State) == 0 {
		return nil
	}
	return unpackState(l.State)
}
