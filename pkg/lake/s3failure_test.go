package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
)

// partFailingS3 passes every call to s3rver but fails the UploadPart of
// part failPart, and records the aborts s3Store sends.
type partFailingS3 struct {
	S3API
	failPart int32
	cancel   context.CancelFunc // called at the failing part, when set

	mu       sync.Mutex
	uploadID string
	aborts   []string // upload ids
	abortErr error    // what s3rver answered to the abort
}

var errPartInjected = errors.New("connection reset by peer (injected)")

func (f *partFailingS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	f.mu.Lock()
	f.uploadID = aws.ToString(in.UploadId)
	f.mu.Unlock()
	if aws.ToInt32(in.PartNumber) == f.failPart {
		if f.cancel != nil {
			f.cancel()
			return nil, ctx.Err()
		}
		return nil, errPartInjected
	}
	return f.S3API.UploadPart(ctx, in, opts...)
}

func (f *partFailingS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	out, err := f.S3API.AbortMultipartUpload(ctx, in, opts...)
	f.mu.Lock()
	f.aborts = append(f.aborts, aws.ToString(in.UploadId))
	f.abortErr = err
	f.mu.Unlock()
	return out, err
}

// TestS3Store_MultipartAbort: a part that fails ends the upload with an
// abort of that upload sent to S3 — also when the caller's context ended —
// the error names the part, no object appears under the key, and a retry of
// the same Put writes the whole object.
func TestS3Store_MultipartAbort(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cancelled bool
	}{{"PartFails", false}, {"ContextEnds", true}} {
		t.Run(tc.name, func(t *testing.T) {
			client, bucket := MustBucket(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			api := &partFailingS3{S3API: client, failPart: 2}
			if tc.cancelled {
				api.cancel = cancel
			}
			s, err := openS3Store(context.Background(), api, bucket, "p/")
			if err != nil {
				t.Fatal(err)
			}
			s.MultipartThreshold, s.PartSize = 6<<20, 5<<20
			data := bytes.Repeat([]byte("weatherd "), (11<<20)/9)
			err = s.Put(ctx, "gold/big.parquet", data)
			if err == nil {
				t.Fatal("Put succeeded with a failing part")
			}
			if !strings.HasPrefix(err.Error(), "put s3://"+bucket+"/p/gold/big.parquet: upload part 2: ") {
				t.Errorf("err = %v, want it to name the object and part 2", err)
			}
			api.mu.Lock()
			aborts, abortErr, id := api.aborts, api.abortErr, api.uploadID
			api.mu.Unlock()
			if !slices.Equal(aborts, []string{id}) || id == "" {
				t.Fatalf("aborts sent for %q, want one for the failed upload %q", aborts, id)
			}
			// The abort reached S3 with a live context: S3 answered it (s3rver
			// 0.x answers 405, it does not implement the call; AWS answers
			// 204), which must show in the error, not be lost.
			var apiErr smithy.APIError
			switch {
			case abortErr == nil:
			case errors.As(abortErr, &apiErr):
				if !strings.Contains(err.Error(), "abort multipart upload: ") {
					t.Errorf("the abort's failure (%v) is not in the error: %v", abortErr, err)
				}
			default:
				t.Errorf("the abort did not reach S3: %v", abortErr)
			}
			if objs := mustList(t, s, ""); len(objs) != 0 {
				t.Fatalf("objects after the failed upload: %+v", objs)
			}

			api.failPart, api.cancel = 0, nil
			if err := s.Put(context.Background(), "gold/big.parquet", data); err != nil {
				t.Fatalf("retry: %v", err)
			}
			got, err := s.Get(context.Background(), "gold/big.parquet")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after the retry: %d bytes (%v), want the %d written", len(got), err, len(data))
			}
		})
	}
}

// listCounting counts ListObjectsV2 calls, one per page.
type listCounting struct {
	S3API
	pages atomic.Int32
}

func (l *listCounting) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	l.pages.Add(1)
	return l.S3API.ListObjectsV2(ctx, in, opts...)
}

