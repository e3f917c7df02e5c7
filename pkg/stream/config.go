package stream

import (
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
}

// MemoryConfig bounds the in-process stream.
type MemoryConfig struct {
	// Capacity is the number of records held before Put reports ErrBufferFull.
	Capacity int `mapstructure:"capacity"`
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
	if c.Memory.Capacity < 1 {
		ps.Add(check.Key(key, "memory.capacity"), "got %d, want at least 1", c.Memory.Capacity)
	}
}
