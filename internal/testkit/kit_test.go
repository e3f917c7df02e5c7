package testkit

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinary()
	os.Exit(code)
}

func TestFreePort(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := freeAddr(t)
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("freeAddr = %q, want 127.0.0.1:port", addr)
		}
		if seen[addr] {
			t.Fatalf("freeAddr returned %s twice", addr)
		}
		seen[addr] = true
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on freeAddr's %s: %v", addr, err)
		}
		ln.Close()
	}
	port := FreePort(t)
	if !regexp.MustCompile(`^[1-9][0-9]{0,4}$`).MatchString(port) || seen["127.0.0.1:"+port] {
		t.Errorf("FreePort = %q, want a port number not handed out before", port)
	}
}

func TestGetAndReady(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready.Load() {
			http.Error(w, "not ready\nlake: s3 unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ready\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	if code, body, err := Get(addr, "/readyz"); code != 503 || body != "not ready\nlake: s3 unreachable\n" || err != nil {
		t.Errorf("Get = %d %q %v", code, body, err)
	}
	if ok, state := Ready(addr); ok || state != `/readyz: HTTP 503: "not ready\nlake: s3 unreachable\n"` {
		t.Errorf("Ready = %v %q", ok, state)
	}
	ready.Store(true)
	if ok, state := Ready(srv.URL); !ok || state != "/readyz: 200" {
		t.Errorf("Ready = %v %q", ok, state)
	}
	if code, _, err := Get(srv.URL, "/other"); code != 404 || err != nil {
		t.Errorf("Get /other = %d %v", code, err)
	}
	closed := freeAddr(t)
	if code, _, err := Get(closed, "/readyz"); code != 0 || err == nil {
		t.Errorf("Get of a closed port = %d %v, want 0 and an error", code, err)
	}
	if ok, state := Ready(closed); ok || !strings.HasPrefix(state, "/readyz: Get ") || !strings.Contains(state, "connection refused") {
		t.Errorf("Ready of a closed port = %v %q", ok, state)
	}
}

// fatalTB records a Fatal and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fatalTB in a goroutine of its own and returns the
// Fatal message, "" when fn returned.
func run(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() { fn(f) })
	wg.Wait()
	return f.msg
}

func TestWaitFor(t *testing.T) {
	calls := 0
	msg := run(t, func(tb testing.TB) {
		WaitFor(tb, "a true condition", 0, 0, func() (bool, string) { calls++; return calls == 1, "" })
	})
	if msg != "" || calls != 1 {
		t.Errorf("a condition true at once: %d calls, fatal %q", calls, msg)
	}
	calls = 0
	msg = run(t, func(tb testing.TB) {
		WaitFor(tb, "the count", 0, 0, func() (bool, string) { calls++; return false, fmt.Sprintf("count %d", calls) })
	})
	if msg != "the count: not reached within 0s (last: count 1)" || calls != 1 {
		t.Errorf("a condition never true: %d calls, fatal %q", calls, msg)
	}
	msg = run(t, func(tb testing.TB) {
		WaitFor(tb, "nothing", 0, 0, func() (bool, string) { return false, "" })
	})
	if msg != "nothing: not reached within 0s" {
		t.Errorf("no state: fatal %q", msg)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 || len(b.String()) != 1600 {
		t.Errorf("%d lines, %d bytes; want 800 and 1600", n, len(b.String()))
	}
}

func TestRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if root := Root(t); root != filepath.Dir(filepath.Dir(wd)) {
		t.Errorf("Root = %s, want %s", root, filepath.Dir(filepath.Dir(wd)))
	}
}

// TestBinary builds weatherd, runs it, and removes it. It is the only test
// here that calls Binary: RemoveBinary ends the process's binary.
func TestBinary(t *testing.T) {
	bin := Binary(t)
	if again := Binary(t); again != bin {
		t.Errorf("second Binary = %s, want the first's %s", again, bin)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "weatherd dev (commit unknown, go") {
		t.Errorf("%s version: %v %q", bin, err, out)
	}
	RemoveBinary()
	if _, err := os.Stat(filepath.Dir(bin)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after RemoveBinary, stat %s: %v; want it gone", filepath.Dir(bin), err)
	}
}

func TestListenAddr(t *testing.T) {
	log := "time=2026-12-02T20:00:00Z level=INFO msg=\"config loaded\" component=daemon\n" +
		"time=2026-12-02T20:00:00Z level=INFO msg=listening component=http addr=127.0.0.1:40123\n"
	if got := ListenAddr(log); got != "127.0.0.1:40123" {
		t.Errorf("ListenAddr = %q, want 127.0.0.1:40123", got)
	}
	if got := ListenAddr("level=INFO msg=starting\n"); got != "" {
		t.Errorf("ListenAddr before the line = %q, want empty", got)
	}
}
