package fsync

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	if err := Dir(t.TempDir()); err != nil {
		t.Fatalf("existing directory: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	err := Dir(missing)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "open "+missing+": no such file or directory" {
		t.Fatalf("missing directory: got %v", err)
	}
}
