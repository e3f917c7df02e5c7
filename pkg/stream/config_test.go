package stream

import (
	"slices"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

func TestConfig_SpoolDir(t *testing.T) {
	valid := Config{Driver: DriverKinesis, Kinesis: KinesisConfig{Name: "s", Shards: 1, BufferRecords: 10, Linger: time.Second, SpoolDir: "spool"}, Memory: MemoryConfig{Capacity: 1}}
	var ps check.Problems
	valid.Validate("stream", &ps)
	if err := ps.Err(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if ws := valid.Warnings("stream"); len(ws) != 0 {
		t.Fatalf("warnings %q", ws)
	}

	spaced := valid
	spaced.Kinesis.SpoolDir = "spool "
	ps = check.Problems{}
	spaced.Validate("stream", &ps)
	if err := ps.Err(); err == nil || err.Error() != `stream.kinesis.spool_dir: got "spool ": leading or trailing spaces` {
		t.Fatalf("spaced: %v", err)
	}

	none := valid
	none.Kinesis.SpoolDir = ""
	ps = check.Problems{}
	none.Validate("stream", &ps)
	if err := ps.Err(); err != nil {
		t.Fatalf("an empty spool_dir is allowed: %v", err)
	}
	want := []string{"stream.kinesis.spool_dir is empty: the producer keeps readings in memory only, and a crash (SIGKILL, OOM) loses those not yet on the stream; set a directory on a volume that outlives the process"}
	if ws := none.Warnings("stream"); !slices.Equal(ws, want) {
		t.Fatalf("warnings %q\nwant %q", ws, want)
	}
	none.Driver = DriverMemory
	if ws := none.Warnings("stream"); len(ws) != 0 {
		t.Fatalf("the memory driver has no spool to warn about: %q", ws)
	}
}

func TestConfig_MemoryMaxBytes(t *testing.T) {
	c := Config{Driver: DriverMemory, Kinesis: KinesisConfig{Name: "s", Shards: 1, BufferRecords: 10}, Memory: MemoryConfig{Capacity: 1, MaxBytes: -1}}
	var ps check.Problems
	c.Validate("stream", &ps)
	if err := ps.Err(); err == nil || err.Error() != "stream.memory.max_bytes: got -1, want 0 (no bound) or more" {
		t.Fatalf("max_bytes -1: %v", err)
	}
}
