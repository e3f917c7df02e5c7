package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/kcl"
	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// sinkEvent is one thing a shard's lake sink did, in the order it happened.
type sinkEvent struct {
	worker, shard, what, seq string // what: add, flush, checkpoint, discard
	n                        int    // records, for add
	at                       time.Time
}

// journal records the sink events of every worker.
type journal struct {
	mu     sync.Mutex
	events []sinkEvent
}

func (j *journal) add(worker, shard, what, seq string, n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, sinkEvent{worker, shard, what, seq, n, time.Now()})
}

func (j *journal) snapshot() []sinkEvent {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

// journalSink is a lake shard writer that tells the journal what it does.
type journalSink struct {
	*lake.ShardWriter
	j             *journal
	worker, shard string
}

func (s *journalSink) cp(cp stream.Checkpointer) stream.Checkpointer {
	return checkpointFunc(func(ctx context.Context, seq string) error {
		err := cp.Checkpoint(ctx, seq)
		if err == nil {
			s.j.add(s.worker, s.shard, "checkpoint", seq, 0)
		}
		return err
	})
}

func (s *journalSink) Add(ctx context.Context, items []stream.Item, cp stream.Checkpointer) error {
	err := s.ShardWriter.Add(ctx, items, s.cp(cp))
	if err == nil && len(items) > 0 {
		s.j.add(s.worker, s.shard, "add", items[len(items)-1].Record.SequenceNumber, len(items))
	}
	return err
}

func (s *journalSink) Tick(ctx context.Context, cp stream.Checkpointer) error {
	return s.ShardWriter.Tick(ctx, s.cp(cp))
}

func (s *journalSink) Flush(ctx context.Context, cp stream.Checkpointer) error {
	err := s.ShardWriter.Flush(ctx, s.cp(cp))
	if err == nil {
		s.j.add(s.worker, s.shard, "flush", "", 0)
	}
	return err
}

func (s *journalSink) Discard() {
	s.j.add(s.worker, s.shard, "discard", "", 0)
	s.ShardWriter.Discard()
}

type checkpointFunc func(context.Context, string) error

func (f checkpointFunc) Checkpoint(ctx context.Context, seq string) error { return f(ctx, seq) }

// stealWorker is one weatherd consumer: a KCL worker whose processors write
// to a lake writer of its own over the shared lake directory.
type stealWorker struct {
	w      *kcl.Worker
	lake   *lake.Writer
	cancel context.CancelFunc
	done   chan error
}

// TestPipeline_GracefulStealWithDataInFlight: worker a holds both shards of a
// stream and has records of both buffered in its lake writer, not flushed
// (flushes are hourly). Worker b starts and claims one shard. a finishes
// that shard: it flushes the buffered records to the lake and checkpoints
// them, and only then hands the lease over; b starts after a's checkpoint.
// More records follow, both workers stop gracefully, and every record is in
// gold exactly once.
func TestPipeline_GracefulStealWithDataInFlight(t *testing.T) {
	ctx := context.Background()
	kin, ddb := emulator.Kinesis(t), emulator.DynamoDB(t)
	streamName, table := emulator.Name(t, "steal"), emulator.Name(t, "steal-leases")
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &streamName, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: &streamName})
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	testkit.WaitFor(t, "the stream to be active", time.Minute, 100*time.Millisecond, func() (bool, string) {
		out, err := kin.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: &streamName})
		if err != nil {
			return false, err.Error()
		}
		return out.StreamDescription.StreamStatus == ktypes.StreamStatusActive, string(out.StreamDescription.StreamStatus)
	})

	if err := kcl.EnsureTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Lake.URL = "file://" + dir
	cfg.Lake.Flush.MaxAge = time.Hour // nothing is flushed but by the handover and the stop
	j := &journal{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	start := func(id string) *stealWorker {
		t.Helper()
		reg := prometheus.NewRegistry()
		loc, err := lake.ParseURL(cfg.Lake.URL)
		if err != nil {
			t.Fatal(err)
		}
		store, err := lake.OpenStore(ctx, loc, nil)
		if err != nil {
			t.Fatal(err)
		}
		lw, err := lake.New(cfg.Lake, store, reg, log)
		if err != nil {
			t.Fatal(err)
		}
		f := &Factory{
			Stream: streamName,
			Alerts: observerFunc(func(context.Context, []weather.Reading) error { return nil }),
			Lake: func(s, shard string) ShardSink {
				return &journalSink{ShardWriter: lw.Shard(s, shard), j: j, worker: id, shard: shard}
			},
			Metrics: NewMetrics(reg),
			Log:     log,

			MaxClockSkew: cfg.Consumer.MaxClockSkew,
		}
		kc := cfg.Consumer
		kc.ApplicationName, kc.WorkerID = table, id
		kc.LeaseDuration, kc.RenewInterval, kc.TakeInterval = 2*time.Second, 400*time.Millisecond, 300*time.Millisecond
		kc.ShardSyncInterval, kc.IdleTimeBetweenReads = time.Second, 200*time.Millisecond
		kc.GracefulHandoffTimeout, kc.MaxBackoff = 10*time.Second, 500*time.Millisecond
		w, err := kcl.New(kc, streamName, kin, ddb, f.New, reg, log)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		sw := &stealWorker{w: w, lake: lw, cancel: cancel, done: make(chan error, 1)}
		go func() { sw.done <- w.Run(rctx) }()
		t.Cleanup(func() { sw.stop(t) })
		return sw
	}

	// leases reads the lease table with consistent reads: shard → owner, checkpoint.
	leases := func() map[string][2]string {
		t.Helper()
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][2]string{}
		for _, it := range out.Items {
			s := func(k string) string {
				if v, ok := it[k].(*dtypes.AttributeValueMemberS); ok {
					return v.Value
				}
				return ""
			}
			m[s("ShardID")] = [2]string{s("AssignedTo"), s("Checkpoint")}
		}
		return m
	}
	owned := func(by string) []string {
		var ids []string
		for id, l := range leases() {
			if l[0] == by {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}

	var ids []string // event ids put, in order
	put := func(from, n int) {
		t.Helper()
		at := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
		var entries []ktypes.PutRecordsRequestEntry
		for i := from; i < from+n; i++ {
			loc := weather.Location{ID: fmt.Sprintf("loc-%02d", i%20), Name: "L", Lat: 1, Lon: 2}
			v := weather.Values{}
			v.Set("temperature", float64(i))
			r := weather.NewReading(loc, "simulated", at.Add(time.Duration(i)*time.Minute), at, v)
			data, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.EventID)
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(loc.ID), Data: data})
		}
		// One record at a time keeps each location's records in order.
		for _, e := range entries {
			if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &streamName, PartitionKey: e.PartitionKey, Data: e.Data}); err != nil {
				t.Fatal(err)
			}
		}
	}

	a := start("worker-a")
	testkit.WaitFor(t, "worker-a holding both shards", time.Minute, 50*time.Millisecond, func() (bool, string) {
		o := owned("worker-a")
		return len(o) == 2, fmt.Sprintf("worker-a holds %v", o)
	})
	put(0, 100)
	testkit.WaitFor(t, "worker-a buffering all 100 records", time.Minute, 50*time.Millisecond, func() (bool, string) {
		adds := 0
		for _, e := range j.snapshot() {
			if e.what == "add" {
				adds++
			}
		}
		return a.lake.BufferedBytes() > 0 && bufferedRecords(j.snapshot(), "worker-a") == 100, fmt.Sprintf("%d records in %d adds", bufferedRecords(j.snapshot(), "worker-a"), adds)
	})
	if files := goldFiles(t, dir); len(files) != 0 {
		t.Fatalf("gold written before the handover: %v", files)
	}

	// b claims one shard while a's buffer holds records of both.
	claimed := time.Now()
	b := start("worker-b")
	var stolen string
	testkit.WaitFor(t, "worker-b holding one shard", 2*time.Minute, 50*time.Millisecond, func() (bool, string) {
		o := owned("worker-b")
		if len(o) == 1 {
			stolen = o[0]
		}
		return len(o) == 1, fmt.Sprintf("worker-a %v, worker-b %v", owned("worker-a"), o)
	})
	handoff := time.Since(claimed)
	t.Logf("graceful handoff of %s with data in flight: %s from worker-b's start to its lease", stolen, handoff.Round(time.Millisecond))

	// a's side of the stolen shard: buffered, flushed, checkpointed at its
	// last record, in that order, before b read anything of it.
	ev := j.snapshot()
	var lastAdd, cpSeq string
	var flushAt, cpAt, bFirst time.Time
	for _, e := range ev {
		switch {
		case e.shard != stolen:
		case e.worker == "worker-a" && e.what == "add":
			lastAdd = e.seq
		case e.worker == "worker-a" && e.what == "checkpoint":
			cpSeq, cpAt = e.seq, e.at
		case e.worker == "worker-a" && e.what == "flush":
			flushAt = e.at
		case e.worker == "worker-a" && e.what == "discard":
			t.Errorf("worker-a discarded its buffer of %s instead of flushing it", stolen)
		case e.worker == "worker-b" && bFirst.IsZero():
			bFirst = e.at
		}
	}
	if lastAdd == "" || cpSeq != lastAdd || flushAt.IsZero() || flushAt.Before(cpAt) {
		t.Fatalf("worker-a on %s: last buffered %q, checkpointed %q at %v, flushed at %v; want the flush to checkpoint the last buffered record",
			stolen, lastAdd, cpSeq, cpAt.Format(time.StampMilli), flushAt.Format(time.StampMilli))
	}
	if l := leases()[stolen]; l[1] != cpSeq {
		t.Errorf("lease of %s: checkpoint %q, want worker-a's %q", stolen, l[1], cpSeq)
	}
	if !bFirst.IsZero() && bFirst.Before(cpAt) {
		t.Errorf("worker-b wrote to the lake for %s at %v, before worker-a's checkpoint at %v", stolen, bFirst.Format(time.StampMilli), cpAt.Format(time.StampMilli))
	}
	if n := len(goldFiles(t, dir)); n == 0 {
		t.Fatal("no gold object after the handover: worker-a did not flush the stolen shard")
	}

	// More records, read by both; then both stop gracefully and flush.
	put(100, 60)
	testkit.WaitFor(t, "all 160 records buffered or written", 2*time.Minute, 50*time.Millisecond, func() (bool, string) {
		n := bufferedRecords(j.snapshot(), "")
		return n >= 160, fmt.Sprintf("%d records handed to the lake", n)
	})
	b.stop(t)
	a.stop(t)

	got := map[string]int{}
	for _, f := range goldFiles(t, dir) {
		rows, err := parquet.ReadFile[lake.Row](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got[r.EventID]++
		}
	}
	var missing, twice []string
	for _, id := range ids {
		switch got[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			twice = append(twice, fmt.Sprintf("%s ×%d", id, got[id]))
		}
	}
	if len(got) != len(ids) || len(missing)+len(twice) > 0 {
		t.Errorf("gold holds %d distinct event ids for %d put; missing %d %v, more than once %d %v",
			len(got), len(ids), len(missing), first5(missing), len(twice), first5(twice))
	}
}

// bufferedRecords counts the records the lake sinks of worker (every worker
// when "") were handed.
func bufferedRecords(ev []sinkEvent, worker string) int {
	n := 0
	for _, e := range ev {
		if e.what == "add" && (worker == "" || e.worker == worker) {
			n += e.n
		}
	}
	return n
}

func goldFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(filepath.Join(dir, "gold"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".parquet") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func first5(s []string) []string { return s[:min(len(s), 5)] }

// stop cancels the worker and waits for its graceful stop.
func (s *stealWorker) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("worker: Run = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("worker did not stop within a minute")
	}
}
