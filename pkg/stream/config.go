package stream

import (
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Drivers.
const (
	DriverKinesis = "kinesis"
	DriverMemory  = "memory"
)

// Config is the stream section of the configuration.
type Config struct {
	Driver  string        `mapstructure:"driver"`
	Kinesis KinesisConfig `mapstructure:"kinesis"`
	Memory  MemoryConfig  `mapstructure:"memory"`
}

// KinesisConfig names the stream and bounds the producer's buffer.
type KinesisConfig struct {
	Name string `mapstructure:"name"`
	// Shards is the shard count `weatherd bootstrap` creates the stream with.
	Shards int `mapstructure:"shards"`
	// BufferRecords bounds the readings waiting to be put while Kinesis is slow or down.
	BufferRecords int `mapstructure:"buffer_records"`
	// Linger is how long the producer waits to fill a PutRecords batch.
	Linger time.Duration `mapstructure:"linger"`
	// SpoolDir is the producer's spool on local disk (pkg/spool), relative to
	// the working directory unless absolute; empty disables it, and a crash
	// then loses the readings held in memory.
	SpoolDir string `mapstructure:"spool_dir"`
}

// MemoryConfig bounds the in-process stream.
type MemoryConfig struct {
	// Capacity is the number of records held before Put reports ErrBufferFull.
	Capacity int `mapstructure:"capacity"`
	// MaxBytes bounds the bytes held (each record's data and partition key
	// plus a fixed overhead); 0 means no bound. Records range from under
	// 1 KiB (a reading) to 32 KiB (a long forecast), so Capacity alone
	// bounds the memory only loosely.
	MaxBytes int64 `mapstructure:"max_bytes"`
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	switch c.Driver {
	case DriverKinesis:
		if c.Kinesis.Name == "" {
			ps.Add(check.Key(key, "kinesis.name"), "required when %s is %q", check.Key(key, "driver"), DriverKinesis)
		}
	case DriverMemory:
	default:
		ps.Add(check.Key(key, "driver"), "got %q, want %q or %q", c.Driver, DriverKinesis, DriverMemory)
	}
	if c.Kinesis.Shards < 1 {
		ps.Add(check.Key(key, "kinesis.shards"), "got %d, want at least 1", c.Kinesis.Shards)
	}
	if c.Kinesis.BufferRecords < 1 {
		ps.Add(check.Key(key, "kinesis.buffer_records"), "got %d, want at least 1", c.Kinesis.BufferRecords)
	}
	if c.Kinesis.Linger < 0 {
		ps.Add(check.Key(key, "kinesis.linger"), "got %s, want a duration of 0 or more", c.Kinesis.Linger)
	}
	if d := c.Kinesis.SpoolDir; d != "" && strings.TrimSpace(d) != d {
		ps.Add(check.Key(key, "kinesis.spool_dir"), "got %q: leading or trailing spaces", d)
	}
	if c.Memory.Capacity < 1 {
		ps.Add(check.Key(key, "memory.capacity"), "got %d, want at least 1", c.Memory.Capacity)
	}
	if c.Memory.MaxBytes < 0 {
		ps.Add(check.Key(key, "memory.max_bytes"), "got %d, want 0 (no bound) or more", c.Memory.MaxBytes)
	}
}

// Warnings lists what is allowed in the section at key but probably not
// what the operator wants.
func (c Config) Warnings(key string) []string {
	if c.Driver == DriverKinesis && c.Kinesis.SpoolDir == "" {
		return []string{check.Key(key, "kinesis.spool_dir") + " is empty: the producer keeps readings in memory only, and a crash (SIGKILL, OOM) loses those not yet on the stream; set a directory on a volume that outlives the process"}
	}
	return nil
}
