package lifecycle

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestStopContext_BoundedByTheShutdownBudget: a component's last work after
// its stop gets at most what is left of the group's shutdown budget, however
// long its own bound.
func TestStopContext_BoundedByTheShutdownBudget(t *testing.T) {
	if _, ok := StopDeadline(context.Background()); ok {
		t.Fatal("StopDeadline outside a group")
	}
	const budget = 3 * time.Second
	got := make(chan time.Time, 1)
	running := make(chan bool, 1)
	g := New(slog.New(slog.DiscardHandler))
	g.Add(Component{Name: "flusher", Run: func(ctx context.Context) error {
		_, ok := StopDeadline(ctx)
		running <- ok
		<-ctx.Done()
		sctx, cancel := StopContext(ctx, time.Hour)
		defer cancel()
		d, _ := sctx.Deadline()
		if sctx.Err() != nil {
			t.Errorf("StopContext already ended: %v", sctx.Err())
		}
		got <- d
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx, budget) }()
	if <-running {
		t.Error("StopDeadline set before the stop began")
	}
	stopAt := time.Now()
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if d := <-got; d.Before(stopAt) || d.After(time.Now().Add(budget)) {
		t.Errorf("StopContext deadline %s after the stop began, want within the %s budget", d.Sub(stopAt), budget)
	}
}
