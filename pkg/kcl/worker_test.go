package kcl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	fenced "github.com/weatherd/weatherd/pkg/lease"
	"github.com/weatherd/weatherd/pkg/stream"
)

func TestWorker_ReadsEveryRecordInOrder(t *testing.T) {
	h := newHarness(t, 4)
	h.put(keys(8), 50)
	w := h.start("w1")
	eventually(t, 60*time.Second, "400 records processed", func() bool { return h.col.distinct() == 400 })
	h.checkAllSeen(true)
	eventually(t, 10*time.Second, "idle shards given empty batches", func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		for _, s := range h.shards() {
			if h.col.empty[aws.ToString(s.ShardId)] < 2 {
				return false
			}
		}
		return true
	})
	if got := testutil.ToFloat64(w.m.leasesHeld); got != 4 {
		t.Errorf("weatherd_leases_held = %v, want 4", got)
	}
	records := 0.0
	for _, s := range h.shards() {
		records += testutil.ToFloat64(w.m.records.WithLabelValues(aws.ToString(s.ShardId)))
	}
	if records != 400 {
		t.Errorf("weatherd_consumer_shard_records_total sums to %v, want 400", records)
	}
	if !w.Ready() {
		t.Error("Ready() = false while running")
	}
	w.stop(t)

	// Released, with each shard checkpointed at its last record.
	last := map[string]string{}
	for _, s := range h.shards() {
		out, err := h.kin.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: &h.stream, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := h.kin.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: out.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(recs.Records); n > 0 {
			last[aws.ToString(s.ShardId)] = aws.ToString(recs.Records[n-1].SequenceNumber)
		}
	}
	ls := h.leases()
	if len(ls) != 4 {
		t.Fatalf("lease table has %d items, want 4", len(ls))
	}
	for id, l := range ls {
		if l.AssignedTo != "" {
			t.Errorf("lease %s still assigned to %q after a graceful stop", id, l.AssignedTo)
		}
		if l.Checkpoint != last[id] {
			t.Errorf("lease %s checkpoint = %q, want last sequence %q", id, l.Checkpoint, last[id])
		}
		if _, err := time.Parse(time.RFC3339Nano, l.LeaseTimeout); err != nil || !l.HasCounter {
			t.Errorf("lease %s: LeaseTimeout %q (%v), counter %v", id, l.LeaseTimeout, err, l.HasCounter)
		}
	}
	for _, s := range h.col.shutdowns {
		if s.reason != stream.Requested {
			t.Errorf("shutdown %s: %s, want requested", s.shard, s.reason)
		}
	}
	if got := testutil.ToFloat64(w.m.leaseEvents.WithLabelValues(eventRelease)); got != 4 {
		t.Errorf("release events = %v, want 4", got)
	}
	if w.Ready() {
		t.Error("Ready() = true after Run returned")
	}
}

func TestWorker_BalancesShards(t *testing.T) {
	h := newHarness(t, 6)
	ws := []*runningWorker{h.start("w1"), h.start("w2"), h.start("w3")}
	balanced := func() bool {
		for _, w := range ws {
			if len(w.heldIDs()) != 2 {
				return false
			}
		}
		return true
	}
	start := time.Now()
	eventually(t, 40*time.Second, "3 workers holding 2 shards each", balanced)
	t.Logf("balanced 2/2/2 after %s", time.Since(start).Round(time.Millisecond))
	seen := map[string]string{}
	for _, w := range ws {
		for _, id := range w.heldIDs() {
			if other, dup := seen[id]; dup {
				t.Fatalf("shard %s held by %s and %s", id, other, w.WorkerID())
			}
			seen[id] = w.WorkerID()
		}
	}
	// Stays balanced: no steal for a few take passes.
	afterTakePasses(t, 3, ws...)
	if !balanced() {
		t.Fatalf("balance did not hold: %v %v %v", ws[0].heldIDs(), ws[1].heldIDs(), ws[2].heldIDs())
	}
	h.put(keys(6), 10)
	eventually(t, 60*time.Second, "60 records processed", func() bool { return h.col.distinct() == 60 })
	h.checkAllSeen(false)
	ls := h.leases()
	for _, w := range ws {
		for _, id := range w.heldIDs() {
			if ls[id].AssignedTo != w.WorkerID() {
				t.Errorf("lease %s assigned to %q in the table, held by %s", id, ls[id].AssignedTo, w.WorkerID())
			}
		}
	}
}

