package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/stream"
)

// syncBuffer is a log sink safe for the producer's goroutine.
type syncBuffer = testkit.SyncBuffer

func newLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// failFirst wraps a real client: its first PutRecords marks the entries whose
// index is in fail as ProvisionedThroughputExceededException without sending
// them, and passes the others through; later calls pass through. It records
// the partition keys and bodies of every call.
type failFirst struct {
	api   putRecordsAPI
	fail  map[int]bool
	mu    sync.Mutex
	calls [][]string
}

func (f *failFirst) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	first := len(f.calls) == 0
	var sent []string
	for _, r := range in.Records {
		sent = append(sent, string(r.Data))
	}
	f.calls = append(f.calls, sent)
	f.mu.Unlock()
	if !first {
		return f.api.PutRecords(ctx, in, opts...)
	}
	pass := &kinesis.PutRecordsInput{StreamName: in.StreamName}
	var idx []int
	for i, r := range in.Records {
		if !f.fail[i] {
			pass.Records = append(pass.Records, r)
			idx = append(idx, i)
		}
	}
	real, err := f.api.PutRecords(ctx, pass, opts...)
	if err != nil {
		return nil, err
	}
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i := range in.Records {
		if f.fail[i] {
			out.Records[i] = types.PutRecordsResultEntry{
				ErrorCode:    aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000"),
			}
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
		}
	}
	for j, i := range idx {
		out.Records[i] = real.Records[j]
	}
	return out, nil
}

func (f *failFirst) Calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// readAll reads every record of every shard from TRIM_HORIZON.
func readAll(t *testing.T, kc *kinesis.Client, name string, want int) []types.Record {
	t.Helper()
	ctx := context.Background()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var all []types.Record
	for _, s := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, out.Records...)
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	if len(all) != want {
		t.Fatalf("read %d records from the stream, want %d", len(all), want)
	}
	return all
}

func body(loc string, i int) []byte {
	return fmt.Appendf(nil, `{"schema":"weatherd.reading/v1","event_id":"%s/%d"}`, loc, i)
}

