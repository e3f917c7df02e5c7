package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestWriter_Compact(t *testing.T) {
	ctx := context.Background()
	base, dir := MustFileStore(t)
	store := &faultyStore{Store: base}
	cfg := testConfig(dir)
	cfg.Compaction.Enabled = true
	cfg.Flush.MaxRecords = 7
	w, reg := MustWriter(t, cfg, store)
	realNow := time.Now()
	now := realNow
	w.now = func() time.Time { return now }

	// Readings in the two hours that ended 5 and 4 hours ago.
	off := int(realNow.UTC().Truncate(time.Hour).Sub(baseHour)/time.Hour) - 5
	all := items(t, 60, func(i int) int { return off + i%2 })
	in := all[:40]
	db := duck(t)
	rows := func() string { return queryOne(t, db, "SELECT count(*), count(DISTINCT event_id) FROM "+gold(dir)) }
	files := func() []string {
		var names []string
		for _, k := range listKeys(t, base, "gold/") {
			names = append(names, k[strings.LastIndex(k, "/")+1:])
		}
		return names
	}
	compactedOnly := func() {
		t.Helper()
		fs := files()
		if len(fs) != 2 || !strings.HasPrefix(fs[0], compactedPrefix) || !strings.HasPrefix(fs[1], compactedPrefix) {
			t.Fatalf("gold files = %v, want one compacted file per hour", fs)
		}
	}

	// Run 1: every flush checkpointed but the last; the process dies.
	sw := w.Shard("s", "shard-0")
	cp := &recCP{fail: func(seq string) error {
		if seq == seqNo(39) {
			return errCrash
		}
		return nil
	}}
	if err := sw.Add(ctx, in, cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, cp); !errors.Is(err, errCrash) {
		t.Fatalf("Flush = %v, want the crash", err)
	}
	sw.Discard()
	if n := len(files()); n != 12 {
		t.Fatalf("gold files before compaction = %d, want 12", n)
	}

	t.Run("YoungFilesUntouched", func(t *testing.T) {
		if err := w.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(files()); n != 12 {
			t.Fatalf("gold files = %d, want 12", n)
		}
	})

	t.Run("MergesOldFiles", func(t *testing.T) {
		now = realNow.Add(3 * time.Hour)
		if err := w.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		compactedOnly()
		if got := rows(); got != "40|40" {
			t.Fatalf("rows, distinct = %s, want 40|40", got)
		}
	})

	t.Run("ReplayAfterCompactionConverges", func(t *testing.T) {
		// The pathological case: the shard is replayed from its last
		// checkpoint (record 34) only after the uncommitted flush was merged.
		cfg2 := cfg
		cfg2.Flush.MaxRecords = 2
		w2, _ := MustWriter(t, cfg2, store)
		sw := w2.Shard("s", "shard-0")
		cp := &recCP{}
		if err := sw.Add(ctx, in[35:], cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		if got := rows(); got != "45|40" {
			t.Fatalf("rows, distinct before the next run = %s, want 45|40", got)
		}
		now = realNow.Add(6 * time.Hour)
		if err := w.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		compactedOnly()
		assertExactlyOnce(t, dir, in)
	})

	t.Run("InterruptedRunIsRedone", func(t *testing.T) {
		sw := w.Shard("s", "shard-0")
		cp := &recCP{}
		if err := sw.Add(ctx, all[40:], cp); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(ctx, cp); err != nil {
			t.Fatal(err)
		}
		store.failDel = func(string) bool { return true }
		now = realNow.Add(9 * time.Hour)
		err := w.Compact(ctx)
		if !errors.Is(err, errCrash) {
			t.Fatalf("Compact = %v, want the delete failure", err)
		}
		if got := rows(); got == "60|60" {
			t.Fatal("the interrupted run left no duplicates to clean up; the test proves nothing")
		}
		store.failDel = nil
		if err := w.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		compactedOnly()
		assertExactlyOnce(t, dir, all)
		// Idempotent: nothing left to merge.
		before := files()
		if err := w.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if after := files(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("files changed on an idle run: %v -> %v", before, after)
		}
	})

	if got := testCounterVec(t, reg, "weatherd_lake_compaction_runs_total", "outcome", "error"); got != 1 {
		t.Fatalf("compaction errors = %v, want 1", got)
	}
	if got := testCounterVec(t, reg, "weatherd_lake_compaction_runs_total", "outcome", "ok"); got != 5 {
		t.Fatalf("compaction ok runs = %v, want 5", got)
	}
}

func TestWriter_RunStopsWithContext(t *testing.T) {
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Compaction.Enabled = true
	w, _ := MustWriter(t, cfg, store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
