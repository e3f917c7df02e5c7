// Package memstream is the in-process stream driver: one shard held in
// memory, with the same Producer and Processor seams as Kinesis, for the
// embedded default run and for tests.
package memstream

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/stream"
)

// ShardID is the id of the memory stream's only shard.
const ShardID = "shard-memory-0"

// maxStopRetries bounds the retries of a failing batch once a stop is requested.
const maxStopRetries = 5

// maxBatch bounds the records handed to a processor in one call.
const maxBatch = 500

// recordOverhead is what a held record costs beyond its data and key: the
// Record itself and its sequence number.
const recordOverhead = 160

// Stream holds records from Put until a processor has checkpointed past them.
// Capacity bounds the records held and maxBytes their bytes; Put returns
// stream.ErrBufferFull beyond either.
type Stream struct {
	capacity int
	maxBytes int64
	now      func() time.Time

	mu      sync.Mutex
	cond    chan struct{} // closed and replaced when records arrive
	records []stream.Record
	bytes   int64 // held, as recordBytes counts them
	// epoch starts every sequence number of this stream: the time it was
	// created, in microseconds, and 6 random digits. Lake objects are named
	// after sequence numbers, so two runs (one after the other, or two
	// processes sharing a lake) never write the same object names, while a
	// batch retried within a run keeps its names.
	epoch string
	next  uint64 // counter of the next record put
	// delivered is the number of held records already handed to the processor.
	delivered  int
	checkpoint string
	state      []byte // the processor's state saved with checkpoint

	produced  prometheus.Counter
	held      prometheus.GaugeFunc
	heldBytes prometheus.GaugeFunc
}

// New returns an empty stream holding up to cfg.Capacity records (at least 1,
// as stream.Config.Validate requires) and cfg.MaxBytes bytes (0: no bound).
func New(cfg stream.MemoryConfig, reg prometheus.Registerer) *Stream {
	s := &Stream{capacity: cfg.Capacity, maxBytes: cfg.MaxBytes, now: time.Now, cond: make(chan struct{}), next: 1}
	s.epoch = fmt.Sprintf("%016d%06d", s.now().UnixMicro(), rand.IntN(1_000_000))
	s.produced = stream.NewProducedCounter(reg)
	s.held = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "weatherd_memstream_held_records",
		Help: "Records in the in-process stream not yet checkpointed.",
	}, func() float64 { return float64(s.Len()) })
	s.heldBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "weatherd_memstream_held_bytes",
		Help: "Bytes of the records in the in-process stream not yet checkpointed (data, partition key and a fixed overhead each).",
	}, func() float64 { return float64(s.Bytes()) })
	reg.MustRegister(s.held, s.heldBytes)
	return s
}

// recordBytes is what a record counts against stream.memory.max_bytes.
func recordBytes(data []byte, partitionKey string) int64 {
	return int64(len(data) + len(partitionKey) + recordOverhead)
}

// sequence formats the n-th record's sequence number like a Kinesis one:
// decimal, the epoch then a fixed-width counter, so that string order is
// put order.
func (s *Stream) sequence(n uint64) string { return s.epoch + fmt.Sprintf("%020d", n) }

// Put appends a record, or returns stream.ErrBufferFull when the stream holds
// its capacity of unconsumed records, or the record would take the bytes held
// past max_bytes. An empty stream takes any record, so one larger than the
// bound is not refused forever.
func (s *Stream) Put(ctx context.Context, partitionKey string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	size := recordBytes(data, partitionKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.records) >= s.capacity || s.maxBytes > 0 && len(s.records) > 0 && s.bytes+size > s.maxBytes {
		return stream.ErrBufferFull
	}
	s.records = append(s.records, stream.Record{
		Data:           append([]byte(nil), data...),
		PartitionKey:   partitionKey,
		SequenceNumber: s.sequence(s.next),
		ArrivedAt:      s.now().UTC(),
	})
	s.bytes += size
	s.next++
	s.produced.Inc()
	close(s.cond)
	s.cond = make(chan struct{})
	return nil
}

// Len is the number of records held.
func (s *Stream) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// Bytes is the bytes held, as stream.memory.max_bytes counts them.
func (s *Stream) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Checkpoint returns the last checkpointed sequence number.
func (s *Stream) Checkpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint
}

// checkpointState returns the last checkpoint and the state saved with it.
func (s *Stream) checkpointState() (string, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint, s.state
}

// Producer is the stream's producer side.
func (s *Stream) Producer() stream.Producer { return producer{s} }

type producer struct{ s *Stream }

func (p producer) Put(ctx context.Context, key string, data []byte) error {
	return p.s.Put(ctx, key, data)
}

