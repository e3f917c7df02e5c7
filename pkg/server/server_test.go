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
	var ready atomic.Bool
	s, err := New("127.0.0.1:0", reg, ready.Load, slog.Default())
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
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Errorf("/readyz while starting = %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
	code, body := get(t, base+"/metrics")
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
	s, err := New("127.0.0.1:0", NewRegistry(), func() bool { return true }, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = New(s.Addr(), NewRegistry(), func() bool { return true }, slog.Default())
	if err == nil || !strings.HasPrefix(err.Error(), "http.listen "+s.Addr()+": ") {
		t.Errorf("err = %v", err)
	}
}
