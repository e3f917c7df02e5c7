package deploytest

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The image's binary: built as the Dockerfile builds it, it must need no
// dynamic loader or shared library (distroless/static has none), and carry
// the version and commit it was stamped with.
func TestImageBinary_StaticAndStamped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("the image binary is a linux binary; run this test on linux (GOOS=%s)", runtime.GOOS)
	}
	bin := filepath.Join(t.TempDir(), "weatherd")
	ldflags := strings.NewReplacer("${VERSION}", "9.8.7-deploytest", "${COMMIT}", "0123abcd").Replace(imageLDFlags)
	MustRun(t, []string{"CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=readonly"},
		"go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/weatherd")

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("DT_NEEDED %q (%v), want none", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: -s -w should strip it")
	}

	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	if want := "weatherd 9.8.7-deploytest (commit 0123abcd, " + runtime.Version(); !strings.HasPrefix(string(out), want) {
		t.Errorf("version printed %q, want it to start with %q", out, want)
	}
}
