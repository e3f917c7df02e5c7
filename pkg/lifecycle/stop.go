package lifecycle

import (
	"context"
	"sync/atomic"
	"time"
)

// stopClock holds the group's shutdown deadline once a stop has begun.
type stopClock struct{ deadline atomic.Int64 } // Unix nanoseconds; 0 while running

type stopClockKey struct{}

// withStopClock gives ctx the clock Group.Run sets when it starts stopping.
func withStopClock(ctx context.Context, c *stopClock) context.Context {
	return context.WithValue(ctx, stopClockKey{}, c)
}

// StopDeadline is when the group's shutdown budget (shutdown_timeout) runs
// out, once a stop has begun; false before, or outside a group.
func StopDeadline(ctx context.Context) (time.Time, bool) {
	c, _ := ctx.Value(stopClockKey{}).(*stopClock)
	if c == nil {
		return time.Time{}, false
	}
	if ns := c.deadline.Load(); ns != 0 {
		return time.Unix(0, ns), true
	}
	return time.Time{}, false
}

// StopContext is for a component's last work after its ctx ended (a final
// flush, delivery or shutdown): it is not cancelled with ctx, and it ends
// after at most max, or earlier when the group's shutdown budget runs out,
// so that the work is cut short cleanly rather than abandoned.
func StopContext(ctx context.Context, max time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(max)
	if d, ok := StopDeadline(ctx); ok && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}