func TestProducer_Kinesis(t *testing.T) {
	kc := emulator.Kinesis(t)
	name := emulator.Name(t, "prod")
	ctx := context.Background()
	if err := EnsureStream(ctx, kc, name, 2); err != nil {
		t.Fatal(err)
	}
	if err := EnsureStream(ctx, kc, name, 2); err != nil {
		t.Fatalf("second EnsureStream: %v", err)
	}

	// Entries 1 and 4 of the first call fail with ProvisionedThroughputExceeded.
	api := &failFirst{api: kc, fail: map[int]bool{1: true, 4: true}}
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	p := New(stream.KinesisConfig{Name: name, BufferRecords: 100, Linger: time.Hour}, api, reg, newLogger(&logs))
	p.sleep = func(ctx context.Context, d time.Duration) error { return nil }

	locs := []string{"toronto", "lisbon", "sao-paulo"}
	var want []string
	for i := 0; i < 12; i++ {
		loc := locs[i%3]
		if err := p.Put(ctx, loc, body(loc, i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, string(body(loc, i)))
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	// Linger is an hour: the records wait until Run's context ends, then the
	// drain delivers them (retrying the failed two) well within DrainTimeout.
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	calls := api.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d PutRecords calls, want 2: %q", len(calls), calls)
	}
	if !slices.Equal(calls[0], want) {
		t.Fatalf("first call sent %q, want %q", calls[0], want)
	}
	if resent := []string{want[1], want[4]}; !slices.Equal(calls[1], resent) {
		t.Fatalf("second call sent %q, want only the failed entries %q", calls[1], resent)
	}

	records := readAll(t, kc, name, 12)
	var got []string
	for _, r := range records {
		if !strings.HasPrefix(string(r.Data), `{"schema":"weatherd.reading/v1","event_id":"`+aws.ToString(r.PartitionKey)+"/") {
			t.Errorf("record %s has partition key %q", r.Data, aws.ToString(r.PartitionKey))
		}
		got = append(got, string(r.Data))
	}
	sort.Strings(got)
	sorted := slices.Clone(want)
	sort.Strings(sorted)
	if !slices.Equal(got, sorted) {
		t.Fatalf("stream holds\n%q\nwant\n%q", got, sorted)
	}
	if v := testutil.ToFloat64(p.m.produced); v != 12 {
		t.Errorf("produced %v, want 12", v)
	}
	if v := testutil.ToFloat64(p.m.failures.WithLabelValues("throttled")); v != 2 {
		t.Errorf("throttled failures %v, want 2", v)
	}
	if v := testutil.ToFloat64(p.m.buffered); v != 0 {
		t.Errorf("buffered %v, want 0", v)
	}
	if !strings.Contains(logs.String(), "producer stopped, buffer delivered") {
		t.Errorf("logs:\n%s", logs.String())
	}
	if err := p.Put(ctx, "toronto", body("toronto", 99)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Run: %v, want ErrClosed", err)
	}
}

func TestProducer_Batches(t *testing.T) {
	kc := emulator.Kinesis(t)
	name := emulator.Name(t, "prod")
	ctx := context.Background()
	if err := EnsureStream(ctx, kc, name, 1); err != nil {
		t.Fatal(err)
	}
	api := &failFirst{api: kc}
	p := New(stream.KinesisConfig{Name: name, BufferRecords: 2000, Linger: 0}, api, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	const n = 1100
	for i := 0; i < n; i++ {
		if err := p.Put(ctx, "toronto", body("toronto", i)); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	stop()
	p.Run(rctx) // delivers everything in the drain
	var sizes []int
	var sent []string
	for _, c := range api.Calls() {
		sizes = append(sizes, len(c))
		sent = append(sent, c...)
	}
	if !slices.Equal(sizes, []int{500, 500, 100}) {
		t.Fatalf("batch sizes %v, want [500 500 100]", sizes)
	}
	for i, s := range sent {
		if s != string(body("toronto", i)) {
			t.Fatalf("record %d sent as %s: order lost", i, s)
		}
	}
	records := readAll(t, kc, name, n)
	for i, r := range records {
		if string(r.Data) != string(body("toronto", i)) {
			t.Fatalf("record %d on the shard is %s: order lost", i, r.Data)
		}
	}
}

// closedPortKinesis is a real Kinesis client pointed at a port nothing
// listens on, with the SDK's retries off so each call fails fast.
func closedPortKinesis(t *testing.T) *kinesis.Client {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://" + addr),
		Credentials:      credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", ""),
		RetryMaxAttempts: 1,
	})
}

func TestProducer_KinesisDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	p := New(stream.KinesisConfig{Name: "weather-readings", BufferRecords: 50, Linger: 0}, closedPortKinesis(t), reg, newLogger(&logs))
	var mu sync.Mutex
	var sleeps []time.Duration
	p.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		sleeps = append(sleeps, d)
		mu.Unlock()
		return lifecycle.Sleep(ctx, time.Millisecond)
	}
	p.drainTimeout = 50 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	for i := 0; i < 50; i++ {
		if err := p.Put(ctx, "toronto", body("toronto", i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	for i := 0; i < 30; i++ {
		if err := p.Put(ctx, "toronto", body("toronto", 50+i)); !errors.Is(err, stream.ErrBufferFull) {
			t.Fatalf("put %d over the buffer: %v, want ErrBufferFull", 50+i, err)
		}
	}
	if got := p.Buffered(); got != 50 {
		t.Fatalf("buffered %d, want 50", got)
	}
	if v := testutil.ToFloat64(p.m.buffered); v != 50 {
		t.Fatalf("buffered gauge %v, want 50", v)
	}
	if v := testutil.ToFloat64(p.m.dropped.WithLabelValues("buffer_full")); v != 30 {
		t.Fatalf("dropped buffer_full %v, want 30", v)
	}
	// Every call sends the whole buffer (50 records) and fails.
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Wait until Run has failed a few times, then stop.
	for deadline := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		n := len(sleeps)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never backed off")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(p.m.dropped.WithLabelValues("shutdown")); v != 50 {
		t.Fatalf("dropped shutdown %v, want 50", v)
	}
	if v := testutil.ToFloat64(p.m.failures.WithLabelValues("unavailable")); v < 150 || int(v)%50 != 0 {
		t.Fatalf("unavailable failures %v, want a multiple of the 50-record batch, at least 3 calls", v)
	}
	if v := testutil.ToFloat64(p.m.produced); v != 0 {
		t.Fatalf("produced %v", v)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, d := range sleeps[:3] {
		base := min(minBackoff<<i, maxBackoff)
		if d < base/2 || d >= base {
			t.Errorf("backoff %d = %s, want in [%s, %s)", i+1, d, base/2, base)
		}
	}
	l := logs.String()
	if strings.Count(l, "producer buffer full") != 1 || !strings.Contains(l, "dropped=1 ") {
		t.Errorf("want one rate-limited buffer-full line:\n%s", l)
	}
	if !strings.Contains(l, "producer stopped with readings undelivered") || !strings.Contains(l, "undelivered=50") {
		t.Errorf("want the undelivered count logged:\n%s", l)
	}
}

func TestProducer_Put(t *testing.T) {
	p := New(stream.KinesisConfig{Name: "s", BufferRecords: 10}, closedPortKinesis(t), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	ctx := context.Background()
	big := make([]byte, maxRecordBytes-len("toronto")+1)
	err := p.Put(ctx, "toronto", big)
	want := `record too large for Kinesis: record for partition key "toronto" is 1048577 bytes (data + key), over the 1 MiB limit`
	if !errors.Is(err, ErrRecordTooLarge) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if err := p.Put(ctx, "toronto", big[:len(big)-1]); err != nil {
		t.Fatalf("exactly 1 MiB: %v", err)
	}
	if err := p.Put(ctx, "", []byte("x")); !errors.Is(err, ErrBadPartitionKey) {
		t.Fatalf("empty key: %v", err)
	}
	if err := p.Put(ctx, strings.Repeat("k", 257), []byte("x")); !errors.Is(err, ErrBadPartitionKey) {
		t.Fatalf("long key: %v", err)
	}
	if v := testutil.ToFloat64(p.m.dropped.WithLabelValues("too_large")); v != 1 {
		t.Fatalf("dropped too_large %v", v)
	}
	// The byte bound holds whatever buffer_records says.
	q := New(stream.KinesisConfig{Name: "s", BufferRecords: 1000}, closedPortKinesis(t), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	rec := make([]byte, maxRecordBytes-10)
	n := 0
	for ; q.Put(ctx, "k", rec) == nil; n++ {
	}
	if n != maxBufferedBytes/(maxRecordBytes-9) {
		t.Fatalf("buffered %d records of ~1 MiB, want %d", n, maxBufferedBytes/(maxRecordBytes-9))
	}
}

func TestProducer_batch(t *testing.T) {
	p := New(stream.KinesisConfig{Name: "s", BufferRecords: 100}, closedPortKinesis(t), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	rec := make([]byte, 900<<10) // 900 KiB: five fit in 5 MiB, six do not
	for i := 0; i < 8; i++ {
		p.Put(context.Background(), "k", rec)
	}
	if b := p.batch(); len(b) != 5 {
		t.Fatalf("batch of %d records, want 5 (5 MiB)", len(b))
	}
}

// acceptAll stores nothing and accepts every entry, to measure the
// producer's own cost without the emulator.
type acceptAll struct{}

func (acceptAll) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records)), FailedRecordCount: aws.Int32(0)}, nil
}

func BenchmarkProducer(b *testing.B) { benchProducer(b) }

// benchProducer puts 740-byte records as fast as a producer with opts
// delivers them to a Kinesis that accepts everything.
func benchProducer(b *testing.B, opts ...Option) {
	p := New(stream.KinesisConfig{Name: "s", BufferRecords: 10000}, acceptAll{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), opts...)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	rec := make([]byte, 740)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		for p.Put(ctx, "toronto", rec) != nil {
			time.Sleep(10 * time.Microsecond) // buffer full: let Run catch up
		}
	}
	stop()
	<-done
	b.ReportMetric(testutil.ToFloat64(p.m.produced)/b.Elapsed().Seconds(), "records/s")
}