func TestWorker_CrashedWorkersShardsAreTakenOver(t *testing.T) {
	h := newHarness(t, 2)
	h.put(keys(4), 25)
	a := h.start("a")
	eventually(t, 60*time.Second, "100 records processed and checkpointed by a", func() bool {
		return h.col.distinct() == 100 && h.col.checkpointed() == 100
	})
	before := h.leases()
	a.crash()
	after := h.leases()
	for id, l := range after {
		if l.AssignedTo != "a" {
			t.Fatalf("crashed worker's lease %s assigned to %q, want still a", id, l.AssignedTo)
		}
		if l.Checkpoint != before[id].Checkpoint {
			t.Fatalf("crash changed the checkpoint of %s", id)
		}
	}
	h.put(keys(4), 25)
	b := h.start("b")
	eventually(t, 60*time.Second, "200 records processed", func() bool { return h.col.distinct() == 200 })
	h.checkAllSeen(true) // a checkpointed every batch: nothing replayed
	for _, ev := range h.col.inits {
		if ev.worker == "b" && ev.pos.AfterSequence != after[ev.shard].Checkpoint {
			t.Errorf("b started %s after %q, want a's checkpoint %q", ev.shard, ev.pos.AfterSequence, after[ev.shard].Checkpoint)
		}
	}
	if got := testutil.ToFloat64(b.m.leaseEvents.WithLabelValues(eventTake)); got != 2 {
		t.Errorf("b take events = %v, want 2", got)
	}
}

func TestWorker_GracefulStopHandsShardsOver(t *testing.T) {
	h := newHarness(t, 4)
	a := h.start("a")
	eventually(t, 30*time.Second, "a holding 4 shards", func() bool { return len(a.heldIDs()) == 4 })
	b := h.start("b")
	eventually(t, 40*time.Second, "a and b holding 2 shards each", func() bool {
		return len(a.heldIDs()) == 2 && len(b.heldIDs()) == 2
	})
	if got := testutil.ToFloat64(b.m.leaseEvents.WithLabelValues(eventSteal)); got != 2 {
		t.Errorf("b steal events = %v, want 2", got)
	}
	h.put(keys(8), 20)
	eventually(t, 60*time.Second, "160 records processed", func() bool { return h.col.distinct() == 160 })

	released := testutil.ToFloat64(a.m.leaseEvents.WithLabelValues(eventRelease))
	start := time.Now()
	a.stop(t)
	eventually(t, 60*time.Second, "b holding all 4 shards", func() bool { return len(b.heldIDs()) == 4 })
	handoff := time.Since(start)
	t.Logf("graceful handoff of 2 shards took %s", handoff.Round(time.Millisecond))
	// Handed over, not left to expire: a released both leases on its way
	// out (how fast b picks them up is for the benchmarks).
	if got := testutil.ToFloat64(a.m.leaseEvents.WithLabelValues(eventRelease)) - released; got != 2 {
		t.Errorf("a released %v leases at its stop, want 2", got)
	}
	h.put(keys(8), 20)
	eventually(t, 60*time.Second, "320 records processed", func() bool { return h.col.distinct() == 320 })
	// a checkpointed on Shutdown(Requested): b replays nothing.
	h.checkAllSeen(true)
}

