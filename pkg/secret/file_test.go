package secret

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got, err := ReadFile(write("key", "  k3y value\r\n")); err != nil || got.Reveal() != "k3y value" {
		t.Fatalf("got %q, %v; want the key without surrounding white space", got.Reveal(), err)
	}
	for _, content := range []string{"", "\n", " \t\r\n"} {
		if got, err := ReadFile(write("blank", content)); !errors.Is(err, ErrEmptyFile) || !got.IsZero() {
			t.Errorf("%q: got %q, %v; want ErrEmptyFile", content, got.Reveal(), err)
		}
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ReadFile(missing); !errors.Is(err, fs.ErrNotExist) || err.Error() != "open "+missing+": no such file or directory" {
		t.Errorf("missing file: got %v", err)
	}
}
