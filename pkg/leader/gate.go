package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Gate runs a function only while an elector leads: it starts the function
// with a child context when the leadership is acquired and cancels that
// context when the leadership is lost.
type Gate struct {
	e   *Elector
	run func(ctx context.Context) error
	log *slog.Logger
}

// NewGate returns a gate running run under e's leadership.
func NewGate(e *Elector, run func(ctx context.Context) error) *Gate {
	return &Gate{e: e, run: run, log: e.log}
}

// Run runs the election and, while this instance leads, the gated function.
// When ctx ends it first stops the function and waits for it to return, and
// only then releases the lease, so two instances never run it at once
// across a hand-over. It returns the function's error when the function
// fails, the election's error when the election cannot work, and nil after a
// clean stop.
func (g *Gate) Run(ctx context.Context) error {
	ectx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	electionDone := make(chan error, 1)
	go func() { electionDone <- g.e.Run(ectx) }()

	err := g.loop(ctx)
	stopElection()
	if eerr := <-electionDone; eerr != nil && err == nil {
		err = eerr
	}
	return err
}

// loop runs the function for each leadership term until ctx ends, the
// function fails or the election stops.
func (g *Gate) loop(ctx context.Context) error {
	for {
		term, err := g.e.Await(ctx)
		if errors.Is(err, ErrStopped) {
			return nil // Run reports the election's own error
		}
		if err != nil {
			return nil // ctx ended
		}
		runCtx, cancel := context.WithCancel(ctx)
		unlink := context.AfterFunc(term, cancel)
		err = g.run(runCtx)
		unlink()
		cancel()
		switch {
		case ctx.Err() != nil:
			return err
		case term.Err() == nil:
			return err // the function returned on its own while leading
		case err != nil:
			return fmt.Errorf("after losing the leadership: %w", err)
		}
		g.log.Info("gated function stopped: leadership lost; waiting to lead again")
	}
}
