package kcl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/stream"
)

// harness is one test's stream, lease table and record collector.
type harness struct {
	t      testing.TB
	kin    *kinesis.Client
	kin2   KinesisAPI // what workers use; kin when nil
	ddb    *dynamodb.Client
	stream string
	table  string
	col    *collector

	mu       sync.Mutex
	produced map[string]int // partition key → records put
}

func newHarness(t testing.TB, shards int) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		kin:      emulator.Kinesis(t),
		ddb:      emulator.DynamoDB(t),
		stream:   emulator.Name(t, "kcl"),
		table:    emulator.Name(t, "kcl-leases"),
		col:      newCollector(),
		produced: map[string]int{},
	}
	ctx := context.Background()
	if _, err := h.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &h.stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	// Registered first, so it runs after the workers are stopped.
	t.Cleanup(func() {
		ctx := context.Background()
		h.kin.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &h.stream, EnforceConsumerDeletion: aws.Bool(true)})
		h.ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &h.table})
	})
	h.waitActive()
	return h
}

// newTableHarness is a harness with only a fresh, empty lease table (no
// stream), for tests that drive the table directly.
func newTableHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		ddb:      emulator.DynamoDB(t),
		table:    emulator.Name(t, "kcl-leases"),
		col:      newCollector(),
		produced: map[string]int{},
	}
	t.Cleanup(func() { h.ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &h.table}) })
	if err := EnsureTable(context.Background(), h.ddb, h.table); err != nil {
		t.Fatalf("create lease table: %v", err)
	}
	return h
}