func TestWorker_Resharding(t *testing.T) {
	h := newHarness(t, 2)
	a, b := h.start("a"), h.start("b")
	ctx := context.Background()
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.put(keys(10), 2)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	eventually(t, 30*time.Second, "records flowing", func() bool { return h.col.distinct() > 100 })

	shards := h.shards()
	if _, err := h.kin.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &h.stream, ShardToSplit: shards[0].ShardId, NewStartingHashKey: aws.String(midHash(shards[0]))}); err != nil {
		t.Fatalf("split: %v", err)
	}
	h.waitActive()
	eventually(t, 30*time.Second, "more records after the split", func() bool { return h.col.distinct() > 400 })
	// Merge the upper child of the split with the second original shard.
	var upper, second string
	for _, s := range h.shards() {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		if aws.ToString(s.ParentShardId) == aws.ToString(shards[0].ShardId) && aws.ToString(s.HashKeyRange.StartingHashKey) != "0" {
			upper = aws.ToString(s.ShardId)
		}
		if aws.ToString(s.ShardId) == aws.ToString(shards[1].ShardId) {
			second = aws.ToString(s.ShardId)
		}
	}
	if upper == "" || second == "" {
		t.Fatalf("could not find shards to merge in %+v", h.shards())
	}
	if _, err := h.kin.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: &h.stream, ShardToMerge: &upper, AdjacentShardToMerge: &second}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	h.waitActive()
	eventually(t, 30*time.Second, "more records after the merge", func() bool { return h.col.distinct() > 700 })
	close(stop)
	<-produced
	total := h.totalProduced()
	eventually(t, 90*time.Second, "every produced record processed", func() bool { return h.col.distinct() == total })
	h.checkAllSeen(false)
	t.Logf("%d records produced across a split and a merge, all processed", total)

	all := h.shards()
	if len(all) != 5 {
		t.Fatalf("stream has %d shards, want 5 (2 + split 2 + merged 1)", len(all))
	}
	ls := h.leases()
	h.col.mu.Lock()
	defer h.col.mu.Unlock()
	for _, s := range all {
		id := aws.ToString(s.ShardId)
		closed := s.SequenceNumberRange.EndingSequenceNumber != nil
		if closed && ls[id].Checkpoint != stream.ShardEnd {
			t.Errorf("closed shard %s checkpoint = %q, want SHARD_END", id, ls[id].Checkpoint)
		}
		if _, read := h.col.firstRecord[id]; !read {
			t.Errorf("shard %s (closed %v): no record read from it", id, closed)
		}
		if closed && ls[id].AssignedTo != "" {
			t.Errorf("finished shard %s still assigned to %q", id, ls[id].AssignedTo)
		}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p == nil {
				continue
			}
			first, ok := h.col.firstRecord[id]
			if !ok {
				continue
			}
			end, ok := h.col.shardEnd[*p]
			if !ok || end > first {
				t.Errorf("child %s read (tick %d) before parent %s reached its end (tick %d, %v)", id, first, *p, end, ok)
			}
		}
	}
	for _, ev := range h.col.inits {
		if s := ls[ev.shard]; (s.Parent != "") && ev.pos.AfterSequence == "" && ev.pos.Initial != TrimHorizon {
			t.Errorf("child %s started at %+v, want TRIM_HORIZON", ev.shard, ev.pos)
		}
	}
	if merged := ls[aws.ToString(all[4].ShardId)]; merged.AdjacentParent == "" {
		t.Errorf("merged shard lease %+v lacks AdjacentParentShardId", merged)
	}
	_ = a
	_ = b
}

