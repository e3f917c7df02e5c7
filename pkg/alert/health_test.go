package alert

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/weather"
)

func TestEngine_HealthFollowsChannels(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	h.e.channels["rec"].health.Grace = time.Nanosecond // any failure without a success since counts
	if err := h.e.Health(); err != nil {
		t.Fatalf("health before any delivery: %v", err)
	}
	h.rec["rec"].fail = 1
	h.observe(t, rd("toronto", 0, "windGust", 25.0))
	err := h.e.Health()
	if err == nil || !strings.HasPrefix(err.Error(), "channel rec: failing for ") || !strings.HasSuffix(err.Error(), ": boom") {
		t.Fatalf("health after a failed delivery: %v", err)
	}
	// The retry succeeds: healthy again.
	h.clk.Set(t0.Add(h.e.maxBackoff))
	h.e.Tick(context.Background())
	if got := h.rec["rec"].lines(); len(got) != 1 || got[0] != "firing gusty toronto" {
		t.Fatalf("delivered %q", got)
	}
	if err := h.e.Health(); err != nil {
		t.Fatalf("health after the retry: %v", err)
	}
}

// flakyStore fails every call while down is set.
type flakyStore struct {
	state.Store
	down atomic.Bool
}

var errUnreachable = errors.New("dynamodb: dial tcp 127.0.0.1:4569: connect: connection refused")

func (s *flakyStore) Load(ctx context.Context, loc string) ([]state.Alert, error) {
	if s.down.Load() {
		return nil, errUnreachable
	}
	return s.Store.Load(ctx, loc)
}

func (s *flakyStore) Save(ctx context.Context, a *state.Alert) error {
	if s.down.Load() {
		return errUnreachable
	}
	return s.Store.Save(ctx, a)
}

func TestEngine_HealthFollowsTheStateStore(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	h.e.storeHealth.Grace = time.Nanosecond
	fs := &flakyStore{Store: state.NewMemory()}
	h.e.store = healthStore{Store: fs, h: &h.e.storeHealth}
	fs.down.Store(true)
	err := h.e.Observe(context.Background(), []weather.Reading{rd("toronto", 0, "windGust", 25.0)})
	if err == nil {
		t.Fatal("Observe succeeded with the store down")
	}
	err = h.e.Health()
	if err == nil || !strings.HasPrefix(err.Error(), "state store: failing for ") || !strings.HasSuffix(err.Error(), ": "+errUnreachable.Error()) {
		t.Fatalf("health with the store down: %v", err)
	}
	fs.down.Store(false)
	h.observe(t, rd("toronto", 0, "windGust", 25.0))
	if err := h.e.Health(); err != nil {
		t.Fatalf("health after the store came back: %v", err)
	}
	// A conflict is an answer from the store, not a failure.
	a := state.Alert{Location: "toronto", Rule: "nope", Version: 42}
	if err := h.e.store.Save(context.Background(), &a); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("save with a stale version: %v", err)
	}
	if err := h.e.Health(); err != nil {
		t.Fatalf("health after a conflict: %v", err)
	}
}

// TestEngine_OutboxFullShowsOnReadiness: the outbox's backpressure is counted
// and reported by Health (so on /readyz) until deliveries make room.
func TestEngine_OutboxFullShowsOnReadiness(t *testing.T) {
	cfg := testConfig(rule("gusty", "windGust >= 20"))
	cfg.Outbox.Limit = 2
	h := newHarness(t, cfg, Deps{})
	h.rec["rec"].fail = 1000
	h.observe(t, rd("toronto", 0, "windGust", 25), rd("toronto", 5, "windGust", 5))
	if err := h.e.Health(); err != nil {
		t.Fatalf("health with the outbox at its limit but nothing refused: %v", err)
	}
	if err := h.e.Observe(context.Background(), []weather.Reading{rd("toronto", 10, "windGust", 25)}); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("Observe = %v, want ErrOutboxFull", err)
	}
	want := "outbox full: 2 notifications waiting (alerts.outbox.limit 2); readings are not checkpointed until deliveries make room"
	if err := h.e.Health(); err == nil || err.Error() != want {
		t.Errorf("health = %v, want %q", err, want)
	}
	if got := testutil.ToFloat64(h.e.m.outboxFull); got != 1 {
		t.Errorf("weatherd_alert_outbox_full_total = %v, want 1", got)
	}
	h.rec["rec"].fail = 0
	h.clk.Set(t0.Add(time.Hour))
	h.e.Tick(context.Background())
	if err := h.e.Health(); err != nil {
		t.Errorf("health after the outbox drained: %v", err)
	}
}