// outage sends to down while it is set, else to up.
type outage struct {
	up, down putRecordsAPI
	isDown   atomic.Bool
	calls    atomic.Int32
}

func (o *outage) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	o.calls.Add(1)
	if o.isDown.Load() {
		return o.down.PutRecords(ctx, in, opts...)
	}
	return o.up.PutRecords(ctx, in, opts...)
}

func TestProducer_HealthFollowsKinesis(t *testing.T) {
	kc := emulator.Kinesis(t)
	name := emulator.Name(t, "prod")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := EnsureStream(ctx, kc, name, 1); err != nil {
		t.Fatal(err)
	}
	api := &outage{up: kc, down: closedPortKinesis(t)}
	api.isDown.Store(true)
	p := New(stream.KinesisConfig{Name: name, BufferRecords: 100, Linger: 0}, api, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	p.health.Grace = time.Nanosecond // any failure without a success since counts
	p.sleep = func(ctx context.Context, d time.Duration) error { return lifecycle.Sleep(ctx, time.Millisecond) }
	if err := p.Health(); err != nil {
		t.Fatalf("health before any call: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := p.Put(ctx, "toronto", body("toronto", i)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); api.calls.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("Run never called PutRecords")
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := p.Health()
	if err == nil || !strings.HasPrefix(err.Error(), "failing for ") ||
		!strings.Contains(err.Error(), ": put records: operation error Kinesis: PutRecords") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("health while Kinesis is down: %v", err)
	}
	api.isDown.Store(false)
	for deadline := time.Now().Add(30 * time.Second); p.Buffered() > 0; {
		if time.Now().After(deadline) {
			t.Fatal("records not delivered after Kinesis came back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Health(); err != nil {
		t.Fatalf("health after a delivery: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
