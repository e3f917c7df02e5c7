package kcl

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/stream"
)

func TestOrphanedParents(t *testing.T) {
	shards := map[string]shardInfo{
		"split":  {ID: "split", Parents: []string{"trimmed"}},
		"merged": {ID: "merged", Parents: []string{"listed", "gone"}},
		"listed": {ID: "listed", Closed: true},
		"vmware": {ID: "vmware"},
	}
	leases := map[string]lease{
		"trimmed": {ShardID: "trimmed", Checkpoint: "49590"}, // unfinished, no longer listed
		"gone":    {ShardID: "gone", AssignedTo: "w9"},       // unfinished, never checkpointed, no longer listed
		"listed":  {ShardID: "listed", Checkpoint: "49591"},  // unfinished and listed: wait for it
		"split":   {ShardID: "split", Parent: "trimmed"},
		"merged":  {ShardID: "merged", Parent: "listed", AdjacentParent: "gone"},
		"vmware":  {ShardID: "vmware", Parent: "trimmed"}, // parent known from the table only
		"old":     {ShardID: "old", Checkpoint: stream.ShardEnd},
	}
	tests := []struct {
		id       string
		eligible bool
		orphans  []string
	}{
		{"split", true, []string{"trimmed"}},
		{"merged", false, []string{"gone"}}, // still waits for the listed parent
		{"vmware", true, []string{"trimmed"}},
		{"listed", true, nil},
	}
	for _, tt := range tests {
		if got := eligible(leases[tt.id], leases, shards); got != tt.eligible {
			t.Errorf("eligible(%s) = %v, want %v", tt.id, got, tt.eligible)
		}
		if got := orphanedParents(leases[tt.id], leases, shards); !reflect.DeepEqual(got, tt.orphans) {
			t.Errorf("orphanedParents(%s) = %q, want %q", tt.id, got, tt.orphans)
		}
	}
	l := leases["listed"]
	l.Checkpoint = stream.ShardEnd
	leases["listed"] = l
	if !eligible(leases["merged"], leases, shards) {
		t.Error("merge child not eligible once its listed parent is finished and the other is trimmed")
	}
}

// TestWorker_StartsChildOfTrimmedUnfinishedParent puts in the lease table a
// parent shard the stream does not list (trimmed) whose lease never reached
// SHARD_END, and a child naming it: the child must be read from
// TRIM_HORIZON, with a warning naming both shards and the metric counted.
func TestWorker_StartsChildOfTrimmedUnfinishedParent(t *testing.T) {
	h := newHarness(t, 1)
	child := "shardId-000000000000"
	parent := "shardId-000000000042"
	ctx := context.Background()
	if err := EnsureTable(ctx, h.ddb, h.table); err != nil {
		t.Fatal(err)
	}
	for _, item := range []map[string]dtypes.AttributeValue{
		{attrShardID: str(parent), attrCheckpoint: str("49590338271490256608559692538361571095921575989136588898"), attrLeaseCounter: num(7), attrLeaseTimeout: str("2026-01-01T00:00:00Z")},
		{attrShardID: str(child), attrParent: str(parent)},
	} {
		if _, err := h.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &h.table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	h.put(keys(4), 5)
	var logs testkit.SyncBuffer
	w := h.startWorkerWith(h.config("w1"), h.ddb, h.col.factory("w1"), slog.New(slog.NewTextHandler(&logs, nil)))
	eventually(t, 30*time.Second, "20 records of the child processed", func() bool { return h.col.distinct() == 20 })
	h.checkAllSeen(true)

	h.col.mu.Lock()
	inits := h.col.inits
	h.col.mu.Unlock()
	if len(inits) != 1 || inits[0].shard != child || inits[0].pos.Initial != TrimHorizon {
		t.Errorf("inits = %+v, want one of %s at %s", inits, child, TrimHorizon)
	}
	if got := testutil.ToFloat64(w.m.orphanedParents); got != 1 {
		t.Errorf("weatherd_consumer_orphaned_parents_total = %v, want 1", got)
	}
	var warn string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "without its parent") {
			warn = line
		}
	}
	if !strings.Contains(warn, "shard="+child) || !strings.Contains(warn, "parent="+parent) {
		t.Errorf("warning = %q, want one naming shard=%s and parent=%s; log:\n%s", warn, child, parent, logs.String())
	}
	if p := h.leases()[parent]; p.AssignedTo != "" || p.Counter != 7 {
		t.Errorf("parent lease changed: %+v", p)
	}
}
