package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/spool"
	"github.com/weatherd/weatherd/pkg/stream"
)

// openSpool opens the spool in dir on its own registry.
func openSpool(t *testing.T, dir string) (*spool.Spool, []spool.Entry) {
	t.Helper()
	sp, rec, err := spool.Open(dir, spool.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp, rec
}

// dirFiles lists dir's file names.
func dirFiles(tb testing.TB, dir string) []string { return testkit.DirNames(tb, dir) }

// TestProducer_Spool: records put while Kinesis is down are not lost when
// the process stops: the next producer on the same spool delivers them,
// ahead of new records, exactly as put, and the spool is empty afterwards.
func TestProducer_Spool(t *testing.T) {
	kc := emulator.Kinesis(t)
	name := emulator.Name(t, "prod")
	ctx := context.Background()
	if err := EnsureStream(ctx, kc, name, 2); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "spool")
	cfg := stream.KinesisConfig{Name: name, BufferRecords: 100, Linger: 0}
	locs := []string{"toronto", "lisbon", "sao-paulo"}

	// First run: Kinesis unreachable; Run fails, backs off, stops.
	sp1, rec := openSpool(t, dir)
	if len(rec) != 0 {
		t.Fatalf("a new spool recovered %d records", len(rec))
	}
	var logs syncBuffer
	p1 := New(cfg, closedPortKinesis(t), prometheus.NewRegistry(), newLogger(&logs), WithSpool(sp1, rec))
	p1.sleep = func(ctx context.Context, d time.Duration) error { return lifecycle.Sleep(ctx, time.Millisecond) }
	p1.drainTimeout = 20 * time.Millisecond
	var want []string
	for i := 0; i < 30; i++ {
		loc := locs[i%3]
		if err := p1.Put(ctx, loc, body(loc, i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, loc+" "+string(body(loc, i)))
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p1.Run(rctx) }()
	for deadline := time.Now().Add(30 * time.Second); testutil.ToFloat64(p1.m.failures.WithLabelValues("unavailable")) < 60; {
		if time.Now().After(deadline) {
			t.Fatal("Run never failed twice")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(p1.m.dropped.WithLabelValues("shutdown")); v != 0 {
		t.Errorf("dropped{shutdown} = %v: spooled records are not dropped", v)
	}
	if l := logs.String(); !strings.Contains(l, "they stay in the spool for the next start") || !strings.Contains(l, "undelivered=30") {
		t.Errorf("logs:\n%s", l)
	}
	if sp1.Records() != 30 {
		t.Fatalf("spool holds %d records, want 30", sp1.Records())
	}
	sp1.Close() // as the kernel does at a kill: the lock goes, the files stay

	// Second run: the spool gives back the 30 records; 5 new ones follow them.
	sp2, rec := openSpool(t, dir)
	if len(rec) != 30 {
		t.Fatalf("recovered %d records, want 30", len(rec))
	}
	reg := prometheus.NewRegistry()
	api := &failFirst{api: kc, fail: map[int]bool{3: true, 31: true}} // two entries fail once
	p2 := New(stream.KinesisConfig{Name: name, BufferRecords: 100, Linger: time.Hour}, api, reg, slog.New(slog.DiscardHandler), WithSpool(sp2, rec))
	p2.sleep = func(ctx context.Context, d time.Duration) error { return nil }
	if got := p2.Buffered(); got != 30 {
		t.Fatalf("Buffered() = %d before any Put, want the 30 recovered", got)
	}
	for i := 30; i < 35; i++ {
		loc := locs[i%3]
		if err := p2.Put(ctx, loc, body(loc, i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, loc+" "+string(body(loc, i)))
	}
	rctx, stop = context.WithCancel(ctx)
	stop()
	if err := p2.Run(rctx); err != nil { // the drain delivers everything
		t.Fatal(err)
	}
	calls := api.Calls()
	if len(calls) != 2 || len(calls[0]) != 35 {
		t.Fatalf("PutRecords calls %d (first of %d records), want 2, the first with all 35", len(calls), len(calls[0]))
	}
	for i, c := range calls[0] {
		if c != strings.SplitN(want[i], " ", 2)[1] {
			t.Fatalf("first call's record %d is %s, want %s: recovered records first, in order", i, c, want[i])
		}
	}

	records := readAll(t, kc, name, 35)
	var got []string
	for _, r := range records {
		got = append(got, aws.ToString(r.PartitionKey)+" "+string(r.Data))
	}
	slices.Sort(got)
	sorted := slices.Clone(want)
	slices.Sort(sorted)
	if !slices.Equal(got, sorted) {
		t.Fatalf("stream holds\n%q\nwant\n%q", got, sorted)
	}
	// Per partition key, the stream keeps the put order, except the two
	// entries that failed once and were sent again in the second call.
	order := append(slices.Concat(want[:3], want[4:31], want[32:]), want[3], want[31])
	for _, loc := range locs {
		var w, g []string
		for _, r := range order {
			if strings.HasPrefix(r, loc+" ") {
				w = append(w, r)
			}
		}
		for _, r := range records {
			if aws.ToString(r.PartitionKey) == loc {
				g = append(g, loc+" "+string(r.Data))
			}
		}
		if !slices.Equal(g, w) {
			t.Fatalf("%s on the stream:\n%q\nwant\n%q", loc, g, w)
		}
	}
	if sp2.Records() != 0 {
		t.Fatalf("spool holds %d records after delivery", sp2.Records())
	}
	if files := dirFiles(t, dir); !slices.Equal(files, []string{"LOCK"}) {
		t.Fatalf("spool directory after delivery: %q, want only LOCK", files)
	}
	sp2.Close()
	if files := dirFiles(t, dir); !slices.Equal(files, []string{"LOCK"}) {
		t.Fatalf("spool directory after close: %q", files)
	}
	if _, rec := openSpool(t, dir); len(rec) != 0 {
		t.Fatalf("a third open recovered %d records", len(rec))
	}
}

func TestProducer_SpoolBounds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sp, _ := openSpool(t, dir)
	for i := 0; i < 30; i++ {
		if _, err := sp.Append("toronto", body("toronto", i)); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()

	// More recovered records than buffer_records: all queued, none dropped;
	// new records wait for room.
	sp, rec := openSpool(t, dir)
	p := New(stream.KinesisConfig{Name: "s", BufferRecords: 10}, closedPortKinesis(t), prometheus.NewRegistry(), slog.New(slog.DiscardHandler), WithSpool(sp, rec))
	if got := p.Buffered(); got != 30 {
		t.Fatalf("Buffered() = %d, want all 30 recovered", got)
	}
	if v := testutil.ToFloat64(p.m.buffered); v != 30 {
		t.Fatalf("buffered gauge %v", v)
	}
	if err := p.Put(ctx, "toronto", body("toronto", 30)); !errors.Is(err, stream.ErrBufferFull) {
		t.Fatalf("Put over the bound: %v, want ErrBufferFull", err)
	}
	if sp.Records() != 30 {
		t.Fatalf("a refused Put reached the spool: %d records", sp.Records())
	}
	if b := p.batch(); len(b) != 30 || string(b[29].data) != string(body("toronto", 29)) {
		t.Fatalf("first batch %d records", len(b))
	}
}

func TestProducer_SpoolWriteFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sp, _ := openSpool(t, dir)
	p := New(stream.KinesisConfig{Name: "s", BufferRecords: 10}, closedPortKinesis(t), prometheus.NewRegistry(), slog.New(slog.DiscardHandler), WithSpool(sp, nil))
	// The spool's first segment name is taken by a directory: its create fails.
	seg := filepath.Join(dir, fmt.Sprintf("%020d.spool", 0))
	if err := os.Mkdir(seg, 0o700); err != nil {
		t.Fatal(err)
	}
	err := p.Put(ctx, "toronto", body("toronto", 0))
	if want := "spool record: create spool segment: open " + seg + ": file exists"; err == nil || err.Error() != want {
		t.Fatalf("Put: %v\nwant %s", err, want)
	}
	if p.Buffered() != 0 {
		t.Fatalf("a record the spool refused was queued")
	}
	if v := testutil.ToFloat64(p.m.dropped.WithLabelValues("spool_error")); v != 1 {
		t.Fatalf("dropped{spool_error} = %v", v)
	}
}

// BenchmarkProducer_Spool is BenchmarkProducer with a spool: every Put
// appends to it, every batch syncs it and acks what was delivered.
func BenchmarkProducer_Spool(b *testing.B) {
	sp, _, err := spool.Open(b.TempDir(), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	benchProducer(b, WithSpool(sp, nil))
}

func TestProducer_SpoolRecoveredRecordKinesisWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	sp, _ := openSpool(t, dir)
	sp.Append("toronto", body("toronto", 0))
	sp.Append("", body("nowhere", 1)) // no partition key
	sp.Append("lisbon", body("lisbon", 2))
	sp.Close()
	sp, rec := openSpool(t, dir)
	p := New(stream.KinesisConfig{Name: "s", BufferRecords: 10}, closedPortKinesis(t), prometheus.NewRegistry(), slog.New(slog.DiscardHandler), WithSpool(sp, rec))
	b := p.batch()
	if len(b) != 2 || b[0].key != "toronto" || b[1].key != "lisbon" {
		t.Fatalf("queued %d records", len(b))
	}
	if v := testutil.ToFloat64(p.m.dropped.WithLabelValues("rejected")); v != 1 {
		t.Fatalf("dropped{rejected} = %v", v)
	}
	if sp.Records() != 2 {
		t.Fatalf("the refused record is still in the spool: %d records", sp.Records())
	}
}