// TestS3Store_ListPaginates: more objects than one ListObjectsV2 page (1,000
// keys) come back complete, each once, in key order, with the store's prefix
// cut off; objects outside the listed prefix are not included.
func TestS3Store_ListPaginates(t *testing.T) {
	ctx := context.Background()
	client, bucket := MustBucket(t)
	api := &listCounting{S3API: client}
	s, err := openS3Store(ctx, api, bucket, "weatherd/lake/")
	if err != nil {
		t.Fatal(err)
	}
	const n = 1003
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("raw/part-%05d.json.gz", i))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, k := range append(slices.Clone(want), "gold/other.parquet") {
		g.Go(func() error { return s.Put(gctx, k, []byte(k)) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	api.pages.Store(0)
	objs := mustList(t, s, "raw/")
	var got []string
	for _, o := range objs {
		got = append(got, o.Key)
		if o.Size != int64(len(o.Key)) {
			t.Errorf("%s: size %d, want %d", o.Key, o.Size, len(o.Key))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d keys, want the %d written in order (first difference near %v)", len(got), len(want), firstDiff(got, want))
	}
	if p := api.pages.Load(); p < 2 {
		t.Errorf("listed in %d page(s), want at least 2 (is the page smaller than %d keys?)", p, n)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %q vs %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// proxiedS3 is an S3 client for s3rver that goes through a fault proxy.
func proxiedS3(t *testing.T) (*s3.Client, *faultproxy.Proxy) {
	t.Helper()
	p := faultproxy.Start(t, emulator.Endpoint(t, awsconf.S3))
	c := emulator.AWS(t)
	c.Endpoints.S3 = p.URL()
	return awsconf.NewS3(emulator.AWSConfig(t), c), p
}

// TestShardWriter_S3Outage: S3 stops answering during a flush (connections
// hang, as on a dead route). The flush fails when its context ends, nothing
// is checkpointed and nothing is dropped; records keep arriving meanwhile;
// once S3 answers again the next flush writes every record, gold and raw
// exactly once, and checkpoints the last one.
func TestShardWriter_S3Outage(t *testing.T) {
	ctx := context.Background()
	client, bucket := MustBucket(t)
	s3c, proxy := proxiedS3(t)
	cfg := testConfig("")
	cfg.URL = "s3://" + bucket + "/lake/"
	store, err := OpenStore(ctx, mustLocation(t, cfg.URL), s3c)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := MustWriter(t, cfg, store)
	sw := w.Shard("weather-readings", "shardId-000000000000")
	cp := &recCP{}
	in := items(t, 90, func(i int) int { return i % 3 })
	if err := sw.Add(ctx, in[:60], cp); err != nil {
		t.Fatal(err)
	}

	proxy.BlackHole()
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = sw.Flush(fctx, cp)
	cancel()
	if err == nil {
		t.Fatal("Flush succeeded while S3 did not answer")
	}
	if !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) || !strings.Contains(err.Error(), "put s3://"+bucket+"/lake/") {
		t.Errorf("Flush during the outage = %v, want the context's end and the object named", err)
	}
	if calls := cp.Calls(); len(calls) != 0 {
		t.Fatalf("checkpointed %v during the outage", calls)
	}
	// The consumer goes on handing records over while S3 is down.
	if err := sw.Add(ctx, in[60:], cp); err != nil {
		t.Fatal(err)
	}
	if got := w.BufferedBytes(); got == 0 {
		t.Fatal("nothing buffered after a failed flush: records were dropped")
	}

	proxy.Restore()
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatalf("Flush after the outage: %v", err)
	}
	if calls := cp.Calls(); len(calls) == 0 || calls[len(calls)-1] != seqNo(89) {
		t.Fatalf("checkpoints after the outage = %v, want the last %s", calls, seqNo(89))
	}
	if got := w.BufferedBytes(); got != 0 {
		t.Errorf("%d bytes still buffered after the flush", got)
	}
	// Read back through a client that never saw the outage.
	direct, err := openS3Store(ctx, client, bucket, "lake/")
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, download(t, direct), in)
}

// TestWriter_S3OutageBackpressure: while S3 does not answer, the buffer
// budget fills and Add blocks instead of buffering without bound, returning
// when its context ends; once S3 answers, Add goes on and every record
// reaches gold exactly once.
func TestWriter_S3OutageBackpressure(t *testing.T) {
	ctx := context.Background()
	client, bucket := MustBucket(t)
	s3c, proxy := proxiedS3(t)
	in := items(t, 120, func(i int) int { return i % 2 })
	var budget int64
	for i := range in[:40] {
		budget += itemSize(&in[i])
	}
	cfg := testConfig("")
	cfg.URL = "s3://" + bucket + "/lake/"
	cfg.MaxBufferedBytes, cfg.Flush.MaxBytes = budget, budget
	store, err := OpenStore(ctx, mustLocation(t, cfg.URL), s3c)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := MustWriter(t, cfg, store)
	sw := w.Shard("weather-readings", "shardId-000000000000")
	cp := &recCP{}

	proxy.BlackHole()
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = sw.Add(actx, in, cp)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Fatalf("Add over the budget while S3 is down = %v, want it to block until its context ends", err)
	}
	if got := w.BufferedBytes(); got > budget+itemSize(&in[0]) {
		t.Errorf("buffered %d bytes during the outage, over the %d budget", got, budget)
	}
	if calls := cp.Calls(); len(calls) != 0 {
		t.Fatalf("checkpointed %v during the outage", calls)
	}

	proxy.Restore()
	// The consumer retries the batch; records already buffered are skipped.
	if err := sw.Add(ctx, in, cp); err != nil {
		t.Fatalf("Add after the outage: %v", err)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if calls := cp.Calls(); len(calls) == 0 || calls[len(calls)-1] != seqNo(119) {
		t.Fatalf("checkpoints = %v, want the last %s", calls, seqNo(119))
	}
	direct, err := openS3Store(ctx, client, bucket, "lake/")
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, download(t, direct), in)
}
