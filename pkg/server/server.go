// Package server serves weatherd's HTTP endpoints: /metrics, /healthz and
// /readyz, and the handlers other packages add (the operator API).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weatherd/weatherd/pkg/lifecycle"
)

// NewRegistry returns a registry with the Go and process collectors, the one
// every component of the process registers on.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server is the HTTP endpoint of one weatherd process.
type Server struct {
	ln  net.Listener
	srv *http.Server
	mux *http.ServeMux
	log *slog.Logger
}

// ShutdownTimeout bounds how long Run lets requests in flight finish once
// it is stopped (and no longer than the shutdown budget has left).
const ShutdownTimeout = 5 * time.Second

// maxReason bounds each line of the /readyz body: SDK errors can be long.
const maxReason = 300

// New listens on addr now, so a busy port is a start-up error, and serves
// once Run is called. notReady decides /readyz: 200 "ready" when it returns
// nothing, else 503 "not ready" followed by its lines (why, per component).
// /healthz answers 200 while the process serves, whatever the dependencies
// do: a restart would not bring S3 back.
func New(addr string, gatherer prometheus.Gatherer, notReady func() []string, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := notReady(); len(why) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			for _, line := range why {
				fmt.Fprintln(w, shorten(line))
			}
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return &Server{
		ln:  ln,
		mux: mux,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
		},
		log: log.With("component", "http"),
	}, nil
}

// shorten keeps one line of at most maxReason bytes (cut on a rune boundary).
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Handle serves pattern (http.ServeMux syntax) with h, beside the
// operational endpoints: the operator API and the status page. Call it
// before Run.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends, then shuts down, letting requests in flight finish.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("listening", "addr", s.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := lifecycle.StopContext(ctx, ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Close releases the listener of a server that was never run.
func (s *Server) Close() error { return s.ln.Close() }
