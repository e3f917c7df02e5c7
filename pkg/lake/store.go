package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weatherd/weatherd/pkg/fsync"
)

// Store holds lake objects under keys relative to the lake root
// (raw/year=.../name.json.gz). Put is atomic: readers see the whole old
// object or the whole new one, never a part.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String says where the store is, for logs (no credentials).
	String() string
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// OpenStore returns the store loc (a parsed lake.url) names: a directory for file:// URLs
// (s3 may be nil) or a bucket and prefix for s3:// URLs, whose bucket it
// checks is reachable.
func OpenStore(ctx context.Context, loc Location, s3 S3API) (Store, error) {
	switch loc.Scheme {
	case "file":
		return openFileStore(loc.Dir)
	case "s3":
		if s3 == nil {
			return nil, fmt.Errorf("lake.url %q is an s3 URL but no S3 client was given", loc)
		}
		return openS3Store(ctx, s3, loc.Bucket, loc.Prefix)
	}
	return nil, fmt.Errorf("lake.url %q: unsupported scheme %q", loc, loc.Scheme)
}

// fileStore keeps objects as files under a directory. Put writes a temporary
// file in the target directory, fsyncs it, renames it over the key and
// fsyncs the directory, so a crash leaves the old object or the new one.
// Objects get mode 0666 and directories 0777, less the process umask
// (0644 and 0755 under the usual 022).
type fileStore struct {
	dir  string
	dirs sync.Map // directories known to exist
}

// openFileStore creates dir if needed and returns a store rooted there.
func openFileStore(dir string) (*fileStore, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("create lake directory: %w", err)
	}
	return &fileStore{dir: dir}, nil
}

func (s *fileStore) String() string { return "file://" + filepath.ToSlash(s.dir) }

func (s *fileStore) path(key string) (string, error) {
	clean := path.Clean(key)
	if key == "" || clean != key || strings.HasPrefix(clean, "../") || clean == ".." || path.IsAbs(clean) {
		return "", fmt.Errorf("bad object key %q", key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(clean)), nil
}

// Put implements Store.
func (s *fileStore) Put(ctx context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if _, ok := s.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		s.dirs.Store(dir, struct{}{})
	}
	f, err := createTemp(dir, ".tmp-"+filepath.Base(p)+"-")
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed the directory since we made it.
		if err = os.MkdirAll(dir, 0o777); err == nil {
			f, err = createTemp(dir, ".tmp-"+filepath.Base(p)+"-")
		}
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %s: fsync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	ok = true
	if err := fsync.Dir(dir); err != nil {
		return fmt.Errorf("put %s: fsync directory: %w", key, err)
	}
	return nil
}

// createTemp creates a new file named prefix and a random suffix in dir,
// like os.CreateTemp but with mode 0666 less the umask (0644 under the
// usual 022) instead of 0600: a lake is written to be read by others, e.g.
// DuckDB on the host reading what a container's user wrote.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create a temporary file in %s: too many names taken", dir)
}

// Get implements Store.
func (s *fileStore) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// List implements Store; temporary files of unfinished Puts are skipped.
func (s *fileStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	// Walk the deepest directory the prefix names, then filter by prefix.
	base := prefix
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[:i]
	} else {
		base = ""
	}
	root := filepath.Join(s.dir, filepath.FromSlash(base))
	var out []ObjectInfo
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()})
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (s *fileStore) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
