package kcl

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// countingKinesis counts the GetRecords calls workers make.
type countingKinesis struct {
	KinesisAPI
	gets atomic.Int64
}

func (c *countingKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	c.gets.Add(1)
	return c.KinesisAPI.GetRecords(ctx, in, opts...)
}

// TestIdleCalls_RenewalsOnly pins what an idle worker costs, the counts
// behind the cost model in BENCHMARKS.md: while its shards are empty, a
// worker's only lease-table writes are renewals, at most one per lease per
// renew_interval (no checkpoint, take or release); it scans the table once
// per take_interval and once per shard_sync_interval; and it reads each
// shard at most once per idle_time_between_reads.
func TestIdleCalls_RenewalsOnly(t *testing.T) {
	h := newHarness(t, 2)
	kin := &countingKinesis{KinesisAPI: h.kin}
	h.kin2 = kin
	w := h.start("w1")
	cfg := h.config("w1")
	eventually(t, 30*time.Second, "both leases held and both shards read empty", func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		return len(w.heldIDs()) == 2 && len(h.col.empty) == 2
	})
	ops := []string{"renew", "scan", "checkpoint", "take", "release", "claim", "unclaim", "handover", "create_lease", "delete_lease"}
	calls := func() map[string]float64 {
		m := map[string]float64{}
		for _, op := range ops {
			m[op] = testutil.ToFloat64(w.m.leaseCalls.WithLabelValues(op))
		}
		return m
	}
	before, gets0, start := calls(), kin.gets.Load(), time.Now()
	const intervals = 10
	eventually(t, time.Minute, "10 renew intervals' renewals of both leases", func() bool {
		return calls()["renew"]-before["renew"] >= 2*intervals
	})
	after, gets, took := calls(), kin.gets.Load()-gets0, time.Since(start)

	if renews := after["renew"] - before["renew"]; took < (intervals-1)*cfg.RenewInterval {
		t.Errorf("%v renewals of 2 leases in %v: more than one per lease per renew_interval (%v)", renews, took, cfg.RenewInterval)
	}
	for _, op := range ops[2:] {
		if d := after[op] - before[op]; d != 0 {
			t.Errorf("%v %s calls while idle, want 0", d, op)
		}
	}
	// A shard sync scans too, before it lists the shards.
	passes := float64(took/cfg.TakeInterval + took/cfg.ShardSyncInterval)
	if scans := after["scan"] - before["scan"]; scans < passes-2 || scans > passes+2 {
		t.Errorf("%v scans in %v, want one per take_interval (%v) and one per shard_sync_interval (%v): %v ± 2", scans, took, cfg.TakeInterval, cfg.ShardSyncInterval, passes)
	}
	if most := 2 * (int64(took/cfg.IdleTimeBetweenReads) + 2); gets > most {
		t.Errorf("%d GetRecords of 2 idle shards in %v, want at most one per shard per idle_time_between_reads (%v): %d", gets, took, cfg.IdleTimeBetweenReads, most)
	}
	t.Logf("idle for %v: %v renewals, %v scans, %d GetRecords", took.Round(time.Millisecond), after["renew"]-before["renew"], after["scan"]-before["scan"], gets)
}