// Buffered is 0: a record is in the stream once Put returns.
func (p producer) Buffered() int { return 0 }

// Run has nothing to deliver: Put is already in the stream.
func (p producer) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Consumer feeds the stream's records to one processor from newProcessor.
func (s *Stream) Consumer(newProcessor stream.ProcessorFactory, log *slog.Logger) *Consumer {
	return &Consumer{s: s, newProcessor: newProcessor, log: log.With("component", "consumer", "stream", "memory")}
}

// Consumer is the stream's consumer side.
type Consumer struct {
	s            *Stream
	newProcessor stream.ProcessorFactory
	log          *slog.Logger
	ready        bool
	mu           sync.Mutex
}

// Ready reports whether the processor has been initialised.
func (c *Consumer) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// Run delivers records until ctx ends, then drains what the producer put,
// and shuts the processor down so it flushes and checkpoints.
func (c *Consumer) Run(ctx context.Context) error {
	p := c.newProcessor()
	cp := checkpointer{c.s}
	seq, state := c.s.checkpointState()
	if err := p.Initialize(ctx, ShardID, stream.Position{AfterSequence: seq, Initial: "TRIM_HORIZON", State: state}); err != nil {
		return fmt.Errorf("initialize processor: %w", err)
	}
	c.mu.Lock()
	c.ready = true
	c.mu.Unlock()

	// The records are drained with a context of their own: ctx ending means
	// "stop after what is already in the stream", not "drop it".
	work := context.WithoutCancel(ctx)
	backoff, failures := 100*time.Millisecond, 0
	for {
		batch, wake := c.s.pending()
		if len(batch) == 0 {
			if ctx.Err() != nil {
				break
			}
			if err := p.ProcessRecords(work, nil, cp); err != nil {
				c.log.Warn("processor failed on an idle tick", "err", err)
			}
			select {
			case <-wake:
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if err := p.ProcessRecords(work, batch, cp); err != nil {
			c.log.Error("processing failed; retrying the same records", "records", len(batch), "err", err)
			if ctx.Err() != nil {
				// Stopping: a few more tries, then leave the rest to the
				// shutdown report rather than hold the process.
				if failures++; failures >= maxStopRetries {
					break
				}
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff, failures = 100*time.Millisecond, 0
		c.s.markDelivered(len(batch))
	}
	if err := p.Shutdown(work, stream.Requested, cp); err != nil {
		return fmt.Errorf("shut down processor: %w", err)
	}
	if n := c.s.Len(); n > 0 {
		c.log.Warn("stopped with records not checkpointed", "records", n)
	}
	return nil
}

// pending returns the records not yet delivered (at most maxBatch) and a
// channel closed when more arrive.
func (s *Stream) pending() ([]stream.Record, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := min(len(s.records), s.delivered+maxBatch)
	return append([]stream.Record(nil), s.records[s.delivered:end]...), s.cond
}

func (s *Stream) markDelivered(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered += n
}

type checkpointer struct{ s *Stream }

var _ stream.StateCheckpointer = checkpointer{}

// Checkpoint drops the held records up to seq, freeing capacity. A processor
// checkpoints only records it was given, including those of the batch in
// progress, so delivered may go below zero until markDelivered catches up.
// A state saved by an earlier CheckpointWithState is kept.
func (c checkpointer) Checkpoint(ctx context.Context, seq string) error {
	return c.write(seq, nil, false)
}

// CheckpointWithState is Checkpoint that also keeps state next to the
// checkpoint, for the processor that resumes from it.
func (c checkpointer) CheckpointWithState(ctx context.Context, seq string, state []byte) error {
	return c.write(seq, state, true)
}

func (c checkpointer) write(seq string, state []byte, withState bool) error {
	s := c.s
	if len(seq) != len(s.epoch)+20 || !strings.HasPrefix(seq, s.epoch) {
		return fmt.Errorf("checkpoint %q: not a sequence number of this memory stream", seq)
	}
	if _, err := strconv.ParseUint(seq[len(s.epoch):], 10, 64); err != nil {
		return fmt.Errorf("checkpoint %q: not a sequence number of this memory stream", seq)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := 0
	// Same width, same epoch: string order is numeric order.
	for drop < len(s.records) && s.records[drop].SequenceNumber <= seq {
		s.bytes -= recordBytes(s.records[drop].Data, s.records[drop].PartitionKey)
		drop++
	}
	s.records = append(s.records[:0:0], s.records[drop:]...)
	s.delivered -= drop
	s.checkpoint = seq
	if withState {
		s.state = append([]byte(nil), state...)
	}
	return nil
}
