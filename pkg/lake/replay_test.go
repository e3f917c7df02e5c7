package lake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/stream"
)

var errCrash = errors.New("simulated crash")

// faultyStore fails the Puts for which failPut says so.
type faultyStore struct {
	Store
	mu      sync.Mutex
	failPut func(key string) bool
	failDel func(key string) bool
}

func (s *faultyStore) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	fail := s.failPut != nil && s.failPut(key)
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("put %s: %w", key, errCrash)
	}
	return s.Store.Put(ctx, key, data)
}

func (s *faultyStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	fail := s.failDel != nil && s.failDel(key)
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("delete %s: %w", key, errCrash)
	}
	return s.Store.Delete(ctx, key)
}

func seqIndex(t testing.TB, seq string) int {
	i, err := strconv.Atoi(strings.TrimPrefix(seq, "4959"))
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// assertExactlyOnce checks with DuckDB that gold and raw hold exactly the
// event ids of in, once each.
func assertExactlyOnce(t *testing.T, dir string, in []stream.Item) {
	t.Helper()
	db := duck(t)
	want := fmt.Sprintf("%d|%d", len(in), len(in))
	if got := queryOne(t, db, "SELECT count(*), count(DISTINCT event_id) FROM "+gold(dir)); got != want {
		t.Errorf("gold rows, distinct event ids = %s, want %s", got, want)
	}
	if got := queryOne(t, db, "SELECT count(*), count(DISTINCT event_id) FROM "+rawNDJSON(dir)); got != want {
		t.Errorf("raw rows, distinct event ids = %s, want %s", got, want)
	}
	var ids []string
	for _, it := range in {
		ids = append(ids, "'"+it.Reading.EventID+"'")
	}
	q := fmt.Sprintf("SELECT count(*) FROM %s WHERE event_id IN (%s)", gold(dir), strings.Join(ids, ","))
	if got := queryOne(t, db, q); got != fmt.Sprint(len(in)) {
		t.Errorf("gold rows with the input's event ids = %s, want %d", got, len(in))
	}
}

func TestShardWriter_CrashReplay(t *testing.T) {
	ctx := context.Background()
	t.Run("FlushEndsEarlierOnReplay", func(t *testing.T) {
		store, dir := MustFileStore(t)
		// Hours chosen so that partition 2 has no record before j but some
		// between j and k: its first object name must still be reused.
		hours := []int{0, 1, 0, 1, 0, 2, 1, 2, 0, 1, 2, 0, 1, 2, 0}
		in := items(t, len(hours), func(i int) int { return hours[i] })
		const k, j = 10, 4

		// Run 1: flush A ends at record k-1; the "crash" hits before the checkpoint.
		cfg := testConfig(dir)
		cfg.Flush.MaxRecords = k
		w1, _ := MustWriter(t, cfg, store)
		sw := w1.Shard("s", "shard-0")
		cp := &recCP{fail: func(string) error { return errCrash }}
		// The flush runs in the background: its failure surfaces in Add
		// when it is over by the end of Add, in Flush at the latest.
		err := sw.Add(ctx, in, cp)
		if err == nil {
			err = sw.Flush(ctx, cp)
		}
		if !errors.Is(err, errCrash) {
			t.Fatalf("Add, Flush: got %v, want the crash", err)
		}
		sw.Discard()
		if w1.BufferedBytes() != 0 {
			t.Fatalf("buffered after Discard = %d", w1.BufferedBytes())
		}

		// Run 2: replay from the start; flushes end at j-1, then at j+j-1, ...
		cfg.Flush.MaxRecords = j
		w2, _ := MustWriter(t, cfg, store)
		sw = w2.Shard("s", "shard-0")
		cp = &recCP{}
		if err := sw.Add(ctx, in, cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		assertExactlyOnce(t, dir, in)
	})

	t.Run("RandomCrashes", func(t *testing.T) {
		seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		if seed, ok := testkit.SeedFromEnv(t); ok {
			seeds = []uint64{seed} // replaying one failure
		}
		for _, seed := range seeds {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				replayRandomly(t, seed)
			})
		}
	})
}

// replayRandomly feeds 200 records over 4 hours in random batches with
// random flush sizes; flushes randomly fail part-way through their object
// writes or at the checkpoint, and every failure is treated as a crash: the
// buffer is dropped and a new writer replays from the last checkpoint.
func replayRandomly(t *testing.T, seed uint64) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(seed, 99))
	base, dir := MustFileStore(t)
	// Puts run in background flushes: they draw from their own generator
	// (faultyStore serializes failPut calls).
	putRnd := rand.New(rand.NewPCG(seed, 7))
	store := &faultyStore{Store: base, failPut: func(string) bool { return putRnd.IntN(12) == 0 }}
	in := items(t, 200, randomHours(seed, 4))
	next := 0 // first record after the checkpoint
	crashes := 0
	for round := 0; next < len(in); round++ {
		if round > 200 {
			t.Fatal("no progress after 200 rounds")
		}
		cfg := testConfig(dir)
		cfg.Flush.MaxRecords = 1 + rnd.IntN(40)
		w, err := New(cfg, store, prometheus.NewRegistry(), discardLog())
		if err != nil {
			t.Fatal(err)
		}
		sw := w.Shard("s", "shard-7")
		cp := &recCP{fail: func(string) error {
			if rnd.IntN(4) == 0 {
				return errCrash
			}
			return nil
		}}
		pos := next
		var ferr error
		for pos < len(in) && ferr == nil {
			end := min(pos+1+rnd.IntN(30), len(in))
			ferr = sw.Add(ctx, in[pos:end], cp)
			pos = end
		}
		if ferr == nil {
			ferr = sw.Flush(ctx, cp)
		}
		if calls := cp.Calls(); len(calls) > 0 {
			next = seqIndex(t, calls[len(calls)-1]) + 1
		}
		if ferr != nil {
			if !errors.Is(ferr, errCrash) {
				t.Fatal(ferr)
			}
			crashes++
			sw.Discard()
		}
	}
	if crashes == 0 {
		t.Fatal("no crash happened; pick another seed")
	}
	assertExactlyOnce(t, dir, in)
}

