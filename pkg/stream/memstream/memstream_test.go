package memstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/stream"
)

// collector checkpoints every batch it gets once it has seen it, unless told
// to fail.
type collector struct {
	mu        sync.Mutex
	got       []string
	seqs      []string
	failNext  int
	shutdown  []stream.ShutdownReason
	emptyCall int
	emptyAt   []time.Time // when each idle call came
}

func (c *collector) Initialize(context.Context, string, stream.Position) error { return nil }

func (c *collector) ProcessRecords(ctx context.Context, recs []stream.Record, cp stream.Checkpointer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(recs) == 0 {
		c.emptyCall++
		c.emptyAt = append(c.emptyAt, time.Now())
		return nil
	}
	if c.failNext > 0 {
		c.failNext--
		return errors.New("sink down")
	}
	for _, r := range recs {
		c.got = append(c.got, r.PartitionKey+":"+string(r.Data))
		c.seqs = append(c.seqs, r.SequenceNumber)
	}
	return cp.Checkpoint(ctx, recs[len(recs)-1].SequenceNumber)
}

func (c *collector) Shutdown(_ context.Context, r stream.ShutdownReason, _ stream.Checkpointer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdown = append(c.shutdown, r)
	return nil
}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

func TestStream_DeliversInOrderAndDrainsOnStop(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(stream.MemoryConfig{Capacity: 1000}, reg)
	col := &collector{failNext: 1}
	cons := s.Consumer(func() stream.Processor { return col }, slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- cons.Run(ctx) }()

	var want []string
	for i := range 700 {
		key := fmt.Sprintf("loc-%d", i%3)
		if err := s.Producer().Put(context.Background(), key, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s:%d", key, i))
	}
	cancel() // stop: what was put is still delivered
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := col.snapshot()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %d records (first failure retried), want the 700 in order", len(got))
	}
	if fmt.Sprint(col.shutdown) != "[requested]" {
		t.Errorf("shutdown reasons = %v", col.shutdown)
	}
	if s.Len() != 0 || s.Checkpoint() != s.sequence(700) {
		t.Errorf("held %d, checkpoint %q after everything was checkpointed", s.Len(), s.Checkpoint())
	}
	if got := testutil.ToFloat64(s.produced); got != 700 {
		t.Errorf("weatherd_readings_produced_total = %v", got)
	}
}

