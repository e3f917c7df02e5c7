// Package stream declares the seams between the poller, the stream drivers
// (Kinesis or in-memory) and the record processors that consume them.
package stream

import (
	"context"
	"errors"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// Record is one record read from a shard.
type Record struct {
	Data           []byte
	PartitionKey   string
	SequenceNumber string
	// ArrivedAt is the stream's approximate arrival time of the record.
	ArrivedAt time.Time
}

// ErrBufferFull is returned by a Producer whose bounded buffer is full: the
// caller counts and logs the overflow instead of growing memory.
var ErrBufferFull = errors.New("producer buffer full")

// Item is one record handed on by the consumer with the result of decoding
// it: a reading, a forecast (Forecast set), or Err when the record is not a
// usable event (a poison record, which the lake writes to errors/). The lake
// keeps Record.Data until it is flushed (the caller must not reuse it); it
// copies what it needs of the reading or forecast before Add returns, so the
// caller may reuse the reading's values.
type Item struct {
	Record   Record
	Reading  weather.Reading
	Forecast *weather.Forecast
	Err      error
}

// SeqLess reports whether sequence number a comes before b. Kinesis (and the
// memory stream) sequence numbers are decimal strings of up to 56 digits:
// shorter is smaller, equal lengths compare lexically.
func SeqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Producer accepts records for the stream. Put only enqueues into a bounded
// buffer (returning ErrBufferFull when it is full); Run delivers them until its
// context ends, then tries to deliver what is left within its own budget.
type Producer interface {
	Put(ctx context.Context, partitionKey string, data []byte) error
	Run(ctx context.Context) error
	// Buffered is the number of records put but not delivered yet; the
	// poller saves its memory of what it emitted only when it is 0.
	Buffered() int
}

// ShardEnd is the checkpoint value that marks a shard read to its end.
const ShardEnd = "SHARD_END"

// Position says where a shard processor starts reading.
type Position struct {
	// AfterSequence is the checkpoint to continue after; empty when the shard
	// has none and reading starts at the initial position.
	AfterSequence string
	// Initial is TRIM_HORIZON, LATEST or AT_TIMESTAMP when AfterSequence is empty.
	Initial string
	// At is the timestamp for AT_TIMESTAMP.
	At time.Time
	// State is what the processor saved with the checkpoint it resumes
	// from (see StateCheckpointer); nil when there is none.
	State []byte
	// ParentStates, for a child of a resharding read from its start, are
	// the states its parents' processors saved with their last checkpoints
	// (one for a split, up to two for a merge), so what a processor keeps
	// about the stream's keys follows them into the child shards.
	ParentStates [][]byte
}

// Checkpointer records how far a shard has been processed. It is fenced: after
// the worker has lost the shard's lease, Checkpoint returns ErrLeaseLost.
type Checkpointer interface {
	Checkpoint(ctx context.Context, sequenceNumber string) error
}

// StateCheckpointer is a Checkpointer that can also save a small processor
// state with the checkpoint, atomically: a processor resuming from that
// checkpoint gets the state back in Position.State. The state must describe
// the shard exactly as of sequenceNumber (nothing read after it), and stay
// small (the Kinesis driver keeps it on the lease item, which DynamoDB limits
// to 400 KB in all). Drivers implement it on the Checkpointer they pass.
type StateCheckpointer interface {
	Checkpointer
	CheckpointWithState(ctx context.Context, sequenceNumber string, state []byte) error
}

// ErrLeaseLost is returned by a Checkpointer whose worker no longer owns the shard.
var ErrLeaseLost = errors.New("lease lost")

// ShutdownReason tells a processor why its shard is being closed.
type ShutdownReason int

const (
	// Requested: the process is stopping or the shard is handed to another
	// worker; the processor flushes and checkpoints what it has.
	Requested ShutdownReason = iota + 1
	// ShardEndReached: the shard is read to its end; the processor flushes and
	// checkpoints, and the consumer then writes SHARD_END.
	ShardEndReached
	// LeaseLost: another worker owns the shard; checkpoints would be refused,
	// so the processor drops what it buffered (the new owner replays it).
	LeaseLost
)

func (r ShutdownReason) String() string {
	switch r {
	case Requested:
		return "requested"
	case ShardEndReached:
		return "shard_end"
	case LeaseLost:
		return "lease_lost"
	}
	return "unknown"
}

// Processor consumes one shard. The consumer calls Initialize once, then
// ProcessRecords for each batch in order, then Shutdown once, all from one
// goroutine per shard. While a shard is idle the consumer still calls
// ProcessRecords with an empty batch at least once a second, so a processor
// can flush on age. Checkpointing is explicit so a processor checkpoints only
// what it has made durable. A ProcessRecords error is retried by the consumer
// with the same records after a backoff (the processor must not have
// checkpointed past them).
type Processor interface {
	Initialize(ctx context.Context, shardID string, from Position) error
	ProcessRecords(ctx context.Context, records []Record, cp Checkpointer) error
	Shutdown(ctx context.Context, reason ShutdownReason, cp Checkpointer) error
}

// ProcessorFactory makes a new Processor for each shard a worker takes.
type ProcessorFactory func() Processor