func (h *harness) waitActive() {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := h.kin.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: &h.stream})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("stream %s not active after 30s (err %v)", h.stream, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testConfig has short leases so tests run in seconds.
func (h *harness) config(worker string) Config {
	c := testkit.Default[Config](h.t, "consumer")
	c.ApplicationName = h.table
	c.WorkerID = worker
	c.LeaseDuration = 2 * time.Second
	c.RenewInterval = 400 * time.Millisecond
	c.TakeInterval = 300 * time.Millisecond
	c.ShardSyncInterval = time.Second
	c.IdleTimeBetweenReads = 200 * time.Millisecond
	c.GracefulHandoffTimeout = 5 * time.Second
	c.MaxBackoff = 500 * time.Millisecond
	return c
}

var testLog = func() *slog.Logger {
	if os.Getenv("KCL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}()

// runningWorker is a Worker running in its own goroutine.
type runningWorker struct {
	*Worker
	ddb    *crashableTable
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func (h *harness) start(worker string, edit ...func(*Config)) *runningWorker {
	h.t.Helper()
	cfg := h.config(worker)
	for _, e := range edit {
		e(&cfg)
	}
	reg := prometheus.NewRegistry()
	var kin KinesisAPI = h.kin
	if h.kin2 != nil {
		kin = h.kin2
	}
	ddb := &crashableTable{DynamoDBAPI: h.ddb}
	w, err := New(cfg, h.stream, kin, ddb, h.col.factory(worker), reg, testLog)
	if err != nil {
		h.t.Fatalf("new worker: %v", err)
	}
	w.listPageSize = 2 // exercise ListShards pagination
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{Worker: w, ddb: ddb, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { rw.done <- w.Run(ctx) }()
	h.t.Cleanup(func() { rw.crash() })
	return rw
}

// stop ends the worker gracefully and waits for Run to return.
func (rw *runningWorker) stop(tb testing.TB) {
	tb.Helper()
	rw.cancel()
	select {
	case err := <-rw.done:
		if err != nil {
			tb.Fatalf("Run = %v, want nil", err)
		}
		rw.done <- nil
	case <-time.After(30 * time.Second):
		tb.Fatal("Run did not return 30s after cancel")
	}
}

// crash stops the worker as if its process died: from now on none of its
// writes reaches the lease table (no checkpoint, no release, no handover),
// then it is stopped.
func (rw *runningWorker) crash() {
	rw.ddb.crashed.Store(true)
	rw.cancel()
	<-rw.done
	rw.done <- nil
}

// crashableTable passes calls to the lease table until crashed is set; then
// it refuses every write as a failed condition would, so a crashed worker
// changes nothing in the table and, since a refused write is not retried,
// stops at once, like a process that died.
type crashableTable struct {
	DynamoDBAPI
	crashed atomic.Bool
}

func (d *crashableTable) refused(op string) error {
	return fmt.Errorf("%s after the crash: %w", op, &dtypes.ConditionalCheckFailedException{Message: aws.String("worker crashed")})
}

func (d *crashableTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if d.crashed.Load() {
		return nil, d.refused("PutItem")
	}
	return d.DynamoDBAPI.PutItem(ctx, in, opts...)
}

func (d *crashableTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if d.crashed.Load() {
		return nil, d.refused("UpdateItem")
	}
	return d.DynamoDBAPI.UpdateItem(ctx, in, opts...)
}

func (d *crashableTable) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if d.crashed.Load() {
		return nil, d.refused("DeleteItem")
	}
	return d.DynamoDBAPI.DeleteItem(ctx, in, opts...)
}

func (rw *runningWorker) heldIDs() []string {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var ids []string
	for id := range rw.held {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// put writes perKey records for each key, in order, and returns when all
// are accepted.
func (h *harness) put(keys []string, perKey int) {
	h.t.Helper()
	var entries []ktypes.PutRecordsRequestEntry
	h.mu.Lock()
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			n := h.produced[k]
			h.produced[k]++
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: []byte(fmt.Sprintf("%s/%06d", k, n))})
		}
	}
	h.mu.Unlock()
	// Records of one key must be put in order: send sequentially and retry
	// failed entries before moving on.
	for len(entries) > 0 {
		batch := entries[:min(len(entries), 250)]
		for attempt := 0; ; attempt++ {
			out, err := h.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: &h.stream, Records: batch})
			if err == nil && aws.ToInt32(out.FailedRecordCount) == 0 {
				break
			}
			if attempt > 20 {
				h.t.Fatalf("put records: %v (failed %v)", err, out)
			}
			if err == nil {
				// keep order: resend the whole batch from the first failure
				for i, r := range out.Records {
					if r.ErrorCode != nil {
						entries = entries[i:]
						batch = entries[:min(len(entries), 250)]
						break
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		entries = entries[len(batch):]
	}
}

func (h *harness) totalProduced() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.produced {
		n += c
	}
	return n
}

// checkAllSeen checks that every produced record was processed, and that per
// partition key the first deliveries came in production order. With exact,
// it also checks that no record was delivered twice.
func (h *harness) checkAllSeen(exact bool) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.col.mu.Lock()
	defer h.col.mu.Unlock()
	for k, n := range h.produced {
		got := h.col.byKey[k]
		var firsts []int
		seen := map[int]bool{}
		for _, i := range got {
			if !seen[i] {
				seen[i] = true
				firsts = append(firsts, i)
			}
		}
		if len(firsts) != n {
			h.t.Errorf("key %s: %d distinct records processed, want %d", k, len(firsts), n)
			continue
		}
		for i, v := range firsts {
			if v != i {
				h.t.Errorf("key %s: record %d processed in position %d (out of order)", k, v, i)
				break
			}
		}
		if exact && len(got) != n {
			h.t.Errorf("key %s: %d deliveries for %d records, want exactly once", k, len(got), n)
		}
	}
}

func (h *harness) leases() map[string]lease {
	h.t.Helper()
	t := &leaseTable{ddb: h.ddb, name: h.table, calls: func(string) {}}
	ls, err := t.scan(context.Background())
	if err != nil {
		h.t.Fatalf("scan: %v", err)
	}
	m := map[string]lease{}
	for _, l := range ls {
		m[l.ShardID] = l
	}
	return m
}

func (h *harness) shards() []ktypes.Shard {
	h.t.Helper()
	s, err := listShards(context.Background(), h.kin, h.stream, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collector records what every processor of a test saw.
type collector struct {
	tick atomic.Int64 // global order of events

	mu          sync.Mutex
	byKey       map[string][]int // partition key → record numbers in delivery order
	deliveries  int
	settled     int // records whose batch's checkpoint returned
	inits       []initEvent
	shutdowns   []shutdownEvent
	firstRecord map[string]int64 // shard → tick of its first record
	shardEnd    map[string]int64 // shard → tick of Shutdown(ShardEndReached)
	firstAfter  map[string][]string
	cps         map[string]stream.Checkpointer // worker/shard → checkpointer
	cpErrs      []error
	failBatches atomic.Int32 // ProcessRecords fails this many non-empty batches
	failed      []string     // first sequence numbers of failed batches
	retried     map[string]bool
	empty       map[string]int // shard → empty batches (idle ticks)
	// withState makes processors checkpoint with the state "state@<seq>".
	withState bool
}

type initEvent struct {
	worker, shard string
	pos           stream.Position
}

type shutdownEvent struct {
	worker, shard string
	reason        stream.ShutdownReason
}

func newCollector() *collector {
	return &collector{
		byKey: map[string][]int{}, firstRecord: map[string]int64{}, shardEnd: map[string]int64{},
		firstAfter: map[string][]string{}, cps: map[string]stream.Checkpointer{}, retried: map[string]bool{},
		empty: map[string]int{},
	}
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.byKey {
		seen := map[int]bool{}
		for _, i := range l {
			seen[i] = true
		}
		n += len(seen)
	}
	return n
}

func (c *collector) factory(worker string) stream.ProcessorFactory {
	return func() stream.Processor { return &recProc{c: c, worker: worker} }
}

// recProc checkpoints after every batch, like a processor that writes
// synchronously.
type recProc struct {
	c       *collector
	worker  string
	shard   string
	last    string
	started bool
}

func (p *recProc) Initialize(_ context.Context, shard string, from stream.Position) error {
	p.shard, p.last = shard, from.AfterSequence
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	p.c.inits = append(p.c.inits, initEvent{p.worker, shard, from})
	return nil
}

func (p *recProc) ProcessRecords(ctx context.Context, recs []stream.Record, cp stream.Checkpointer) error {
	c := p.c
	c.mu.Lock()
	c.cps[p.worker+"/"+p.shard] = cp
	c.mu.Unlock()
	if len(recs) == 0 {
		c.mu.Lock()
		c.empty[p.shard]++
		c.mu.Unlock()
		return nil
	}
	if c.failBatches.Load() > 0 && c.failBatches.Add(-1) >= 0 {
		c.mu.Lock()
		c.failed = append(c.failed, recs[0].SequenceNumber)
		c.mu.Unlock()
		return errors.New("sink unavailable")
	}
	c.mu.Lock()
	if _, ok := c.firstRecord[p.shard]; !ok {
		c.firstRecord[p.shard] = c.tick.Add(1)
	}
	if !p.started {
		p.started = true
		c.firstAfter[p.shard] = append(c.firstAfter[p.shard], recs[0].SequenceNumber)
	}
	c.retried[recs[0].SequenceNumber] = true
	for _, r := range recs {
		k, n, _ := strings.Cut(string(r.Data), "/")
		i, _ := strconv.Atoi(n)
		c.byKey[k] = append(c.byKey[k], i)
		c.deliveries++
	}
	c.mu.Unlock()
	p.last = recs[len(recs)-1].SequenceNumber
	if err := p.checkpoint(ctx, cp); err != nil {
		c.mu.Lock()
		c.cpErrs = append(c.cpErrs, err)
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	c.settled += len(recs)
	c.mu.Unlock()
	return nil
}

// checkpointed is how many records were delivered in batches whose
// checkpoint has returned: a test that reads the lease table after
// distinct() reached a count waits for this too, or it may read the table
// while the last checkpoint is still on its way.
func (c *collector) checkpointed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settled
}

func (p *recProc) Shutdown(ctx context.Context, reason stream.ShutdownReason, cp stream.Checkpointer) error {
	c := p.c
	c.mu.Lock()
	c.shutdowns = append(c.shutdowns, shutdownEvent{p.worker, p.shard, reason})
	if reason == stream.ShardEndReached {
		c.shardEnd[p.shard] = c.tick.Add(1)
	}
	c.mu.Unlock()
	if reason != stream.LeaseLost && p.last != "" {
		return p.checkpoint(ctx, cp)
	}
	return nil
}

func (p *recProc) checkpoint(ctx context.Context, cp stream.Checkpointer) error {
	if p.c.withState {
		return cp.(stream.StateCheckpointer).CheckpointWithState(ctx, p.last, []byte("state@"+p.last))
	}
	return cp.Checkpoint(ctx, p.last)
}

// midHash is the middle of a shard's hash-key range.
func midHash(s ktypes.Shard) string {
	lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
	return new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("loc-%02d", i)
	}
	return ks
}

// scans is how many lease-table scans (one per take pass) rw has made.
func (rw *runningWorker) scans() float64 {
	return testutil.ToFloat64(rw.m.leaseCalls.WithLabelValues("scan"))
}

// afterTakePasses waits until each of ws has made n more take passes, so a
// test can say "for a few take passes nothing changed" without a sleep.
func afterTakePasses(tb testing.TB, n int, ws ...*runningWorker) {
	tb.Helper()
	from := make([]float64, len(ws))
	for i, w := range ws {
		from[i] = w.scans()
	}
	eventually(tb, 60*time.Second, fmt.Sprintf("%d more take passes by each worker", n), func() bool {
		for i, w := range ws {
			if w.scans() < from[i]+float64(n) {
				return false
			}
		}
		return true
	})
}

// afterIdleReads waits until every shard of the stream has been read empty
// n more times: its readers are at the tip, so whatever they were going to
// deliver has been delivered.
func (h *harness) afterIdleReads(n int) {
	h.t.Helper()
	shards := h.shards()
	h.col.mu.Lock()
	from := make(map[string]int, len(shards))
	for _, s := range shards {
		from[aws.ToString(s.ShardId)] = h.col.empty[aws.ToString(s.ShardId)]
	}
	h.col.mu.Unlock()
	eventually(h.t, 60*time.Second, fmt.Sprintf("%d more empty reads of each shard", n), func() bool {
		h.col.mu.Lock()
		defer h.col.mu.Unlock()
		for id, was := range from {
			if h.col.empty[id] < was+n {
				return false
			}
		}
		return true
	})
}
