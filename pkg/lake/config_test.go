package lake

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw, want, err string
	}{
		{raw: "file:///var/lib/weatherd/lake", want: "file /var/lib/weatherd/lake  "},
		{raw: "file://./lake", want: "file lake  "},
		{raw: "s3://my-bucket/weatherd/", want: "s3  my-bucket weatherd"},
		{raw: "s3://my-bucket", want: "s3  my-bucket "},
		{raw: "s3:///x", err: `s3 URL "s3:///x" has no bucket`},
		{raw: "gs://b/x", err: `URL "gs://b/x" has scheme "gs": want file or s3`},
		{raw: "/tmp/lake", err: `URL "/tmp/lake" has no scheme: want file:// or s3://`},
	} {
		loc, err := ParseURL(tc.raw)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseURL(%q) error = %v, want %s", tc.raw, err, tc.err)
			}
			continue
		}
		if got := strings.Join([]string{loc.Scheme, loc.Dir, loc.Bucket, loc.Prefix}, " "); err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	good := testConfig("/tmp/x")
	var ps check.Problems
	good.Validate("lake", &ps)
	if err := ps.Err(); err != nil {
		t.Fatalf("good config: %v", err)
	}

	bad := Config{
		URL:              "ftp://x",
		Flush:            FlushConfig{MaxAge: 0, MaxBytes: 100, MaxRecords: 0},
		MaxBufferedBytes: 10,
		Parquet:          ParquetConfig{Compression: "lz4", RowGroupRows: 0},
		Compaction:       CompactionConfig{Enabled: true, Schedule: "every hour", MinAge: time.Minute, Lookback: time.Minute},
	}
	ps = check.Problems{}
	bad.Validate("lake", &ps)
	want := `lake.url: URL "ftp://x" has scheme "ftp": want file or s3
lake.flush.max_age: got 0s, want a positive duration
lake.flush.max_records: got 0, want a positive number of records
lake.max_buffered_bytes: got 10, want at least flush.max_bytes (100)
lake.parquet.compression: got "lz4", want snappy or zstd
lake.parquet.row_group_rows: got 0, want a positive number of rows
lake.compaction.schedule: bad cron spec "every hour": expected exactly 5 fields, found 2: [every hour]
lake.compaction.min_age: got 1m0s, want at least 1h
lake.compaction.lookback: got 1m0s, want more than compaction.min_age (1m0s)
lake.compaction.max_input_bytes: got 0, want a positive size in bytes`
	if err := ps.Err(); err == nil || err.Error() != want {
		t.Fatalf("problems:\n%v\nwant:\n%s", err, want)
	}
}

func TestOpenStore(t *testing.T) {
	ctx := t.Context()
	if _, err := OpenStore(ctx, mustLocation(t, "s3://b/p"), nil); err == nil || err.Error() != `lake.url "s3://b/p" is an s3 URL but no S3 client was given` {
		t.Fatalf("s3 without client: %v", err)
	}
	dir := t.TempDir() + "/lake"
	s, err := OpenStore(ctx, mustLocation(t, "file://"+dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "file://"+dir {
		t.Fatalf("store = %s", s)
	}
}

func TestFileStore(t *testing.T) {
	ctx := t.Context()
	s, _ := MustFileStore(t)
	if err := s.Put(ctx, "raw/year=2026/a.json.gz", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "raw/year=2026/a.json.gz", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "gold/b.parquet", []byte("three")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "/abs", "a//b", ""} {
		if err := s.Put(ctx, key, nil); err == nil || err.Error() != "bad object key \""+key+"\"" {
			t.Errorf("Put(%q) = %v", key, err)
		}
	}
	b, err := s.Get(ctx, "raw/year=2026/a.json.gz")
	if err != nil || string(b) != "two" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	// No temporary files are left behind, and List sees only whole objects.
	if got := strings.Join(listKeys(t, s, ""), ","); got != "gold/b.parquet,raw/year=2026/a.json.gz" {
		t.Fatalf("List = %s", got)
	}
	if got := strings.Join(listKeys(t, s, "raw/year=20"), ","); got != "raw/year=2026/a.json.gz" {
		t.Fatalf("List(prefix) = %s", got)
	}
	if err := s.Delete(ctx, "gold/b.parquet"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "gold/b.parquet"); err != nil {
		t.Fatalf("second Delete = %v", err)
	}
	if got := listKeys(t, s, "gold/"); len(got) != 0 {
		t.Fatalf("after Delete: %v", got)
	}
}

// TestFileStore_ModesFollowTheUmask: lake objects are readable by others
// (0644 under the usual umask 022), not 0600 as os.CreateTemp makes them,
// and a stricter umask is honoured.
func TestFileStore_ModesFollowTheUmask(t *testing.T) {
	for _, tc := range []struct {
		umask      int
		file, dirs fs.FileMode
	}{{0o022, 0o644, 0o755}, {0o077, 0o600, 0o700}, {0o002, 0o664, 0o775}} {
		t.Run(fmt.Sprintf("%03o", tc.umask), func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			s, dir := MustFileStore(t)
			key := "gold/year=2026/month=11/b.parquet"
			if err := s.Put(t.Context(), key, []byte("x")); err != nil {
				t.Fatal(err)
			}
			for p, want := range map[string]fs.FileMode{key: tc.file, "gold/year=2026": tc.dirs, "gold/year=2026/month=11": tc.dirs} {
				info, err := os.Stat(filepath.Join(dir, p))
				if err != nil {
					t.Fatal(err)
				}
				if got := info.Mode().Perm(); got != want {
					t.Errorf("%s: mode %04o, want %04o", p, got, want)
				}
			}
		})
	}
}
