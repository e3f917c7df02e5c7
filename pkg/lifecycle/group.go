// Package lifecycle runs weatherd's components as one group: all start
// together, the first failure or a signal stops them all, in data-flow order,
// within a shutdown budget.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrShutdownTimeout is returned when components were still running when the
// shutdown budget ran out.
var ErrShutdownTimeout = errors.New("shutdown timed out")

// Component is one actor of the process.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
	// Ready, when set, reports whether the component is serving; /readyz
	// answers 200 only while every component is ready.
	Ready func() bool
	// Check, when set, returns why the component cannot do its work now
	// (a dependency that keeps failing, see Health), nil when it can; a
	// non-nil error makes the component not ready.
	Check func() error
}

// notReady is why c is not ready, "" when it is.
func (c Component) notReady() string {
	if c.Ready != nil && !c.Ready() {
		return "not ready"
	}
	if c.Check != nil {
		if err := c.Check(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// Group runs components. Add them in data-flow order (poller first, HTTP
// last): they are stopped in that order, each after the one before it has
// returned, so upstream stops feeding before downstream drains and flushes.
type Group struct {
	log        *slog.Logger
	components []Component
	state      atomic.Int32
}

const (
	stateStarting int32 = iota
	stateRunning
	stateStopping
)

// New returns an empty group.
func New(log *slog.Logger) *Group { return &Group{log: log.With("component", "lifecycle")} }

// Add appends a component.
func (g *Group) Add(c Component) { g.components = append(g.components, c) }

// Ready reports whether every component has started and is ready and no stop
// has begun.
func (g *Group) Ready() bool { return len(g.NotReady()) == 0 }

// NotReady says why the group is not ready, one line per reason: "starting",
// "stopping", or "<component>: <why>" for each component that is not ready.
// It is empty when the group is ready.
func (g *Group) NotReady() []string {
	switch g.state.Load() {
	case stateStarting:
		return []string{"starting"}
	case stateStopping:
		return []string{"stopping"}
	}
	var out []string
	for _, c := range g.components {
		if why := c.notReady(); why != "" {
			out = append(out, c.Name+": "+why)
		}
	}
	return out
}

type exit struct {
	index int
	err   error
}

// Run starts every component and blocks until ctx ends or one returns; then
// stops the rest in order within budget. It returns the first component error,
// or ErrShutdownTimeout, or nil for a clean stop.
func (g *Group) Run(ctx context.Context, budget time.Duration) error {
	n := len(g.components)
	cancels := make([]context.CancelFunc, n)
	done := make([]chan struct{}, n)
	exits := make(chan exit, n)
	clock := &stopClock{}
	var wg sync.WaitGroup
	for i, c := range g.components {
		cctx, cancel := context.WithCancel(withStopClock(context.WithoutCancel(ctx), clock))
		cancels[i], done[i] = cancel, make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			err := c.Run(cctx)
			exits <- exit{i, err}
		}()
	}
	g.state.Store(stateRunning)

	var first error
	select {
	case <-ctx.Done():
		g.log.Info("stopping", "reason", context.Cause(ctx))
	case e := <-exits:
		name := g.components[e.index].Name
		if e.err != nil {
			first = fmt.Errorf("%s: %w", name, e.err)
			g.log.Error("component failed; stopping", "failed", name, "err", e.err)
		} else {
			g.log.Info("component stopped; stopping the rest", "stopped", name)
		}
	}
	g.state.Store(stateStopping)
	clock.deadline.Store(time.Now().Add(budget).UnixNano())

	deadline := time.NewTimer(budget)
	defer deadline.Stop()
	for i, c := range g.components {
		cancels[i]()
		select {
		case <-done[i]:
		case <-deadline.C:
			// Name what had not stopped when the budget ran out, then
			// cancel the rest without waiting for them.
			still := []string{}
			for j := i; j < n; j++ {
				select {
				case <-done[j]:
				default:
					still = append(still, g.components[j].Name)
				}
			}
			for j := i; j < n; j++ {
				cancels[j]()
			}
			g.log.Error("shutdown budget exhausted", "budget", budget.String(), "still_running", still)
			if first == nil {
				first = fmt.Errorf("%w after %s: still running: %v", ErrShutdownTimeout, budget, still)
			}
			return first
		}
		g.log.Debug("stopped", "name", c.Name)
	}
	wg.Wait()
	close(exits)
	for e := range exits {
		if e.err != nil && first == nil {
			first = fmt.Errorf("%s: %w", g.components[e.index].Name, e.err)
		}
	}
	return first
}