// TestWorker_ContinuesVmwareTable pre-fills a table the way vmware-go-kcl-v2
// leaves it (PROVISIONED 10/10, items with only its attributes) and checks
// that the worker continues from those checkpoints.
func TestWorker_ContinuesVmwareTable(t *testing.T) {
	h := newHarness(t, 3)
	h.put(keys(6), 10)
	ctx := context.Background()
	_, err := h.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:             &h.table,
		AttributeDefinitions:  []dtypes.AttributeDefinition{{AttributeName: aws.String("ShardID"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:             []dtypes.KeySchemaElement{{AttributeName: aws.String("ShardID"), KeyType: dtypes.KeyTypeHash}},
		ProvisionedThroughput: &dtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(10), WriteCapacityUnits: aws.Int64(10)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureTable(ctx, h.ddb, h.table); err != nil {
		t.Fatal(err)
	}
	// Checkpoint each shard at its 4th record.
	shards := h.shards()
	checkpoint, next := map[string]string{}, map[string]string{}
	for i, s := range shards {
		it, err := h.kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &h.stream, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil || len(out.Records) < 5 {
			t.Fatalf("shard %d: %d records (%v), want at least 5", i, len(out.Records), err)
		}
		id := aws.ToString(s.ShardId)
		checkpoint[id] = aws.ToString(out.Records[3].SequenceNumber)
		next[id] = aws.ToString(out.Records[4].SequenceNumber)
		item := map[string]dtypes.AttributeValue{
			"ShardID":    &dtypes.AttributeValueMemberS{Value: id},
			"Checkpoint": &dtypes.AttributeValueMemberS{Value: checkpoint[id]},
		}
		switch i {
		case 0: // held by a vmware worker that has since stopped
			item["AssignedTo"] = &dtypes.AttributeValueMemberS{Value: "vmware-host-1"}
			item["LeaseTimeout"] = &dtypes.AttributeValueMemberS{Value: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}
		case 1: // released by vmware (owner removed), with a pending claim
			item["LeaseTimeout"] = &dtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)}
			item["ClaimRequest"] = &dtypes.AttributeValueMemberS{Value: "vmware-host-2"}
		}
		if _, err := h.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &h.table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	h.start("w1")
	want := 60 - 4*len(shards)
	eventually(t, 60*time.Second, "the records after the checkpoints", func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		return h.col.deliveries >= want
	})
	h.afterIdleReads(2) // nothing else may arrive
	h.col.mu.Lock()
	if h.col.deliveries != want {
		t.Errorf("%d records delivered, want exactly the %d after the checkpoints", h.col.deliveries, want)
	}
	if len(h.col.inits) != len(shards) {
		t.Errorf("%d shard processors initialized, want %d", len(h.col.inits), len(shards))
	}
	for _, ev := range h.col.inits {
		if ev.pos.AfterSequence != checkpoint[ev.shard] {
			t.Errorf("shard %s started after %q, want vmware checkpoint %q", ev.shard, ev.pos.AfterSequence, checkpoint[ev.shard])
		}
		if got := h.col.firstAfter[ev.shard]; len(got) != 1 || got[0] != next[ev.shard] {
			t.Errorf("shard %s: first records read %v, want [%s] (the one after the checkpoint)", ev.shard, got, next[ev.shard])
		}
	}
	h.col.mu.Unlock()
	for id, l := range h.leases() {
		if l.AssignedTo != "w1" || l.ClaimRequest != "" || !l.HasCounter {
			t.Errorf("lease %s = %+v, want taken by w1", id, l)
		}
	}
}

func TestCheckpointer_RefusesAfterLeaseLost(t *testing.T) {
	h := newHarness(t, 1)
	h.put(keys(1), 3)
	a := h.start("a")
	eventually(t, 30*time.Second, "3 records processed and checkpointed", func() bool {
		return h.col.distinct() == 3 && h.col.checkpointed() == 3
	})
	h.col.mu.Lock()
	var cp stream.Checkpointer
	var shard string
	for k, v := range h.col.cps {
		cp, shard = v, k[len("a/"):]
	}
	h.col.mu.Unlock()
	// Another worker takes the lease as if a's had expired. a keeps renewing
	// meanwhile, so a take conditioned on a counter read a moment earlier may
	// be refused: read again and retry until one wins.
	thief := &leaseTable{ddb: h.ddb, name: h.table, calls: func(string) {}}
	// First with a read a renewal has overtaken, so the refusal path runs.
	stale := h.leases()[shard]
	eventually(t, 10*time.Second, "a renewing its lease", func() bool { return h.leases()[shard].Counter != stale.Counter })
	if _, err := thief.take(context.Background(), stale, "thief", time.Minute); !errors.Is(err, fenced.ErrLost) {
		t.Fatalf("take with an overtaken counter = %v, want fenced.ErrLost", err)
	}
	var before, taken lease
	refused := 0
	eventually(t, 10*time.Second, "the thief taking a's lease", func() bool {
		before = h.leases()[shard]
		var err error
		taken, err = thief.take(context.Background(), before, "thief", time.Minute)
		if errors.Is(err, fenced.ErrLost) {
			refused++
			return false
		}
		if err != nil {
			t.Fatalf("thief take: %v", err)
		}
		return true
	})
	t.Logf("the thief's take was refused %d more times by a's renewals", refused)
	// The thief renews like a live owner, or a would see the lease unchanged
	// for lease_duration and take it back before the test is done.
	renewing, stopRenewing := context.WithCancel(context.Background())
	renewed := make(chan struct{})
	defer func() { stopRenewing(); <-renewed }()
	go func() {
		defer close(renewed)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for counter := taken.Counter; ; {
			select {
			case <-renewing.Done():
				return
			case <-tick.C:
			}
			l, err := thief.renew(renewing, shard, "thief", counter, time.Minute)
			if err != nil {
				if renewing.Err() == nil {
					t.Errorf("thief renew: %v", err)
				}
				return
			}
			counter = l.Counter
		}
	}()
	// The write itself is fenced: a with-state checkpoint reaches DynamoDB
	// and is refused there, leaving checkpoint and state as they were.
	err := cp.(stream.StateCheckpointer).CheckpointWithState(context.Background(), "49999999999999999999999999999999999999999999999999999999", []byte("stale"))
	if !errors.Is(err, stream.ErrLeaseLost) {
		t.Fatalf("CheckpointWithState after losing the lease = %v, want ErrLeaseLost", err)
	}
	after := h.leases()[shard]
	if after.Checkpoint != before.Checkpoint || after.AssignedTo != "thief" || after.State != nil {
		t.Fatalf("lease after refused checkpoint = %+v, want checkpoint %q owned by thief, no state", after, before.Checkpoint)
	}
	err = cp.Checkpoint(context.Background(), "49999999999999999999999999999999999999999999999999999999")
	if !errors.Is(err, stream.ErrLeaseLost) {
		t.Fatalf("Checkpoint after losing the lease = %v, want ErrLeaseLost", err)
	}
	eventually(t, 10*time.Second, "a's processor shut down with LeaseLost", func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		for _, s := range h.col.shutdowns {
			if s.worker == "a" && s.reason == stream.LeaseLost {
				return true
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "a holding nothing", func() bool { return len(a.heldIDs()) == 0 })
	if got := testutil.ToFloat64(a.m.leaseEvents.WithLabelValues(eventLose)); got != 1 {
		t.Errorf("lose events = %v, want 1", got)
	}
	// The renewal that found the lease gone must not have released it.
	if l := h.leases()[shard]; l.AssignedTo != "thief" {
		t.Errorf("lease assigned to %q, want thief", l.AssignedTo)
	}
}

func TestWorker_RetriesFailedBatch(t *testing.T) {
	h := newHarness(t, 1)
	h.put(keys(3), 10)
	h.col.failBatches.Store(3)
	h.start("w1")
	eventually(t, 30*time.Second, "30 records processed", func() bool { return h.col.distinct() == 30 })
	h.checkAllSeen(true)
	h.col.mu.Lock()
	defer h.col.mu.Unlock()
	if len(h.col.failed) != 3 {
		t.Fatalf("%d failed batches, want 3", len(h.col.failed))
	}
	for _, seq := range h.col.failed {
		if seq != h.col.failed[0] {
			t.Fatalf("failed batches started at %v, want the same records retried", h.col.failed)
		}
	}
	if !h.col.retried[h.col.failed[0]] {
		t.Fatalf("batch starting at %s was never processed after failing", h.col.failed[0])
	}
}

func TestEnsureTable_RejectsWrongKey(t *testing.T) {
	ddb := emulator.DynamoDB(t)
	name := emulator.Name(t, "kcl-wrong")
	t.Cleanup(func() { ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) })
	_, err := ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            &name,
		BillingMode:          dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: dtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = EnsureTable(context.Background(), ddb, name)
	want := `lease table "` + name + `": wrong key schema: got key [leaseKey HASH], want ShardID (string) as the only (hash) key`
	if !errors.Is(err, ErrTableSchema) || err.Error() != want {
		t.Fatalf("EnsureTable = %v, want %s", err, want)
	}
}

func TestEnsureTable_CreatesOnDemand(t *testing.T) {
	ddb := emulator.DynamoDB(t)
	name := emulator.Name(t, "kcl-new")
	t.Cleanup(func() { ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) })
	if err := EnsureTable(context.Background(), ddb, name); err != nil {
		t.Fatal(err)
	}
	out, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.TableStatus != dtypes.TableStatusActive {
		t.Errorf("status %s, want ACTIVE", out.Table.TableStatus)
	}
	if bm := out.Table.BillingModeSummary; bm == nil || bm.BillingMode != dtypes.BillingModePayPerRequest {
		t.Errorf("billing %+v, want PAY_PER_REQUEST", bm)
	}
	if err := EnsureTable(context.Background(), ddb, name); err != nil {
		t.Fatalf("second EnsureTable: %v", err)
	}
}

func TestWorker_MaxLeasesPerWorker(t *testing.T) {
	h := newHarness(t, 4)
	a := h.start("a", func(c *Config) { c.MaxLeasesPerWorker = 3 })
	eventually(t, 30*time.Second, "a holding 3 shards", func() bool { return len(a.heldIDs()) == 3 })
	afterTakePasses(t, 3, a) // a few more take passes: still 3
	if got := len(a.heldIDs()); got != 3 {
		t.Fatalf("a holds %d shards, want its cap of 3", got)
	}
	free := 0
	for _, l := range h.leases() {
		if l.AssignedTo == "" {
			free++
		}
	}
	if free != 1 {
		t.Fatalf("%d free leases, want 1", free)
	}
	b := h.start("b", func(c *Config) { c.MaxLeasesPerWorker = 3 })
	eventually(t, 30*time.Second, "a and b holding 2 shards each", func() bool {
		return len(a.heldIDs()) == 2 && len(b.heldIDs()) == 2
	})
}

// faultyKinesis is kinesis-local with faults injected into GetRecords: a
// throttle on calls listed in throttle, an expired iterator on calls listed
// in expire. It also records whether each GetRecords call disabled the SDK
// retryer.
type faultyKinesis struct {
	*kinesis.Client
	mu       sync.Mutex
	calls    int
	throttle map[int]bool
	expire   map[int]bool
	retrying int // calls made with a retrying retryer
	fail     map[int]error
	// iterators lists the GetShardIterator calls as "TYPE" or "TYPE seq".
	iterators []string
}

func (f *faultyKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	it := string(in.ShardIteratorType)
	if in.StartingSequenceNumber != nil {
		it += " " + *in.StartingSequenceNumber
	}
	f.iterators = append(f.iterators, it)
	f.mu.Unlock()
	return f.Client.GetShardIterator(ctx, in, optFns...)
}

func (f *faultyKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	var o kinesis.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.mu.Lock()
	f.calls++
	n := f.calls
	if _, nop := o.Retryer.(aws.NopRetryer); !nop {
		f.retrying++
	}
	f.mu.Unlock()
	switch {
	case f.throttle[n]:
		return nil, &ktypes.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard")}
	case f.expire[n]:
		return nil, &ktypes.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	case f.fail[n] != nil:
		return nil, f.fail[n]
	}
	return f.Client.GetRecords(ctx, in, optFns...)
}

func TestWorker_ThrottledAndExpiredReads(t *testing.T) {
	h := newHarness(t, 1)
	h.put(keys(2), 5)
	f := &faultyKinesis{Client: h.kin, throttle: map[int]bool{2: true, 3: true, 4: true}, expire: map[int]bool{6: true}}
	h.kin2 = f
	w := h.start("w1", func(c *Config) { c.MaxRecords = 4 })
	eventually(t, 30*time.Second, "10 records processed", func() bool { return h.col.distinct() == 10 })
	h.put(keys(2), 5)
	eventually(t, 30*time.Second, "20 records processed", func() bool { return h.col.distinct() == 20 })
	h.checkAllSeen(true) // the expired iterator resumed after the last record: no replay
	if got := testutil.ToFloat64(w.m.throttles); got != 3 {
		t.Errorf("throttles = %v, want 3", got)
	}
	if got := testutil.ToFloat64(w.m.getErrors); got != 0 {
		t.Errorf("getrecords errors = %v, want 0", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retrying != 0 {
		t.Errorf("%d GetRecords calls used the SDK retryer, want none", f.retrying)
	}
}

func TestWorker_FailingReadsGetANewIterator(t *testing.T) {
	h := newHarness(t, 1)
	h.put(keys(2), 5)
	internal := &smithy.GenericAPIError{Code: "InternalFailure", Message: "service unavailable"}
	f := &faultyKinesis{Client: h.kin, fail: map[int]error{
		2: internal, 3: internal, 4: internal, // three in a row: new iterator
		6: internal,                                                              // one: same iterator
		8: &ktypes.InvalidArgumentException{Message: aws.String("bad iterator")}, // at once: new iterator
	}}
	h.kin2 = f
	w := h.start("w1", func(c *Config) { c.MaxRecords = 4 })
	eventually(t, 30*time.Second, "10 records processed", func() bool { return h.col.distinct() == 10 })
	eventually(t, 30*time.Second, "10 GetRecords calls", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.calls >= 10
	})
	h.put(keys(2), 5)
	eventually(t, 30*time.Second, "20 records processed", func() bool { return h.col.distinct() == 20 })
	h.checkAllSeen(true) // each new iterator started after the last processed record
	if got := testutil.ToFloat64(w.m.getErrors); got != 5 {
		t.Errorf("getrecords errors = %v, want 5", got)
	}

	// The sequence numbers of the 4th and 10th records.
	shard := h.shards()[0].ShardId
	it, err := h.kin.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: &h.stream, ShardId: shard, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.kin.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10)})
	if err != nil || len(out.Records) != 10 {
		t.Fatalf("read back: %d records, %v", len(out.Records), err)
	}
	want := []string{
		"TRIM_HORIZON",
		"AFTER_SEQUENCE_NUMBER " + aws.ToString(out.Records[3].SequenceNumber),
		"AFTER_SEQUENCE_NUMBER " + aws.ToString(out.Records[9].SequenceNumber),
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(f.iterators) != fmt.Sprint(want) {
		t.Errorf("shard iterators requested:\n %v\nwant\n %v", f.iterators, want)
	}
}

