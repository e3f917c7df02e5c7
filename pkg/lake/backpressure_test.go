package lake

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/stream"
)

// waitUntil polls cond every millisecond for up to 30s.
func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	testkit.WaitFor(tb, "the condition", 30*time.Second, time.Millisecond, func() (bool, string) { return cond(), "" })
}

func (w *Writer) waiters() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting
}

func TestShardWriter_Backpressure(t *testing.T) {
	ctx := context.Background()
	in := items(t, 12, func(int) int { return 0 })
	size := func(its []stream.Item) (n int64) {
		for _, it := range its {
			n += itemSize(&it)
		}
		return n
	}

	t.Run("BlocksUntilAnotherShardFlushes", func(t *testing.T) {
		store, dir := MustFileStore(t)
		cfg := testConfig(dir)
		cfg.MaxBufferedBytes = size(in[:2]) + 10
		cfg.Flush.MaxBytes = cfg.MaxBufferedBytes
		w, reg := MustWriter(t, cfg, store)
		a, b := w.Shard("s", "a"), w.Shard("s", "b")
		cpA, cpB := &recCP{}, &recCP{}
		if err := a.Add(ctx, in[:2], cpA); err != nil {
			t.Fatal(err)
		}
		if got := counterValue(t, reg, "weatherd_lake_buffered_bytes"); got != float64(size(in[:2])) {
			t.Fatalf("buffered gauge = %v, want %d", got, size(in[:2]))
		}
		done := make(chan error, 1)
		go func() { done <- b.Add(ctx, in[2:3], cpB) }()
		waitUntil(t, func() bool { return w.waiters() == 1 })
		select {
		case err := <-done:
			t.Fatalf("Add returned (%v) while the budget was exhausted", err)
		default:
		}
		// The idle shard sees the pressure on its next tick and flushes.
		if err := a.Tick(ctx, cpA); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := cpA.Calls(); !slices.Equal(got, []string{seqNo(1)}) {
			t.Fatalf("shard a checkpoints = %v", got)
		}
		if got := w.BufferedBytes(); got != size(in[2:3]) {
			t.Fatalf("buffered = %d, want %d", got, size(in[2:3]))
		}
	})

	t.Run("HonoursContext", func(t *testing.T) {
		store, dir := MustFileStore(t)
		cfg := testConfig(dir)
		cfg.MaxBufferedBytes = size(in[:2]) + 10
		cfg.Flush.MaxBytes = cfg.MaxBufferedBytes
		w, _ := MustWriter(t, cfg, store)
		a, c := w.Shard("s", "a"), w.Shard("s", "c")
		if err := a.Add(ctx, in[:2], &recCP{}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		cp := &recCP{}
		go func() { done <- c.Add(cctx, in[2:4], cp) }()
		waitUntil(t, func() bool { return w.waiters() == 1 })
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || err.Error() != "lake shard c: wait for buffer budget: context canceled" {
			t.Fatalf("Add = %v, want the wait cancelled", err)
		}
		if got := w.BufferedBytes(); got != size(in[:2]) {
			t.Fatalf("buffered = %d, want shard a's %d only", got, size(in[:2]))
		}
		if len(cp.Calls()) != 0 {
			t.Fatalf("checkpoints = %v", cp.Calls())
		}
	})

	t.Run("OwnFlushFreesBudget", func(t *testing.T) {
		store, dir := MustFileStore(t)
		cfg := testConfig(dir)
		cfg.MaxBufferedBytes = size(in[:3]) + 10
		cfg.Flush.MaxBytes = cfg.MaxBufferedBytes
		w, _ := MustWriter(t, cfg, store)
		sw := w.Shard("s", "a")
		var peak int64
		cp := &recCP{fail: func(string) error { peak = max(peak, w.BufferedBytes()); return nil }}
		if err := sw.Add(ctx, in, cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		if peak > cfg.MaxBufferedBytes {
			t.Fatalf("peak buffered %d over the bound %d", peak, cfg.MaxBufferedBytes)
		}
		// Record sizes differ by a few bytes, so at most 3 fit in a flush.
		if got := cp.Calls(); len(got) < 4 || got[len(got)-1] != seqNo(11) {
			t.Fatalf("checkpoints = %v, want at least 4 ending at record 11", got)
		}
		assertExactlyOnce(t, dir, in)
	})

	t.Run("DiscardReleasesBudget", func(t *testing.T) {
		store, dir := MustFileStore(t)
		w, _ := MustWriter(t, testConfig(dir), store)
		sw := w.Shard("s", "a")
		if err := sw.Add(ctx, in, &recCP{}); err != nil {
			t.Fatal(err)
		}
		sw.Discard()
		if got := w.BufferedBytes(); got != 0 {
			t.Fatalf("buffered after Discard = %d", got)
		}
		// After Discard the shard accepts the replay of the same records.
		cp := &recCP{}
		if err := sw.Add(ctx, in, cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		assertExactlyOnce(t, dir, in)
	})
}
