package lake

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
)

// gatedStore holds every Put until the gate opens (or the Put's context
// ends), and counts the Puts waiting.
type gatedStore struct {
	Store
	gate    chan struct{}
	mu      sync.Mutex
	waiting int
}

func (s *gatedStore) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	s.waiting++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
	}()
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Put(ctx, key, data)
}

func (s *gatedStore) puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// gatedShard is a shard writer on a gated file store (in dir), flushing
// every maxRecords records.
type gatedShard struct {
	store *gatedStore
	dir   string
	w     *Writer
	sw    *ShardWriter
	cp    *recCP
}

func newGatedShard(t *testing.T, maxRecords int) gatedShard {
	base, dir := MustFileStore(t)
	store := &gatedStore{Store: base, gate: make(chan struct{})}
	cfg := testConfig(dir)
	cfg.Flush.MaxRecords = maxRecords
	w, _ := MustWriter(t, cfg, store)
	return gatedShard{store: store, dir: dir, w: w, sw: w.Shard("s", "shard-0"), cp: &recCP{}}
}

// TestShardWriter_FlushInBackground: a flush the size triggers writes while
// the shard goes on buffering; it is checkpointed by the next Add or Tick
// once written, and the records after it stay buffered for the next flush.
func TestShardWriter_FlushInBackground(t *testing.T) {
	ctx := context.Background()
	g := newGatedShard(t, 4)
	store, dir, w, sw, cp, base := g.store, g.dir, g.w, g.sw, g.cp, g.store.Store
	in := items(t, 7, func(i int) int { return 0 })

	// Records 0-3 reach the trigger: their flush starts and blocks in the
	// store; Add returns and buffers 4-6 meanwhile.
	if err := sw.Add(ctx, in[:6], cp); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return store.puts() == 2 }) // raw + gold of hour 0
	if err := sw.Add(ctx, in[6:], cp); err != nil {
		t.Fatal(err)
	}
	if len(cp.Calls()) != 0 {
		t.Fatalf("checkpoints before the objects were written: %v", cp.Calls())
	}
	var all int64
	for i := range in {
		all += itemSize(&in[i])
	}
	if got := w.BufferedBytes(); got != all {
		t.Fatalf("buffered = %d, want %d: the flush in flight still holds its budget", got, all)
	}

	close(store.gate)
	waitUntil(t, func() bool { return store.puts() == 0 })
	waitUntil(t, func() bool {
		if err := sw.Tick(ctx, cp); err != nil {
			t.Fatal(err)
		}
		return len(cp.Calls()) > 0
	})
	if got := cp.Calls(); !slices.Equal(got, []string{seqNo(3)}) {
		t.Fatalf("checkpoints = %v, want the background flush's last record", got)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if got := cp.Calls(); !slices.Equal(got, []string{seqNo(3), seqNo(6)}) {
		t.Fatalf("checkpoints = %v", got)
	}
	if got := w.BufferedBytes(); got != 0 {
		t.Fatalf("buffered after the last flush = %d", got)
	}
	assertExactlyOnce(t, dir, in)
	keys := listKeys(t, base, kindGold)
	if want := []string{objectKey(kindGold, in[0].Reading.ObservedAt.Truncate(3600e9), objectName("s", "shard-0", seqNo(0))),
		objectKey(kindGold, in[0].Reading.ObservedAt.Truncate(3600e9), objectName("s", "shard-0", seqNo(4)))}; !slices.Equal(keys, want) {
		t.Fatalf("gold objects = %v, want %v", keys, want)
	}
}

// TestShardWriter_DiscardStopsFlushInFlight: losing the lease while a flush
// is being written stops it, checkpoints nothing and frees all the budget.
func TestShardWriter_DiscardStopsFlushInFlight(t *testing.T) {
	ctx := context.Background()
	g := newGatedShard(t, 2)
	store, w, sw, cp := g.store, g.w, g.sw, g.cp
	if err := sw.Add(ctx, items(t, 3, func(int) int { return 0 }), cp); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return store.puts() == 2 })
	sw.Discard()
	if got := w.BufferedBytes(); got != 0 {
		t.Fatalf("buffered after Discard = %d", got)
	}
	if len(cp.Calls()) != 0 {
		t.Fatalf("checkpoints = %v", cp.Calls())
	}
	if keys := listKeys(t, store.Store, kindGold); len(keys) != 0 {
		t.Fatalf("gold objects written by a discarded flush: %v", keys)
	}
}

// TestShardWriter_ContextEndsWhileWaitingForFlush: Flush waiting on a flush
// in flight stops it when its context ends and keeps every record buffered
// for the next attempt.
func TestShardWriter_ContextEndsWhileWaitingForFlush(t *testing.T) {
	g := newGatedShard(t, 2)
	store, dir, sw, cp := g.store, g.dir, g.sw, g.cp
	in := items(t, 3, func(int) int { return 0 })
	if err := sw.Add(context.Background(), in, cp); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return store.puts() == 2 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sw.Flush(ctx, cp); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush = %v, want the context's end", err)
	}
	close(store.gate)
	if err := sw.Flush(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	if got := cp.Calls(); !slices.Equal(got, []string{seqNo(2)}) {
		t.Fatalf("checkpoints = %v", got)
	}
	assertExactlyOnce(t, dir, in)
}

// TestShardWriter_RecycledRowChunks: flushes of more than one full row
// chunk, back to back, so later buffers are built in chunks recycled from
// earlier ones: gold holds exactly the input's rows and values.
func TestShardWriter_RecycledRowChunks(t *testing.T) {
	ctx := context.Background()
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Flush.MaxRecords = 2*maxRowChunk + 100
	w, _ := MustWriter(t, cfg, store)
	sw := w.Shard("s", "shard-0")
	cp := &recCP{}
	in := items(t, 3*cfg.Flush.MaxRecords+7, func(int) int { return 0 })
	var gust, rain float64
	for i := range in {
		v := in[i].Reading.Values
		g, _ := v.Get("windGust")
		gust += g
		if r, ok := v.Get("rainIntensity"); ok {
			rain += r
		}
	}
	for lo := 0; lo < len(in); lo += 500 {
		if err := sw.Add(ctx, in[lo:min(lo+500, len(in))], cp); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if n := len(cp.Calls()); n != 4 {
		t.Fatalf("checkpoints = %d, want 4 (3 full flushes and the rest)", n)
	}
	assertExactlyOnce(t, dir, in)
	want := fmt.Sprintf("%d|%v|%v", len(in), math.Round(gust*100)/100, math.Round(rain*100)/100)
	q := "SELECT count(*), round(sum(wind_gust), 2), round(sum(rain_intensity), 2) FROM " + gold(dir)
	if got := queryOne(t, duck(t), q); got != want {
		t.Fatalf("gold count, sum(wind_gust), sum(rain_intensity) = %s, want %s", got, want)
	}
}
