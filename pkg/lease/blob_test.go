package lease

import (
	"bytes"
	"strings"
	"testing"
)

// TestUnpackBlob: a packed blob comes back as written; a blob stored before
// blobs were compressed (no gzip header) and one that claims gzip but does
// not unpack are returned as stored, for their reader to judge.
func TestUnpackBlob(t *testing.T) {
	blob := []byte(`{"v":1,"last":{"sao-paulo":"2026-12-03T00:40:00Z","lisbon":"2026-12-03T00:40:00Z"}}`)
	packed, err := PackBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(packed, []byte{0x1f, 0x8b}) {
		t.Fatalf("packed blob starts %x, want gzip's header", packed[:2])
	}
	for _, c := range []struct {
		name          string
		stored, wants []byte
	}{
		{"packed", packed, blob},
		{"older, uncompressed", []byte(`{"v":1,"recent":{}}`), []byte(`{"v":1,"recent":{}}`)},
		{"gzip header, corrupt", []byte{0x1f, 0x8b, 0, 1, 2}, []byte{0x1f, 0x8b, 0, 1, 2}},
		{"truncated", packed[:len(packed)-6], packed[:len(packed)-6]},
	} {
		if got := UnpackBlob(c.stored); !bytes.Equal(got, c.wants) {
			t.Errorf("%s: UnpackBlob = %q, want %q", c.name, got, c.wants)
		}
	}
}

// TestUnpackBlob_Bounded: a gzip bomb is not unpacked past DynamoDB's item
// limit; it is returned as stored.
func TestUnpackBlob_Bounded(t *testing.T) {
	packed, err := PackBlob([]byte(strings.Repeat("0", maxBlobBytes+1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := UnpackBlob(packed); !bytes.Equal(got, packed) {
		t.Errorf("a blob unpacking past %d bytes came back as %d bytes, want as stored (%d)", maxBlobBytes, len(got), len(packed))
	}
}
