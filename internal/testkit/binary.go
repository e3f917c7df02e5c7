package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binDir is the directory Binary built into; RemoveBinary removes it.
var (
	binMu  sync.Mutex
	binDir string
)

// build compiles ./cmd/weatherd once per test process.
var build = sync.OnceValues(func() (string, error) {
	root, err := findRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "weatherd-testbin-")
	if err != nil {
		return "", fmt.Errorf("temp dir for the weatherd binary: %w", err)
	}
	binMu.Lock()
	binDir = dir
	binMu.Unlock()
	bin := filepath.Join(dir, "weatherd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/weatherd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/weatherd (in %s): %v\n%s", root, err, out)
	}
	return bin, nil
})

// Binary returns the path of a weatherd binary built from the module's
// ./cmd/weatherd with plain `go build`. The first call in a test process
// builds it (into a temporary directory that RemoveBinary deletes); later
// calls, from any goroutine, return the same path. A failed build fails tb
// with go build's output, in every test that asks.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := build()
	if err != nil {
		tb.Fatalf("building weatherd: %v", err)
	}
	return bin
}

// RemoveBinary deletes the binary Binary built, if it built one. Call it
// from TestMain after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testkit.RemoveBinary()
//		os.Exit(code)
//	}
func RemoveBinary() {
	binMu.Lock()
	defer binMu.Unlock()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
		binDir = ""
	}
}

// Root returns the module's root directory (the nearest directory holding
// go.mod at or above the test's working directory, which `go test` sets to
// the package's directory).
func Root(tb testing.TB) string {
	tb.Helper()
	root, err := findRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("module root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod at or above the working directory")
		}
		dir = parent
	}
}
