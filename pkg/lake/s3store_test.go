package lake

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// MustBucket creates a fresh bucket on the S3 emulator.
func MustBucket(tb testing.TB) (*s3.Client, string) {
	tb.Helper()
	client := emulator.S3(tb)
	bucket := emulator.Name(tb, "lake")
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("create bucket %s: %v", bucket, err)
	}
	return client, bucket
}

// download copies every object under prefix into a new directory, keeping
// the key layout, so DuckDB can read it.
func download(tb testing.TB, s Store) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, o := range mustList(tb, s, "") {
		b, err := s.Get(context.Background(), o.Key)
		if err != nil {
			tb.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func mustList(tb testing.TB, s Store, prefix string) []ObjectInfo {
	tb.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		tb.Fatal(err)
	}
	return objs
}

func TestS3Store_Writer(t *testing.T) {
	ctx := context.Background()
	client, bucket := MustBucket(t)
	cfg := testConfig("")
	cfg.URL = "s3://" + bucket + "/weatherd/lake/"
	cfg.Flush.MaxRecords = 50
	store, err := OpenStore(ctx, mustLocation(t, cfg.URL), client)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.String(); got != "s3://"+bucket+"/weatherd/lake/" {
		t.Fatalf("store = %s", got)
	}
	w, _ := MustWriter(t, cfg, store)
	sw := w.Shard("weather-readings", "shardId-000000000000")
	cp := &recCP{}
	in := items(t, 120, func(i int) int { return i % 2 })
	poison := decodeItem(120, []byte(`{"schema":"nope"}`))
	if err := sw.Add(ctx, append(in, poison), cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cp.Calls(), ","); got != seqNo(49)+","+seqNo(99)+","+seqNo(120) {
		t.Fatalf("checkpoints = %s", got)
	}
	// Every key is under the URL's prefix, in the documented layout (docs/lake.md).
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Contents); n != 13 { // 3 flushes x 2 hours x (raw, gold) + 1 errors
		t.Fatalf("objects = %d, want 13", n)
	}
	first := aws.ToString(out.Contents[0].Key)
	if want := "weatherd/lake/errors/year=2026/month=11/day=27/hour=06/weather-readings-shardId-000000000000-" + seqNo(120) + ".json.gz"; first != want {
		t.Fatalf("first key = %s, want %s", first, want)
	}
	dir := download(t, store)
	assertExactlyOnce(t, dir, in)

	t.Run("Compact", func(t *testing.T) {
		w.now = func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }
		w.cfg.Compaction.Lookback = 365 * 24 * time.Hour
		// Only the two test hours hold objects; list them directly instead
		// of walking a year of empty prefixes.
		for _, h := range []time.Time{baseHour, baseHour.Add(time.Hour)} {
			if err := w.compactHour(ctx, h, w.now()); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(mustList(t, store, "gold/")); n != 2 {
			t.Fatalf("gold objects after compaction = %d, want 2", n)
		}
		assertExactlyOnce(t, download(t, store), in)
	})
}

// countingS3 counts UploadPart calls.
type countingS3 struct {
	S3API
	parts atomic.Int32
}

func (c *countingS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	c.parts.Add(1)
	return c.S3API.UploadPart(ctx, in, opts...)
}

func TestS3Store_Multipart(t *testing.T) {
	ctx := context.Background()
	client, bucket := MustBucket(t)
	api := &countingS3{S3API: client}
	s, err := openS3Store(ctx, api, bucket, "p")
	if err != nil {
		t.Fatal(err)
	}
	s.MultipartThreshold, s.PartSize = 6<<20, 5<<20
	data := make([]byte, 11<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := s.Put(ctx, "gold/big.parquet", data); err != nil {
		t.Fatal(err)
	}
	if n := api.parts.Load(); n != 3 {
		t.Fatalf("parts = %d, want 3", n)
	}
	got, err := s.Get(ctx, "gold/big.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
	objs := mustList(t, s, "gold/")
	if len(objs) != 1 || objs[0].Key != "gold/big.parquet" || objs[0].Size != int64(len(data)) {
		t.Fatalf("List = %+v", objs)
	}
	if err := s.Delete(ctx, "gold/big.parquet"); err != nil {
		t.Fatal(err)
	}
	if objs := mustList(t, s, "gold/"); len(objs) != 0 {
		t.Fatalf("after Delete: %+v", objs)
	}
}

func TestOpenS3Store_MissingBucket(t *testing.T) {
	client := emulator.S3(t)
	bucket := emulator.Name(t, "lake")
	_, err := openS3Store(context.Background(), client, bucket, "")
	if err == nil || !strings.HasPrefix(err.Error(), `lake bucket "`+bucket+`" is not reachable (does it exist, may we use it?): `) {
		t.Fatalf("openS3Store = %v", err)
	}
}