func TestStream_BoundedUntilCheckpointed(t *testing.T) {
	s := New(stream.MemoryConfig{Capacity: 3}, prometheus.NewRegistry())
	for i := range 3 {
		if err := s.Put(context.Background(), "k", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(context.Background(), "k", []byte("x")); !errors.Is(err, stream.ErrBufferFull) {
		t.Fatalf("4th put: err = %v, want ErrBufferFull", err)
	}
	cp := checkpointer{s}
	s.markDelivered(2)
	if err := cp.Checkpoint(context.Background(), s.sequence(2)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("held %d after checkpointing 2 of 3", s.Len())
	}
	if err := s.Put(context.Background(), "k", []byte("y")); err != nil {
		t.Errorf("put after checkpoint freed room: %v", err)
	}
	if err := cp.Checkpoint(context.Background(), "not-a-number"); err == nil {
		t.Error("a foreign sequence number was accepted")
	}
}

// TestStream_BytesBoundedUntilCheckpointed: stream.memory.max_bytes bounds
// the bytes held whatever the record count (a forecast is up to 32 KiB, so
// capacity alone let 100,000 of them hold gigabytes); a checkpoint frees
// them, and an empty stream takes a record larger than the bound.
func TestStream_BytesBoundedUntilCheckpointed(t *testing.T) {
	ctx := context.Background()
	body := make([]byte, 1000-recordOverhead-1) // 1,000 bytes held with key "k"
	s := New(stream.MemoryConfig{Capacity: 1000, MaxBytes: 3500}, prometheus.NewRegistry())
	for i := range 3 {
		if err := s.Put(ctx, "k", body); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if got := s.Bytes(); got != 3000 {
		t.Fatalf("held %d bytes, want 3000", got)
	}
	if err := s.Put(ctx, "k", body); !errors.Is(err, stream.ErrBufferFull) {
		t.Fatalf("4th 1,000-byte put past 3,500 bytes: err = %v, want ErrBufferFull", err)
	}
	if err := s.Put(ctx, "k", []byte("small")); err != nil {
		t.Errorf("a record that fits: %v", err)
	}
	cp := checkpointer{s}
	s.markDelivered(4)
	if err := cp.Checkpoint(ctx, s.sequence(4)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("after checkpointing everything: %d records, %d bytes held", s.Len(), s.Bytes())
	}
	if err := s.Put(ctx, "k", make([]byte, 10_000)); err != nil {
		t.Errorf("a record over the bound into an empty stream: %v", err)
	}
	if err := s.Put(ctx, "k", []byte("x")); !errors.Is(err, stream.ErrBufferFull) {
		t.Errorf("put behind a record over the bound: err = %v, want ErrBufferFull", err)
	}
}

func TestConsumer_IdleTicks(t *testing.T) {
	s := New(stream.MemoryConfig{Capacity: 10}, prometheus.NewRegistry())
	col := &collector{}
	cons := s.Consumer(func() stream.Processor { return col }, slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	testkit.WaitFor(t, "three idle ProcessRecords calls", 30*time.Second, 10*time.Millisecond, func() (bool, string) {
		col.mu.Lock()
		defer col.mu.Unlock()
		return col.emptyCall >= 3, fmt.Sprintf("%d idle calls", col.emptyCall)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// One a second: an idle stream is not polled in a busy loop. A loaded
	// machine only stretches the gaps, so only their lower bound is checked.
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := 1; i < len(col.emptyAt); i++ {
		if gap := col.emptyAt[i].Sub(col.emptyAt[i-1]); gap < time.Second-10*time.Millisecond {
			t.Errorf("idle call %d came %v after the one before, want about a second", i, gap)
		}
	}
}

// stateProc checkpoints every batch with the state "after <seq>" and
// records the position it was started from.
type stateProc struct {
	from stream.Position
}

func (p *stateProc) Initialize(_ context.Context, _ string, from stream.Position) error {
	p.from = from
	return nil
}

func (p *stateProc) ProcessRecords(ctx context.Context, recs []stream.Record, cp stream.Checkpointer) error {
	if len(recs) == 0 {
		return nil
	}
	seq := recs[len(recs)-1].SequenceNumber
	return cp.(stream.StateCheckpointer).CheckpointWithState(ctx, seq, []byte("after "+seq))
}

func (p *stateProc) Shutdown(context.Context, stream.ShutdownReason, stream.Checkpointer) error {
	return nil
}

func TestConsumer_StateComesBackWithTheCheckpoint(t *testing.T) {
	s := New(stream.MemoryConfig{Capacity: 10}, prometheus.NewRegistry())
	for i := range 3 {
		if err := s.Put(context.Background(), "loc", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	run := func() *stateProc {
		p := &stateProc{}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // drain what is held, then stop
		if err := s.Consumer(func() stream.Processor { return p }, slog.Default()).Run(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := run(); p.from.AfterSequence != "" || p.from.State != nil {
		t.Fatalf("first run started from %+v, want the start with no state", p.from)
	}
	p := run()
	third := s.sequence(3)
	if p.from.AfterSequence != third || string(p.from.State) != "after "+third {
		t.Fatalf("second run started from %q with state %q, want %s with %q", p.from.AfterSequence, p.from.State, third, "after "+third)
	}
	// A plain checkpoint keeps the state.
	if err := (checkpointer{s}).Checkpoint(context.Background(), third); err != nil {
		t.Fatal(err)
	}
	if seq, st := s.checkpointState(); seq != third || string(st) != "after "+third {
		t.Fatalf("after a plain checkpoint: %q %q", seq, st)
	}
}

// TestStream_SequenceNumbersUniqueAcrossStreams: two streams (two runs of
// weatherd, one after the other or side by side on one lake) never hand out
// the same sequence number, so their lake objects never share a name;
// within a stream they keep put order, and a checkpoint of the other
// stream's is refused.
func TestStream_SequenceNumbersUniqueAcrossStreams(t *testing.T) {
	a := New(stream.MemoryConfig{Capacity: 10}, prometheus.NewRegistry())
	b := New(stream.MemoryConfig{Capacity: 10}, prometheus.NewRegistry())
	seen := map[string]bool{}
	for _, s := range []*Stream{a, b} {
		for i := range 3 {
			if err := s.Put(context.Background(), "k", []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		recs, _ := s.pending()
		for i, r := range recs {
			if seen[r.SequenceNumber] {
				t.Errorf("sequence number %s handed out twice", r.SequenceNumber)
			}
			seen[r.SequenceNumber] = true
			if i > 0 && !(recs[i-1].SequenceNumber < r.SequenceNumber) || len(r.SequenceNumber) != len(recs[0].SequenceNumber) {
				t.Errorf("sequence numbers out of order: %s then %s", recs[i-1].SequenceNumber, r.SequenceNumber)
			}
		}
	}
	if err := (checkpointer{a}).Checkpoint(context.Background(), b.sequence(1)); err == nil {
		t.Error("a checkpoint of another stream's sequence number was accepted")
	}
}
