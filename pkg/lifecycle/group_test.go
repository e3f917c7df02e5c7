package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
)

type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.lines, ",")
}

// actor records when it stops; linger delays its return after cancellation.
func actor(j *journal, name string, linger time.Duration) Component {
	return Component{Name: name, Run: func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(linger)
		j.add(name)
		return nil
	}}
}

func TestGroup_StopsInDataFlowOrder(t *testing.T) {
	j := &journal{}
	g := New(slog.Default())
	g.Add(actor(j, "poller", 30*time.Millisecond))
	g.Add(actor(j, "consumer", 10*time.Millisecond))
	g.Add(actor(j, "lake", 0))
	g.Add(actor(j, "http", 0))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !g.Ready() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := g.Run(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if j.String() != "poller,consumer,lake,http" {
		t.Errorf("stop order = %s", j)
	}
	if g.Ready() {
		t.Error("ready after stopping")
	}
}

func TestGroup_FirstFailureStopsAll(t *testing.T) {
	j := &journal{}
	g := New(slog.Default())
	g.Add(actor(j, "poller", 0))
	g.Add(Component{Name: "consumer", Run: func(ctx context.Context) error { return errors.New("lease table gone") }})
	g.Add(actor(j, "http", 0))
	err := g.Run(context.Background(), time.Second)
	if err == nil || err.Error() != "consumer: lease table gone" {
		t.Fatalf("err = %v", err)
	}
	if j.String() != "poller,http" {
		t.Errorf("stopped = %s", j)
	}
}

func TestGroup_ShutdownBudget(t *testing.T) {
	j := &journal{}
	g := New(slog.Default())
	g.Add(actor(j, "stuck", time.Hour))
	g.Add(actor(j, "http", 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := g.Run(ctx, 100*time.Millisecond)
	if !errors.Is(err, ErrShutdownTimeout) || !strings.Contains(err.Error(), "still running: [stuck http]") {
		t.Fatalf("err = %v", err)
	}
	// The budget, not the stuck actor's hour, ends Run; the bound leaves a
	// loaded machine ample room while staying far below the hour.
	if took := time.Since(start); took > time.Minute {
		t.Errorf("Run took %v with a 100ms budget", took)
	}
}

func TestGroup_ReadyNeedsEveryComponent(t *testing.T) {
	var mu sync.Mutex
	ready := false
	g := New(slog.Default())
	started := make(chan struct{})
	g.Add(Component{Name: "consumer", Run: func(ctx context.Context) error { close(started); <-ctx.Done(); return nil }, Ready: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx, time.Second) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the group did not start the consumer")
	}
	if g.Ready() {
		t.Error("ready before the consumer is")
	}
	mu.Lock()
	ready = true
	mu.Unlock()
	// The group marks itself running just after it started the components:
	// wait for that, up to a deadline.
	testkit.WaitFor(t, "ready once every component is", 10*time.Second, time.Millisecond, func() (bool, string) {
		return g.Ready(), strings.Join(g.NotReady(), "; ")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
