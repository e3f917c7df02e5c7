package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/bootstrap"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/spool"
)

// instance is one daemon running in-process.
type instance struct {
	name   string
	base   string
	cancel context.CancelFunc
	done   chan error
}

// metric reads one sample (name with its labels, as exposed) from /metrics;
// it returns -1 when the series is absent.
func (in *instance) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(in.base + "/metrics")
	if err != nil {
		t.Fatalf("%s: %v", in.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", in.name, sc.Text(), err)
			}
			return f
		}
	}
	return -1
}

func (in *instance) status(path string) int {
	resp, err := http.Get(in.base + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stop cancels the daemon and waits for a clean stop.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("%s stopped with %v", in.name, err)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("%s did not stop within 40s", in.name)
	}
}

func start(t *testing.T, name string, cfg *config.Config) *instance {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("instance", name)
	return startWith(t, name, cfg, log)
}

// startWith builds and runs a daemon logging to log; it is stopped when the
// test ends.
func startWith(t *testing.T, name string, cfg *config.Config, log *slog.Logger) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	in := &instance{name: name, base: "http://" + d.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- d.Run(ctx) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

const ticks = "weatherd_poll_ticks_total"

// TestDaemon_OnePollerAmongReplicas runs two daemons on one stream, lease
// table and leader table: only the leader polls, the follower is ready too,
// and when the leader stops the follower starts polling within seconds.
func TestDaemon_OnePollerAmongReplicas(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	base, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	base.AWS = emulator.AWS(t)
	base.HTTP.Listen = "127.0.0.1:0"
	base.Stream.Driver = "kinesis"
	base.Stream.Kinesis.Name = emulator.Name(t, "readings")
	base.Stream.Kinesis.Shards = 1
	base.Consumer.ApplicationName = emulator.Name(t, "leases")
	base.Poller.Provider = "simulated"
	base.Poller.Schedule = "@every 1s"
	base.Poller.Leader.Enabled = true
	base.Poller.Leader.Table = emulator.Name(t, "leader")
	base.Poller.Leader.LeaseDuration = 3 * time.Second
	base.Poller.Leader.RenewInterval = 500 * time.Millisecond
	base.Poller.Spread = 2 * time.Second // the forecast fetched at start, within 2 s
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bootstrap.Run(ctx, base, io.Discard, slog.Default()); err != nil {
		t.Fatal(err)
	}
	replica := func(id string) *config.Config {
		c := *base
		c.Consumer.WorkerID = id
		c.Lake.URL = "file://" + t.TempDir()
		c.Stream.Kinesis.SpoolDir = t.TempDir() // one per instance: it is locked
		return &c
	}
	a := start(t, "replica-a", replica("replica-a"))
	b := start(t, "replica-b", replica("replica-b"))

	waitUntil(t, "a poller leader", 20*time.Second, func() bool {
		return a.metric(t, "weatherd_poller_leader") == 1 || b.metric(t, "weatherd_poller_leader") == 1
	})
	lead, follow := a, b
	if b.metric(t, "weatherd_poller_leader") == 1 {
		lead, follow = b, a
	}
	waitUntil(t, "both ready", 20*time.Second, func() bool { return lead.status("/readyz") == 200 && follow.status("/readyz") == 200 })
	before := lead.metric(t, ticks)
	time.Sleep(3 * time.Second)
	if got := lead.metric(t, ticks); got < before+2 {
		t.Errorf("%s (leader) ticked %v times in 3s, want at least 2", lead.name, got-before)
	}
	if got := follow.metric(t, ticks); got != 0 {
		t.Errorf("%s (follower) ticked %v times, want 0", follow.name, got)
	}
	if got := follow.metric(t, `weatherd_poll_requests_total{outcome="ok",provider="simulated"}`); got > 0 {
		t.Errorf("%s (follower) made %v weather API calls, want none", follow.name, got)
	}
	if lead.metric(t, "weatherd_poller_leader") != 1 || follow.metric(t, "weatherd_poller_leader") != 0 {
		t.Error("weatherd_poller_leader: want 1 on the leader and 0 on the follower")
	}
	// Forecasts too: the leader fetches one per location at its start, the
	// follower none.
	waitUntil(t, "the leader's forecasts", 15*time.Second, func() bool { return lead.metric(t, forecasts) == 5 })
	if got := follow.metric(t, forecasts); got > 0 {
		t.Errorf("%s (follower) fetched %v forecasts, want none", follow.name, got)
	}
	for _, c := range []string{"poller", "producer", "consumer", "alerts", "lake", "http"} {
		series := `weatherd_component_ready{component="` + c + `"}`
		if lv, fv := lead.metric(t, series), follow.metric(t, series); lv != 1 || fv != 1 {
			t.Errorf("%s: %v on the leader, %v on the follower; want 1 on both", series, lv, fv)
		}
	}

	stopAt := time.Now()
	lead.stop(t)
	stopped := time.Since(stopAt)
	took := waitUntil(t, "the follower polling", 15*time.Second, func() bool { return follow.metric(t, ticks) > 0 })
	t.Logf("leader stopped in %s; the follower's first tick %s after the stop began", stopped.Round(time.Millisecond), (stopped + took).Round(time.Millisecond))
	if follow.metric(t, "weatherd_poller_leader") != 1 || follow.metric(t, `weatherd_poller_leader_transitions_total{event="acquired"}`) != 1 {
		t.Error("the follower does not report holding the leadership")
	}
	if follow.status("/readyz") != 200 {
		t.Error("the new leader is not ready")
	}
	waitUntil(t, "the new leader's forecasts", 15*time.Second, func() bool { return follow.metric(t, forecasts) == 5 })
}

// forecasts is the series of the simulated provider's forecasts fetched.
const forecasts = `weatherd_forecast_requests_total{outcome="ok",provider="simulated"}`

// TestDaemon_Spool: a spool directory another process holds fails the start
// with an error naming it, and a start that fails after opening the spool
// releases it.
func TestDaemon_Spool(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWS = emulator.AWS(t)
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Lake.URL = "file://" + t.TempDir()
	cfg.Stream.Driver = "kinesis"
	cfg.Stream.Kinesis.Name = emulator.Name(t, "readings")
	cfg.Stream.Kinesis.SpoolDir = filepath.Join(t.TempDir(), "spool")
	ctx := context.Background()

	held, _, err := spool.Open(cfg.Stream.Kinesis.SpoolDir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, cfg, slog.New(slog.DiscardHandler))
	want := fmt.Sprintf("stream.kinesis.spool_dir: spool is locked by another process: %s is in use (pid %d); two weatherd processes cannot share a spool directory", cfg.Stream.Kinesis.SpoolDir, os.Getpid())
	if err == nil || err.Error() != want {
		t.Fatalf("New with the spool held: %v\nwant %s", err, want)
	}
	held.Close()

	// The poller fails to build after the spool was opened: New releases it.
	cfg.Poller.Provider = "no-such-provider"
	if _, err := New(ctx, cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.HasPrefix(err.Error(), "poller: ") {
		t.Fatalf("New with a bad provider: %v", err)
	}
	again, _, err := spool.Open(cfg.Stream.Kinesis.SpoolDir, spool.Options{})
	if err != nil {
		t.Fatalf("the failed New left the spool locked: %v", err)
	}
	again.Close()

	// A consumer-only instance has no spool.
	cfg.Poller.Enabled = false
	cfg.Stream.Kinesis.SpoolDir = filepath.Join(t.TempDir(), "unused")
	d, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if d.spool != nil {
		t.Error("a consumer-only instance opened a spool")
	}
	if _, err := os.Stat(cfg.Stream.Kinesis.SpoolDir); !os.IsNotExist(err) {
		t.Errorf("a consumer-only instance created %s: %v", cfg.Stream.Kinesis.SpoolDir, err)
	}
	d.server.Close()
}