func TestShardWriter_RetriedBatch(t *testing.T) {
	// The consumer retries a batch after Add (or Flush) failed; the records
	// already buffered are skipped, the flush retried rewrites the same
	// names.
	ctx := context.Background()
	base, dir := MustFileStore(t)
	failing := true
	store := &faultyStore{Store: base, failPut: func(key string) bool { return failing && strings.HasPrefix(key, "gold/") }}
	cfg := testConfig(dir)
	cfg.Flush.MaxRecords = 8
	w, reg := MustWriter(t, cfg, store)
	sw := w.Shard("s", "shard-1")
	cp := &recCP{}
	in := items(t, 20, func(i int) int { return i % 2 })
	// The flush of records 0-7 starts in the background at record 7, and
	// Add goes on buffering 8 and 9; its failure surfaces in Add when it is
	// over by the end of Add, in Flush at the latest, and puts 0-7 back in
	// front of 8 and 9.
	err := sw.Add(ctx, in[:10], cp)
	if err == nil {
		err = sw.Flush(ctx, cp)
	}
	if !errors.Is(err, errCrash) {
		t.Fatalf("Add, Flush: got %v, want the put failure", err)
	}
	if got := counterValue(t, reg, "weatherd_lake_flush_failures_total"); got != 1 {
		t.Fatalf("flush failures = %v, want 1", got)
	}
	failing = false
	if err := sw.Add(ctx, in[:10], cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Add(ctx, in[10:], cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	// 0-10 (the retried 0-9, then 10 makes it 11 >= 8), 11-18, 19.
	if got, want := strings.Join(cp.Calls(), ","), strings.Join([]string{seqNo(10), seqNo(18), seqNo(19)}, ","); got != want {
		t.Fatalf("checkpoints = %s, want %s", got, want)
	}
	assertExactlyOnce(t, dir, in)
}

func TestShardWriter_CheckpointStoredButFailed(t *testing.T) {
	// A checkpoint can be stored while its caller sees an error (DynamoDB
	// applied the write, the answer did not come back in time). Then the
	// table is out of reach, the shard's lease is lost, and the new owner
	// replays from the stored checkpoint. Every record must be in the lake
	// once: the flush whose checkpoint failed may not be rewritten with more
	// records, which the replay would write again under other names.
	ctx := context.Background()
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Flush.MaxRecords = 8
	in := items(t, 30, func(i int) int { return i % 3 })

	w1, _ := MustWriter(t, cfg, store)
	sw := w1.Shard("s", "shard-2")
	stored := &recCP{}
	var attempts []string
	cp := checkpointFunc(func(ctx context.Context, seq string) error {
		attempts = append(attempts, seq)
		if len(attempts) == 1 {
			if err := stored.Checkpoint(ctx, seq); err != nil {
				return err
			}
			return fmt.Errorf("update lease: answer lost: %w", errCrash)
		}
		return fmt.Errorf("update lease: table unreachable: %w", errCrash)
	})
	// The consumer hands over its batches, retrying each once after an
	// error, as it does while its lease holds.
	for _, b := range [][2]int{{0, 10}, {0, 10}, {10, 20}, {10, 20}} {
		if err := sw.Add(ctx, in[b[0]:b[1]], cp); err != nil && !errors.Is(err, errCrash) {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(ctx, cp); !errors.Is(err, errCrash) {
		t.Fatalf("Flush: got %v, want the unreachable table", err)
	}
	for i, seq := range attempts {
		if seq != seqNo(7) {
			t.Fatalf("checkpoint attempts = %v: attempt %d is not the first flush's %s retried", attempts, i, seqNo(7))
		}
	}
	sw.Discard() // lease lost

	calls := stored.Calls()
	next := seqIndex(t, calls[len(calls)-1]) + 1
	w2, _ := MustWriter(t, cfg, store)
	sw = w2.Shard("s", "shard-2")
	if err := sw.Add(ctx, in[next:], stored); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, stored); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, dir, in)
}

// checkpointFunc is a stream.Checkpointer made of a function.
type checkpointFunc func(ctx context.Context, seq string) error

func (f checkpointFunc) Checkpoint(ctx context.Context, seq string) error { return f(ctx, seq) }
