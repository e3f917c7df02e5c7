package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "weatherd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain(t, "version")
	if code != 0 || !regexp.MustCompile(`^weatherd dev \(commit unknown, go1\.\d+.* linux/amd64\)\n$`).MatchString(out) {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"validate", "--nope"}, {"validate", "extra"}} {
		code, _, errOut := runMain(t, args...)
		if code != 2 || !strings.Contains(errOut, "usage: weatherd") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestValidate_EmbeddedDefault(t *testing.T) {
	code, out, errOut := runMain(t, "validate", "--config", filepath.Join("..", "..", "config.yaml"))
	if code != 0 || out != "config OK\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestValidate_BadInputs: each bad input exits 2 with one line naming its key.
func TestValidate_BadInputs(t *testing.T) {
	cases := []struct{ name, yaml, line string }{
		{"BadCron", "poller:\n  schedule: \"every 5 minutes\"\n", `poller.schedule: bad cron spec "every 5 minutes": `},
		{"UnknownKey", "alerts:\n  channel:\n    x: {type: log}\n", "alerts.channel: unknown key"},
		{"DuplicateLocation", "locations:\n  - {id: a, name: A, lat: 1, lon: 2}\n  - {id: a, name: B, lat: 3, lon: 4}\n", `locations[1].id: duplicate id "a" (also locations[0])`},
		{"MalformedLakeURL", "lake:\n  url: \"s3://\"\n", `lake.url: s3 URL "s3://" has no bucket`},
		{"MissingAPIKey", "poller:\n  provider: tomorrowio\n  tomorrowio:\n    api_key: \"\"\n", `poller.tomorrowio.api_key: required when poller.provider is "tomorrowio"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMain(t, "validate", "--config", writeConfig(t, tc.yaml))
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.line) {
				t.Errorf("stderr lines %q, want one starting with %q", lines, tc.line)
			}
		})
	}
	t.Run("AllAtOnce", func(t *testing.T) {
		var all strings.Builder
		all.WriteString("poller:\n  schedule: \"every 5 minutes\"\n  provider: tomorrowio\n  tomorrowio:\n    api_key: \"\"\n")
		all.WriteString("locations:\n  - {id: a, name: A, lat: 1, lon: 2}\n  - {id: a, name: B, lat: 3, lon: 4}\n")
		all.WriteString("lake:\n  url: \"s3://\"\n")
		code, _, errOut := runMain(t, "validate", "--config", writeConfig(t, all.String()))
		if n := len(strings.Split(strings.TrimSpace(errOut), "\n")); code != 2 || n != 4 {
			t.Errorf("exit %d with %d lines, want 2 with 4:\n%s", code, n, errOut)
		}
	})
	t.Run("RunRefusesToo", func(t *testing.T) {
		code, _, errOut := runMain(t, "run", "--config", writeConfig(t, "lake:\n  url: \"s3://\"\n"))
		if code != 2 || !strings.Contains(errOut, "lake.url: ") {
			t.Errorf("run: exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("MissingFile", func(t *testing.T) {
		code, _, errOut := runMain(t, "validate", "--config", "/nonexistent/weatherd.yaml")
		if code != 2 || !strings.Contains(errOut, "/nonexistent/weatherd.yaml") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// buildBinary builds weatherd once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "weatherd-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "weatherd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metric reads the value of one series from /metrics.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, series+" "), 64)
			return v
		}
	}
	return 0
}

func status(base, path string) int {
	resp, err := http.Get(base + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun_EmbeddedDefault runs the real binary on the embedded default, in a
// fresh directory with no AWS and no API key: readings flow, metrics move,
// alerts fire and resolve, the lake fills, and SIGTERM stops it cleanly.
func TestRun_EmbeddedDefault(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"WEATHERD_HTTP_LISTEN="+addr,
		"WEATHERD_POLLER_SCHEDULE=@every 1s",
		"WEATHERD_POLLER_SIMULATED_FRONT_EVERY=20s",
		"WEATHERD_POLLER_SIMULATED_FRONT_DURATION=8s",
		"WEATHERD_LAKE_FLUSH_MAX_AGE=2s",
		"TOMORROW_API_KEY=",
	)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("weatherd output:\n%s", logs.String())
		}
	}()
	base := "http://" + addr

	waitFor(t, "/readyz 200", 15*time.Second, func() bool { return status(base, "/readyz") == 200 })
	if status(base, "/healthz") != 200 {
		t.Error("/healthz not 200")
	}
	waitFor(t, "readings produced and consumed", 20*time.Second, func() bool {
		return metric(t, base, "weatherd_readings_produced_total") >= 10 && metric(t, base, "weatherd_consumer_records_total") >= 10
	})
	if n := metric(t, base, `weatherd_poll_requests_total{outcome="ok",provider="simulated"}`); n < 10 {
		t.Errorf("poll ok = %v", n)
	}
	waitFor(t, "a lake flush", 20*time.Second, func() bool {
		return metric(t, base, `weatherd_lake_objects_written_total{kind="gold"}`) >= 1
	})
	waitFor(t, "an alert firing and resolving", 40*time.Second, func() bool {
		return metric(t, base, `weatherd_alert_transitions_total{rule="strong-wind",state="firing"}`) >= 1 &&
			metric(t, base, `weatherd_alert_transitions_total{rule="strong-wind",state="resolved"}`) >= 1
	})
	if !strings.Contains(logs.String(), "msg=poll ") {
		t.Error("no poll log line")
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("did not stop within shutdown_timeout")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	for _, kind := range []string{"raw", "gold"} {
		matches, _ := filepath.Glob(filepath.Join(dir, "lake", kind, "year=*", "month=*", "day=*", "hour=*", "*"))
		if len(matches) == 0 {
			t.Errorf("no %s objects under ./lake", kind)
		}
	}
	if !strings.Contains(logs.String(), "weatherd stopped cleanly") {
		t.Error("no clean-stop log line")
	}
}

var _ = io.Discard
