package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestHealth_GracePeriod(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	h := &Health{now: clk.now}
	if err := h.Err(); err != nil {
		t.Fatalf("new health: %v", err)
	}
	h.Fail(errors.New("put object: connection refused"))
	clk.advance(DefaultGrace)
	if err := h.Err(); err != nil {
		t.Fatalf("failing for exactly the grace period: %v", err)
	}
	h.Fail(errors.New("put object: timeout"))
	clk.advance(time.Second)
	err := h.Err()
	if err == nil || err.Error() != "failing for 11s: put object: timeout" {
		t.Fatalf("err = %v", err)
	}
	if h.Healthy() {
		t.Error("healthy while failing past the grace period")
	}
}

func TestHealth_SuccessRestartsTheClock(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	h := &Health{Grace: 5 * time.Second, now: clk.now}
	h.Fail(errors.New("boom"))
	clk.advance(6 * time.Second)
	if h.Healthy() {
		t.Fatal("healthy after 6s of failures with a 5s grace")
	}
	h.OK()
	if err := h.Err(); err != nil {
		t.Fatalf("after a success: %v", err)
	}
	// A new failure starts a new grace period.
	h.Fail(errors.New("boom again"))
	clk.advance(5 * time.Second)
	if err := h.Err(); err != nil {
		t.Fatalf("new failure within its grace period: %v", err)
	}
	h.Fail(nil)
	clk.advance(time.Second)
	if err := h.Err(); err == nil || err.Error() != "failing for 6s: boom again" {
		t.Fatalf("err = %v", err)
	}
}

func TestGroup_NotReadyNamesComponents(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	lakeHealth := &Health{now: clk.now}
	consumerReady := false
	block := func(ctx context.Context) error { <-ctx.Done(); return nil }
	g := New(slog.Default())
	g.Add(Component{Name: "poller", Run: block})
	g.Add(Component{Name: "consumer", Run: block, Ready: func() bool { return consumerReady }})
	g.Add(Component{Name: "lake", Run: block, Check: lakeHealth.Err})
	reg := prometheus.NewRegistry()
	if err := g.Register(reg); err != nil {
		t.Fatal(err)
	}
	gauge := func() string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				parts = append(parts, fmt.Sprintf("%s=%v", m.GetLabel()[0].GetValue(), m.GetGauge().GetValue()))
			}
		}
		return strings.Join(parts, ",")
	}
	if got := strings.Join(g.NotReady(), "|"); got != "starting" {
		t.Errorf("before Run: %q", got)
	}
	if got := gauge(); got != "consumer=0,lake=0,poller=0" {
		t.Errorf("gauge before Run: %s", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx, time.Second) }()
	for g.state.Load() != stateRunning {
		time.Sleep(time.Millisecond)
	}
	if got := strings.Join(g.NotReady(), "|"); got != "consumer: not ready" {
		t.Errorf("consumer not ready: %q", got)
	}
	consumerReady = true
	lakeHealth.Fail(errors.New("put object: connection refused"))
	clk.advance(12 * time.Second)
	if got := strings.Join(g.NotReady(), "|"); got != "lake: failing for 12s: put object: connection refused" {
		t.Errorf("lake failing: %q", got)
	}
	if g.Ready() {
		t.Error("ready while the lake is failing")
	}
	if got := gauge(); got != "consumer=1,lake=0,poller=1" {
		t.Errorf("gauge while the lake fails: %s", got)
	}
	lakeHealth.OK()
	if got := g.NotReady(); len(got) != 0 || !g.Ready() {
		t.Errorf("after the lake recovered: %q", got)
	}
	if got := gauge(); got != "consumer=1,lake=1,poller=1" {
		t.Errorf("gauge when ready: %s", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.NotReady(), "|"); got != "stopping" {
		t.Errorf("after Run: %q", got)
	}
}
