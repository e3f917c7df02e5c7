package lake

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/pkg/check"
)

// Config is the lake section of the configuration.
type Config struct {
	URL   string      `mapstructure:"url"`
	Flush FlushConfig `mapstructure:"flush"`
	// MaxBufferedBytes bounds the bytes buffered by all shards together
	// (record bytes plus an estimate of their buffered rows); past it
	// ShardWriter.Add blocks until a flush frees budget.
	MaxBufferedBytes int64            `mapstructure:"max_buffered_bytes"`
	Parquet          ParquetConfig    `mapstructure:"parquet"`
	Compaction       CompactionConfig `mapstructure:"compaction"`
}

// FlushConfig sets when a shard's buffered records are written. Whichever
// trigger fires first writes every partition the shard buffers.
type FlushConfig struct {
	MaxAge     time.Duration `mapstructure:"max_age"`
	MaxBytes   int64         `mapstructure:"max_bytes"`
	MaxRecords int           `mapstructure:"max_records"`
}

// ParquetConfig shapes the gold Parquet files.
type ParquetConfig struct {
	Compression  string `mapstructure:"compression"` // snappy | zstd
	RowGroupRows int64  `mapstructure:"row_group_rows"`
}

// CompactionConfig sets the optional job that merges an hour partition's
// small Parquet files into one.
type CompactionConfig struct {
	Enabled  bool          `mapstructure:"enabled"`
	Schedule string        `mapstructure:"schedule"`
	MinAge   time.Duration `mapstructure:"min_age"`
	// Lookback is how far back a run looks for partitions to merge.
	Lookback time.Duration `mapstructure:"lookback"`
	// MaxInputBytes bounds the Parquet bytes merged into one output file.
	MaxInputBytes int64 `mapstructure:"max_input_bytes"`
}

// Location is a parsed lake.url.
type Location struct {
	Scheme string // "file" or "s3"
	// Dir is the directory for file URLs; relative paths are kept relative to
	// the working directory.
	Dir string
	// Bucket and Prefix are set for s3 URLs; Prefix has no leading or trailing slash.
	Bucket, Prefix string
}

// String is the location as a lake.url.
func (l Location) String() string {
	if l.Scheme == "s3" {
		return "s3://" + path.Join(l.Bucket, l.Prefix)
	}
	return l.Scheme + "://" + l.Dir
}

// S3 reports whether the lake is in S3.
func (l Location) S3() bool { return l.Scheme == "s3" }

// ParseURL parses file:///abs/dir, file://./rel/dir or s3://bucket/prefix.
func ParseURL(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("malformed URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "file":
		dir := u.Host + u.Path
		if u.Host != "" && u.Host != "." && u.Host != ".." {
			return Location{}, fmt.Errorf("file URL %q names host %q: use file:///abs/dir or file://./rel/dir", raw, u.Host)
		}
		if dir == "" {
			return Location{}, fmt.Errorf("file URL %q has no directory", raw)
		}
		return Location{Scheme: "file", Dir: filepath.Clean(dir)}, nil
	case "s3":
		if u.Host == "" {
			return Location{}, fmt.Errorf("s3 URL %q has no bucket", raw)
		}
		return Location{Scheme: "s3", Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
	case "":
		return Location{}, fmt.Errorf("URL %q has no scheme: want file:// or s3://", raw)
	default:
		return Location{}, fmt.Errorf("URL %q has scheme %q: want file or s3", raw, u.Scheme)
	}
}

// Validate reports every problem in the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	if _, err := ParseURL(c.URL); err != nil {
		ps.Add(check.Key(key, "url"), "%v", err)
	}
	if c.Flush.MaxAge <= 0 {
		ps.Add(check.Key(key, "flush.max_age"), "got %s, want a positive duration", c.Flush.MaxAge)
	}
	if c.Flush.MaxBytes <= 0 {
		ps.Add(check.Key(key, "flush.max_bytes"), "got %d, want a positive size in bytes", c.Flush.MaxBytes)
	}
	if c.Flush.MaxRecords <= 0 {
		ps.Add(check.Key(key, "flush.max_records"), "got %d, want a positive number of records", c.Flush.MaxRecords)
	}
	if c.MaxBufferedBytes < c.Flush.MaxBytes {
		ps.Add(check.Key(key, "max_buffered_bytes"), "got %d, want at least flush.max_bytes (%d)", c.MaxBufferedBytes, c.Flush.MaxBytes)
	}
	switch c.Parquet.Compression {
	case "snappy", "zstd":
	default:
		ps.Add(check.Key(key, "parquet.compression"), "got %q, want snappy or zstd", c.Parquet.Compression)
	}
	if c.Parquet.RowGroupRows <= 0 {
		ps.Add(check.Key(key, "parquet.row_group_rows"), "got %d, want a positive number of rows", c.Parquet.RowGroupRows)
	}
	if c.Compaction.Enabled {
		if _, err := cron.ParseStandard(c.Compaction.Schedule); err != nil {
			ps.Add(check.Key(key, "compaction.schedule"), "bad cron spec %q: %v", c.Compaction.Schedule, err)
		}
	}
	if c.Compaction.MinAge < time.Hour {
		// A younger object may still be overwritten by a crash replay; see compact.go.
		ps.Add(check.Key(key, "compaction.min_age"), "got %s, want at least 1h", c.Compaction.MinAge)
	}
	if c.Compaction.Lookback <= c.Compaction.MinAge {
		ps.Add(check.Key(key, "compaction.lookback"), "got %s, want more than compaction.min_age (%s)", c.Compaction.Lookback, c.Compaction.MinAge)
	}
	if c.Compaction.MaxInputBytes <= 0 {
		ps.Add(check.Key(key, "compaction.max_input_bytes"), "got %d, want a positive size in bytes", c.Compaction.MaxInputBytes)
	}
}
