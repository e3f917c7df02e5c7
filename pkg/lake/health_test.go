package lake

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// downStore fails every Put while down is set.
type downStore struct {
	Store
	down atomic.Bool
}

func (s *downStore) Put(ctx context.Context, key string, data []byte) error {
	if s.down.Load() {
		return errors.New("put object: dial tcp 127.0.0.1:4570: connect: connection refused")
	}
	return s.Store.Put(ctx, key, data)
}

func TestWriter_HealthFollowsTheStore(t *testing.T) {
	ctx := context.Background()
	fs, dir := MustFileStore(t)
	store := &downStore{Store: fs}
	w, _ := MustWriter(t, testConfig(dir), store)
	w.health.Grace = time.Nanosecond // any failure without a success since counts
	sw := w.Shard("s", "shardId-000000000001")
	in := items(t, 4, func(int) int { return 0 })
	if err := w.Health(); err != nil {
		t.Fatalf("health before any flush: %v", err)
	}

	store.down.Store(true)
	cp := &recCP{}
	if err := sw.Add(ctx, in, cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, cp); err == nil {
		t.Fatal("flush succeeded with the store down")
	}
	err := w.Health()
	if err == nil || !strings.HasPrefix(err.Error(), "failing for ") ||
		!strings.HasSuffix(err.Error(), ": flush lake shard shardId-000000000001: put object: dial tcp 127.0.0.1:4570: connect: connection refused") {
		t.Fatalf("health with the store down: %v", err)
	}

	// The store is back: the retried flush writes everything and the lake is
	// healthy again, even though the checkpoint (the consumer's) fails.
	store.down.Store(false)
	failing := &recCP{fail: func(string) error { return errors.New("lease table unreachable") }}
	if err := sw.Flush(ctx, failing); err == nil {
		t.Fatal("flush with a failing checkpoint succeeded")
	}
	if err := w.Health(); err != nil {
		t.Fatalf("health after the objects were written: %v", err)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if err := w.Health(); err != nil {
		t.Fatalf("health after a flush: %v", err)
	}
	assertExactlyOnce(t, dir, in)
}
