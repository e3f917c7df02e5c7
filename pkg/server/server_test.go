package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer_Endpoints(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "weatherd_test_things_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	var why atomic.Value
	why.Store([]string{"starting"})
	s, err := New("127.0.0.1:0", reg, func() []string { return why.Load().([]string) }, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr()

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || body != "not ready\nstarting\n" {
		t.Errorf("/readyz while starting = %d %q, want 503", code, body)
	}
	long := "lake: failing for 12s: flush lake shard shardId-000000000001: put raw/year=2026/month=11/day=27/hour=03/x.json.gz: " +
		strings.Repeat("operation error S3: PutObject, exceeded maximum number of attempts, 3, ", 5) + "\n dial tcp: connection refused"
	why.Store([]string{"producer: failing for 11s: put records: connection refused", long})
	code, body := get(t, base+"/readyz")
	lines := strings.Split(body, "\n")
	if code != 503 || len(lines) != 4 || lines[0] != "not ready" || lines[1] != "producer: failing for 11s: put records: connection refused" || lines[3] != "" {
		t.Errorf("/readyz during an outage = %d %q", code, body)
	}
	if want := strings.Join(strings.Fields(long), " ")[:maxReason] + "…"; lines[2] != want {
		t.Errorf("long reason = %q, want %q", lines[2], want)
	}
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz during an outage = %d %q", code, body)
	}
	why.Store([]string(nil))
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz when ready = %d %q, want 200", code, body)
	}
	code, body = get(t, base+"/metrics")
	for _, want := range []string{"weatherd_test_things_total 3", "go_goroutines", "process_"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after Run returned")
	}
}

func TestNew_PortInUse(t *testing.T) {
	s, err := New("127.0.0.1:0", NewRegistry(), func() []string { return nil }, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = New(s.Addr(), NewRegistry(), func() []string { return nil }, slog.Default())
	if err == nil || !strings.HasPrefix(err.Error(), "http.listen "+s.Addr()+": ") {
		t.Errorf("err = %v", err)
	}
}