func TestWorker_CheckpointStateReachesTheNextOwner(t *testing.T) {
	h := newHarness(t, 1)
	h.col.withState = true
	h.put(keys(2), 3)
	a := h.start("a")
	eventually(t, 30*time.Second, "6 records processed", func() bool { return h.col.distinct() == 6 })
	a.stop(t)
	var shard, last string
	for id, l := range h.leases() {
		shard, last = id, l.Checkpoint
		if want := "state@" + l.Checkpoint; string(l.state()) != want {
			t.Fatalf("lease %s state %q, want %q", id, l.state(), want)
		}
	}

	h.start("b")
	eventually(t, 30*time.Second, "b initialized", func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		return len(h.col.inits) == 2
	})
	h.col.mu.Lock()
	got := h.col.inits[1]
	h.col.mu.Unlock()
	if got.worker != "b" || got.shard != shard || got.pos.AfterSequence != last || string(got.pos.State) != "state@"+last {
		t.Fatalf("b initialized with %+v (state %q), want shard %s after %s with state %q", got, got.pos.State, shard, last, "state@"+last)
	}

	// A plain checkpoint keeps the saved state; an empty one removes it.
	tbl := &leaseTable{ddb: h.ddb, name: h.table, calls: func(string) {}}
	l := h.leases()[shard]
	if err := tbl.checkpoint(context.Background(), shard, "b", l.Counter, last, nil, false); err != nil {
		t.Fatal(err)
	}
	if l := h.leases()[shard]; string(l.state()) != "state@"+last {
		t.Fatalf("state after a plain checkpoint %q, want %q", l.state(), "state@"+last)
	}
	if err := tbl.checkpoint(context.Background(), shard, "b", l.Counter, last, nil, true); err != nil {
		t.Fatal(err)
	}
	if l := h.leases()[shard]; l.State != nil {
		t.Fatalf("state after an empty one %q, want none", l.State)
	}
}

// TestWorker_StolenShardAdoptedBeforeTheNextTakePass: a worker that claimed
// a shard for balance reads the table more often while it waits, so the
// shard, unread from the moment its owner hands it over, is adopted well
// before the thief's next take pass (here take_interval is 5s).
func TestWorker_StolenShardAdoptedBeforeTheNextTakePass(t *testing.T) {
	h := newHarness(t, 2)
	slowTakes := func(c *Config) { c.TakeInterval = 5 * time.Second }
	a := h.start("a", slowTakes)
	eventually(t, 30*time.Second, "a holding both shards", func() bool { return len(a.heldIDs()) == 2 })
	start := time.Now()
	b := h.start("b", slowTakes)
	eventually(t, 30*time.Second, "b holding one shard", func() bool { return len(b.heldIDs()) == 1 })
	took := time.Since(start)
	if took >= 3*time.Second {
		t.Errorf("b adopted the shard it claimed %v after it started, want well before its next take pass (5s)", took.Round(time.Millisecond))
	}
	eventually(t, 10*time.Second, "a left with one shard", func() bool { return len(a.heldIDs()) == 1 })
	t.Logf("b held its share %v after it started", took.Round(time.Millisecond))
}
