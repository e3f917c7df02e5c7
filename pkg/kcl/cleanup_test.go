package kcl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/weatherd/weatherd/pkg/stream"
)

func TestLeasesToDelete(t *testing.T) {
	const seq = "49590338271490256608559692538361571095921575989136588898"
	end := stream.ShardEnd
	child := func(id, cp string, parents ...string) lease {
		l := lease{ShardID: id, Checkpoint: cp}
		if len(parents) > 0 {
			l.Parent = parents[0]
		}
		if len(parents) > 1 {
			l.AdjacentParent = parents[1]
		}
		return l
	}
	listed := func(ids ...string) map[string]shardInfo {
		m := map[string]shardInfo{}
		for _, id := range ids {
			m[id] = shardInfo{ID: id}
		}
		return m
	}
	tests := []struct {
		name   string
		leases []lease
		shards map[string]shardInfo
		want   []string
	}{
		{"FinishedUnlistedChildrenCheckpointed",
			[]lease{child("p", end), child("a", seq, "p"), child("b", end, "p")}, listed("a", "b"),
			[]string{"p"}},
		{"StillListed",
			[]lease{child("p", end), child("a", seq, "p")}, map[string]shardInfo{"p": {ID: "p", Closed: true}, "a": {ID: "a", Parents: []string{"p"}}},
			nil},
		{"ChildWithoutCheckpoint",
			[]lease{child("p", end), child("a", seq, "p"), child("b", "", "p")}, listed("a", "b"),
			nil},
		{"ChildAtTrimHorizonSentinel",
			[]lease{child("p", end), child("a", TrimHorizon, "p")}, listed("a"),
			nil},
		{"ChildAtLatestSentinel",
			[]lease{child("p", end), child("a", Latest, "p")}, listed("a"),
			nil},
		{"ChildAtTimestampSentinel",
			[]lease{child("p", end), child("a", AtTimestamp, "p")}, listed("a"),
			nil},
		{"ListedChildWithoutLeaseYet",
			[]lease{child("p", end)}, map[string]shardInfo{"a": {ID: "a", Parents: []string{"p"}}},
			nil},
		{"ChildKnownOnlyFromListShards",
			// A vmware-go-kcl-v2 item records one parent; ListShards names
			// the adjacent one.
			[]lease{child("p", end), child("q", end), child("m", "", "p")}, map[string]shardInfo{"m": {ID: "m", Parents: []string{"p", "q"}}},
			nil},
		{"MergeChildWithoutCheckpoint",
			[]lease{child("p", end), child("q", end), child("m", "", "p", "q")}, listed("m"),
			nil},
		{"MergeChildCheckpointed",
			[]lease{child("p", end), child("q", end), child("m", seq, "p", "q")}, listed("m"),
			[]string{"p", "q"}},
		{"Unfinished",
			[]lease{child("p", seq), child("u", "")}, listed(),
			nil},
		{"FinishedNoChildrenUnlisted",
			[]lease{child("z", end), child("o", seq)}, listed("o"),
			[]string{"z"}},
		{"WholeTrimmedLineage",
			// Grandparent, parent and child all finished and trimmed; the
			// grandchild has checkpointed: every finished lease goes.
			[]lease{child("g", end), child("p", end, "g"), child("c", end, "p"), child("gc", seq, "c")}, listed("gc"),
			[]string{"c", "g", "p"}},
		{"ParentWaitsForChildLeaseWithSentinel",
			// The child (finished, trimmed) goes, its unstarted sibling keeps
			// the parent.
			[]lease{child("p", end), child("c", end, "p"), child("s", TrimHorizon, "p")}, listed("s"),
			[]string{"c"}},
		{"OrphanChildrenCheckpointed",
			// Unfinished, trimmed; both children of the split started.
			[]lease{child("o", seq), child("a", seq, "o"), child("b", end, "o")}, listed("a", "b"),
			[]string{"o"}},
		{"OrphanNeverCheckpointedChildCheckpointed",
			[]lease{child("o", ""), child("a", seq, "o")}, listed("a"),
			[]string{"o"}},
		{"OrphanChildWithoutCheckpoint",
			[]lease{child("o", seq), child("a", seq, "o"), child("b", "", "o")}, listed("a", "b"),
			nil},
		{"OrphanChildAtSentinel",
			[]lease{child("o", seq), child("a", TrimHorizon, "o")}, listed("a"),
			nil},
		{"OrphanListedChildWithoutLeaseYet",
			[]lease{child("o", seq)}, map[string]shardInfo{"a": {ID: "a", Parents: []string{"o"}}},
			nil},
		{"UnfinishedStillListedWithChildCheckpointed",
			[]lease{child("p", seq), child("a", seq, "p")}, map[string]shardInfo{"p": {ID: "p", Closed: true}, "a": {ID: "a", Parents: []string{"p"}}},
			nil},
		{"MergeWithOrphanParent",
			[]lease{child("p", end), child("o", seq), child("m", seq, "p", "o")}, listed("m"),
			[]string{"o", "p"}},
		{"Empty", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leasesToDelete(tt.leases, tt.shards); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("leasesToDelete = %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeShardList answers ListShards with a fixed shard list. Kinesis
// retention (24 h at least) cannot be waited out in a test, and kinesis-local
// lists every shard it ever had, so the trimmed parents are simply left out
// of this list; the lease table is real (dynalite).
type fakeShardList struct {
	KinesisAPI // nil: only ListShards may be called
	shards     []ktypes.Shard
}

func (f fakeShardList) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: f.shards}, nil
}

// failingDeletes is the dynalite client with every DeleteItem refused.
type failingDeletes struct{ DynamoDBAPI }

func (failingDeletes) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errors.New("service unavailable")
}

// putItems writes lease items as they are into h's table.
func putItems(t *testing.T, h *harness, items ...map[string]dtypes.AttributeValue) {
	t.Helper()
	for _, item := range items {
		if _, err := h.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &h.table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
}

// openShard is an open shard with one parent, as ListShards returns it.
func openShard(id, parent string) ktypes.Shard {
	return ktypes.Shard{ShardId: aws.String(id), ParentShardId: aws.String(parent),
		SequenceNumberRange: &ktypes.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
}

// checkCheckpoints fails t unless h's table holds exactly the leases of want
// (shard → checkpoint).
func checkCheckpoints(t *testing.T, h *harness, want map[string]string, when string) {
	t.Helper()
	got := map[string]string{}
	for id, l := range h.leases() {
		got[id] = l.Checkpoint
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: leases left %q, want %q", when, got, want)
	}
}

// syncWorker is a worker id over kin and ddb, for tests that run its shard
// sync directly.
func syncWorker(t *testing.T, h *harness, kin KinesisAPI, ddb DynamoDBAPI, id string) *Worker {
	t.Helper()
	w, err := New(h.config(id), "trimmed", kin, ddb, h.col.factory(id), prometheus.NewRegistry(), testLog)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// syncTwice runs w's shard sync twice, checking after each that the leases
// left are want and that w has deleted exactly deleted leases, with as many
// DeleteItem calls, and created none.
func syncTwice(t *testing.T, h *harness, w *Worker, want map[string]string, deleted float64) {
	t.Helper()
	for i := 1; i <= 2; i++ {
		if err := w.syncShards(context.Background()); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		checkCheckpoints(t, h, want, fmt.Sprintf("after sync %d", i))
		if n := testutil.ToFloat64(w.m.leasesDeleted); n != deleted {
			t.Errorf("after sync %d: leases deleted = %v, want %v", i, n, deleted)
		}
		if n := testutil.ToFloat64(w.m.leaseCalls.WithLabelValues("delete_lease")); n != deleted {
			t.Errorf("after sync %d: delete_lease calls = %v, want %v", i, n, deleted)
		}
		if n := testutil.ToFloat64(w.m.leaseCalls.WithLabelValues("create_lease")); n != 0 {
			t.Errorf("after sync %d: create_lease calls = %v, want 0 (every listed shard has its lease)", i, n)
		}
	}
}

func TestWorker_DeletesLeasesOfTrimmedFinishedShards(t *testing.T) {
	const (
		seqC1 = "49590338271490256608559692538361571095921575989136588898"
		seqC3 = "49590338271490256608559692538361571095921575989136589000"
	)
	h := newTableHarness(t)
	ctx := context.Background()
	s := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberS{Value: v} }
	items := []map[string]dtypes.AttributeValue{
		// P1 trimmed, read to its end; its child checkpointed: deleted.
		{"ShardID": s("shardId-000000000001"), "Checkpoint": s(stream.ShardEnd), "LeaseCounter": &dtypes.AttributeValueMemberN{Value: "7"}},
		{"ShardID": s("shardId-000000000011"), "Checkpoint": s(seqC1), "ParentShardId": s("shardId-000000000001")},
		// P2 trimmed, read to its end; its child has not started: kept.
		{"ShardID": s("shardId-000000000002"), "Checkpoint": s(stream.ShardEnd)},
		{"ShardID": s("shardId-000000000012"), "ParentShardId": s("shardId-000000000002")},
		// P3 read to its end but still listed: kept.
		{"ShardID": s("shardId-000000000003"), "Checkpoint": s(stream.ShardEnd)},
		{"ShardID": s("shardId-000000000013"), "Checkpoint": s(seqC3), "ParentShardId": s("shardId-000000000003")},
	}
	putItems(t, h, items...)
	kin := fakeShardList{shards: []ktypes.Shard{
		{ShardId: aws.String("shardId-000000000003"), SequenceNumberRange: &ktypes.SequenceNumberRange{StartingSequenceNumber: aws.String("1"), EndingSequenceNumber: aws.String("9")}},
		openShard("shardId-000000000011", "shardId-000000000001"),
		openShard("shardId-000000000012", "shardId-000000000002"),
		openShard("shardId-000000000013", "shardId-000000000003"),
	}}
	want := map[string]string{ // shard → checkpoint of the leases left
		"shardId-000000000011": seqC1,
		"shardId-000000000002": stream.ShardEnd,
		"shardId-000000000012": "",
		"shardId-000000000003": stream.ShardEnd,
		"shardId-000000000013": seqC3,
	}
	check := func(when string) { t.Helper(); checkCheckpoints(t, h, want, when) }

	// A sync whose deletes fail keeps every lease and still succeeds.
	broken := syncWorker(t, h, kin, failingDeletes{h.ddb}, "w0")
	if err := broken.syncShards(ctx); err != nil {
		t.Fatalf("sync with failing deletes = %v, want nil", err)
	}
	if n := testutil.ToFloat64(broken.m.leasesDeleted); n != 0 {
		t.Errorf("leases deleted with failing deletes = %v, want 0", n)
	}
	want["shardId-000000000001"] = stream.ShardEnd
	check("after a sync whose deletes failed")
	delete(want, "shardId-000000000001")

	w := syncWorker(t, h, kin, h.ddb, "w1")
	syncTwice(t, h, w, want, 1)

	// Another worker deleting the same lease, or a lease that is not
	// finished, is no error and changes nothing.
	for _, id := range []string{"shardId-000000000001", "shardId-000000000011", "shardId-000000000012"} {
		deleted, err := w.table.deleteFinished(ctx, id)
		if deleted || err != nil {
			t.Errorf("deleteFinished(%s) = %v, %v; want false, nil", id, deleted, err)
		}
	}
	check("after deletes refused by their condition")
}

// TestWorker_DeletesOrphanedParentLeases: a parent shard trimmed before it
// was read to SHARD_END keeps an unfinished lease that no worker can finish.
// Once every child has checkpointed, shard sync deletes it like a finished
// one; until then, and when nothing shows it is a parent, it stays.
func TestWorker_DeletesOrphanedParentLeases(t *testing.T) {
	const (
		seqO = "49590338271490256608559692538361571095921575989136588800"
		seqC = "49590338271490256608559692538361571095921575989136588898"
	)
	h := newTableHarness(t)
	ctx := context.Background()
	s := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberN{Value: v} }
	items := []map[string]dtypes.AttributeValue{
		// O1 trimmed mid-shard, left assigned to a worker that is long
		// gone; its child checkpointed: deleted.
		{"ShardID": s("shardId-000000000001"), "Checkpoint": s(seqO), "AssignedTo": s("gone"), "LeaseTimeout": s("2026-01-01T00:00:00Z"), "LeaseCounter": n("7")},
		{"ShardID": s("shardId-000000000011"), "Checkpoint": s(seqC), "ParentShardId": s("shardId-000000000001")},
		// O2 trimmed, never checkpointed (vmware-go-kcl-v2 item, no
		// counter); its child checkpointed: deleted.
		{"ShardID": s("shardId-000000000002"), "LeaseTimeout": s("2026-01-01T00:00:00Z")},
		{"ShardID": s("shardId-000000000012"), "Checkpoint": s(stream.ShardEnd), "ParentShardId": s("shardId-000000000002")},
		// O3 trimmed; its child has not checkpointed yet: kept.
		{"ShardID": s("shardId-000000000003"), "Checkpoint": s(seqO)},
		{"ShardID": s("shardId-000000000013"), "ParentShardId": s("shardId-000000000003")},
		// O4 unfinished and unlisted, no child: nothing says it is a parent.
		{"ShardID": s("shardId-000000000004"), "Checkpoint": s(seqO)},
	}
	putItems(t, h, items...)
	kin := fakeShardList{shards: []ktypes.Shard{
		openShard("shardId-000000000011", "shardId-000000000001"),
		openShard("shardId-000000000012", "shardId-000000000002"),
		openShard("shardId-000000000013", "shardId-000000000003"),
	}}
	want := map[string]string{ // shard → checkpoint of the leases left
		"shardId-000000000011": seqC,
		"shardId-000000000012": stream.ShardEnd,
		"shardId-000000000003": seqO,
		"shardId-000000000013": "",
		"shardId-000000000004": seqO,
	}
	check := func(when string) { t.Helper(); checkCheckpoints(t, h, want, when) }

	w := syncWorker(t, h, kin, h.ddb, "w1")
	syncTwice(t, h, w, want, 2)

	// The delete is fenced on the lease as scanned: an orphan that changed
	// since (here: a worker checkpointed it) is kept.
	o3 := h.leases()["shardId-000000000003"]
	putItems(t, h, map[string]dtypes.AttributeValue{"ShardID": s("shardId-000000000003"), "Checkpoint": s(seqC)})
	if deleted, err := w.table.deleteOrphan(ctx, o3); deleted || err != nil {
		t.Errorf("deleteOrphan of a changed lease = %v, %v; want false, nil", deleted, err)
	}
	want["shardId-000000000003"] = seqC
	check("after a delete refused by its condition")

	// Once the last child checkpoints, the next sync deletes O3 too.
	putItems(t, h, map[string]dtypes.AttributeValue{"ShardID": s("shardId-000000000013"), "Checkpoint": s(seqC), "ParentShardId": s("shardId-000000000003")})
	if err := w.syncShards(ctx); err != nil {
		t.Fatal(err)
	}
	delete(want, "shardId-000000000003")
	want["shardId-000000000013"] = seqC
	check("after the last child checkpointed")
	if n := testutil.ToFloat64(w.m.leasesDeleted); n != 3 {
		t.Errorf("leases deleted = %v, want 3", n)
	}
}
