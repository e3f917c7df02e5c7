package lake

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

// Config is the lake section of the configuration.
type Config struct {
	URL   string      `mapstructure:"url"`
	Flush FlushConfig `mapstructure:"flush"`
}

// FlushConfig sets when buffered readings are written.
type FlushConfig struct {
	MaxAge   time.Duration `mapstructure:"max_age"`
	MaxBytes int64         `mapstructure:"max_bytes"`
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
}
