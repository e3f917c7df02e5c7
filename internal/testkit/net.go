package testkit

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// handedOut is every port freeAddr returned in this process.
var (
	portsMu   sync.Mutex
	handedOut = map[string]bool{}
)

// freeAddr returns "127.0.0.1:port" for a loopback port that was free a
// moment ago: it listens on port 0 and closes the listener. It never returns
// the same port twice in one test process, so a test asking for several
// addresses gets distinct ones. Something else may still take the port
// before the caller binds it; that is rare on loopback and not retried.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("free loopback address: %v", err)
		}
		addr := ln.Addr().String()
		ln.Close()
		portsMu.Lock()
		seen := handedOut[addr]
		handedOut[addr] = true
		portsMu.Unlock()
		if !seen {
			return addr
		}
	}
	tb.Fatal("free loopback address: the kernel kept handing out ports this process already used")
	return ""
}

// FreePort is the number, as text, of a loopback port that was free a moment
// ago, distinct from every other one it returned in this process.
//
// Prefer not to use it: bind 127.0.0.1:0 and pass the listener along, or let
// the code under test bind 127.0.0.1:0 and read the address it got (weatherd
// logs it: see ListenAddr). FreePort is for programs that take only a port
// and cannot report the one they bound, such as the emulators.
func FreePort(tb testing.TB) string {
	tb.Helper()
	_, port, err := net.SplitHostPort(freeAddr(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// listening is the HTTP server's start-up line in weatherd's text log.
var listening = regexp.MustCompile(`msg=listening .*?\baddr=(\S+)`)

// ListenAddr is the host:port weatherd's HTTP server listens on, read from
// its text log, or "" while the log has no "listening" line yet. With
// http.listen 127.0.0.1:0 the kernel picks the port and this reads it back.
func ListenAddr(log string) string {
	if m := listening.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// client bounds every request, so a hung daemon fails the test's wait
// rather than hanging it.
var client = &http.Client{Timeout: 5 * time.Second}

// maxBody bounds what Get reads of a response.
const maxBody = 32 << 20

// URL returns the URL of path at addr, which is either "host:port" or a base
// URL ("http://host:port").
func URL(addr, path string) string {
	if strings.Contains(addr, "://") {
		return strings.TrimRight(addr, "/") + path
	}
	return "http://" + addr + path
}

// Get fetches path (e.g. "/readyz") from the HTTP endpoint at addr
// ("host:port" or a base URL) and returns the status code and the body. An
// unreachable endpoint is an error with code 0.
func Get(addr, path string) (int, string, error) {
	resp, err := client.Get(URL(addr, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, string(b), fmt.Errorf("read %s: %w", path, err)
	}
	return resp.StatusCode, string(b), nil
}

// Ready reports whether /readyz at addr answers 200 and, for a wait's
// failure message, what it answered instead.
func Ready(addr string) (bool, string) {
	code, body, err := Get(addr, "/readyz")
	switch {
	case err != nil:
		return false, "/readyz: " + err.Error()
	case code != http.StatusOK:
		return false, fmt.Sprintf("/readyz: HTTP %d: %q", code, body)
	}
	return true, "/readyz: 200"
}
