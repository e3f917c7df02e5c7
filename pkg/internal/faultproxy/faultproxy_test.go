package faultproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func get(t *testing.T, url string, timeout time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh transport per request: no connection reuse across the faults.
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestProxy_Faults(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "pong "+r.URL.Path)
	}))
	defer srv.Close()
	p := Start(t, srv.URL)

	t.Run("Forward", func(t *testing.T) {
		body, err := get(t, p.URL()+"/a", 5*time.Second)
		if err != nil || body != "pong /a" {
			t.Fatalf("through the proxy: %q, %v; want %q", body, err, "pong /a")
		}
	})
	t.Run("BlackHole", func(t *testing.T) {
		p.BlackHole()
		before := p.Accepted()
		_, err := get(t, p.URL()+"/b", 300*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("black-holed request: err = %v, want the caller's deadline", err)
		}
		if got := p.Accepted(); got != before+1 {
			t.Fatalf("accepted %d connections, want %d: the connection must be taken and left silent", got, before+1)
		}
	})
	t.Run("Restore", func(t *testing.T) {
		p.Restore()
		body, err := get(t, p.URL()+"/c", 5*time.Second)
		if err != nil || body != "pong /c" {
			t.Fatalf("after Restore: %q, %v; want %q", body, err, "pong /c")
		}
	})
	t.Run("Latency", func(t *testing.T) {
		p.SetLatency(200 * time.Millisecond)
		start := time.Now()
		body, err := get(t, p.URL()+"/d", 10*time.Second)
		if err != nil || body != "pong /d" {
			t.Fatalf("with latency: %q, %v", body, err)
		}
		// Request and response are each delayed at least once.
		if d := time.Since(start); d < 400*time.Millisecond {
			t.Fatalf("round trip took %v, want at least the 2×200ms added", d)
		}
		p.SetLatency(0)
	})
}

func TestProxy_BlackHoleOpenConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	p := Start(t, srv.URL)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	do := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL(), nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	}
	if err := do(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	p.BlackHole() // the kept-alive connection goes silent too
	if err := do(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request on a kept-alive connection after BlackHole: err = %v, want the deadline", err)
	}
	if got := p.Accepted(); got != 1 {
		t.Fatalf("accepted %d connections, want 1 (the kept-alive one reused)", got)
	}
	p.Restore()
	if err := do(5 * time.Second); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
