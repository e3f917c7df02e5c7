package leader

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// probe is a gated function that records its runs; it lingers after its
// context ends, as a poller finishing a fetch would.
type probe struct {
	running *atomic.Int32 // shared between gates: runs in progress
	overlap *atomic.Int32 // shared: runs started while another ran
	starts  atomic.Int32
	stops   atomic.Int32
	linger  time.Duration
	fail    error
}

func (p *probe) run(ctx context.Context) error {
	if p.running.Add(1) > 1 {
		p.overlap.Add(1)
	}
	p.starts.Add(1)
	defer p.running.Add(-1)
	if p.fail != nil {
		return p.fail
	}
	<-ctx.Done()
	time.Sleep(p.linger)
	p.stops.Add(1)
	return nil
}

// gated is a gate under test.
type gated struct {
	n      *node
	p      *probe
	cancel context.CancelFunc
	done   chan error
}

func startGate(t *testing.T, n *node, p *probe) *gated {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &gated{n: n, p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- NewGate(n.Elector, p.run).Run(ctx) }()
	t.Cleanup(func() { g.stop(t) })
	return g
}

func (g *gated) stop(t *testing.T) error {
	t.Helper()
	g.cancel()
	select {
	case err := <-g.done:
		g.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Gate.Run did not return 10s after its context ended")
		return nil
	}
}

func TestGate_RunsOnlyWhileLeading(t *testing.T) {
	tbl := MustTable(t)
	var running, overlap atomic.Int32
	pa := &probe{running: &running, overlap: &overlap, linger: 300 * time.Millisecond}
	pb := &probe{running: &running, overlap: &overlap, linger: 300 * time.Millisecond}
	ga := startGate(t, newNode(t, tbl, "worker-a", nil), pa)
	gb := startGate(t, newNode(t, tbl, "worker-b", nil), pb)
	waitFor(t, 10*time.Second, "a gated run", func() bool { return running.Load() == 1 })
	lead, follow := ga, gb
	if pb.starts.Load() == 1 {
		lead, follow = gb, ga
	}
	time.Sleep(leaseDuration + time.Second)
	if lead.p.starts.Load() != 1 || follow.p.starts.Load() != 0 {
		t.Fatalf("starts: leader %d, follower %d; want 1 and 0", lead.p.starts.Load(), follow.p.starts.Load())
	}

	// Stopping the leader stops its run first, then hands the lease over.
	start := time.Now()
	if err := lead.stop(t); err != nil {
		t.Fatalf("leader's gate: %v", err)
	}
	if lead.p.stops.Load() != 1 || lead.n.transitions(eventReleased) != 1 {
		t.Errorf("stopped leader: run stopped %d times, released %d; want 1 and 1", lead.p.stops.Load(), lead.n.transitions(eventReleased))
	}
	waitFor(t, 10*leaseDuration, "the follower's run", func() bool { return follow.p.starts.Load() == 1 })
	took := time.Since(start)
	t.Logf("gated run moved in %s (the stopped run lingered %s)", took.Round(time.Millisecond), lead.p.linger)
	// Handed over, not left to expire: how fast is a benchmark's business.
	if from := follow.n.acquiredFrom(); from != "released" {
		t.Errorf("the follower took the lease from %q, want a released lease", from)
	}
	if overlap.Load() != 0 {
		t.Errorf("%d runs started while another was running", overlap.Load())
	}
	if err := follow.stop(t); err != nil {
		t.Fatal(err)
	}
	if running.Load() != 0 {
		t.Errorf("%d runs still in progress after both gates stopped", running.Load())
	}
}

func TestGate_CancelsTheRunOnLoss(t *testing.T) {
	tbl := MustTable(t)
	var running, overlap atomic.Int32
	p := &probe{running: &running, overlap: &overlap}
	g := startGate(t, newNode(t, tbl, "worker-a", nil), p)
	waitFor(t, 10*time.Second, "the gated run", func() bool { return p.starts.Load() == 1 })

	// Another instance takes the lease (say this one was paused): the next
	// renewal is refused and the run is cancelled at once.
	intrude(t, tbl, "intruder")
	waitFor(t, 3*renewInterval, "the run cancelled", func() bool { return p.stops.Load() == 1 })
	if g.n.Leading() || g.n.transitions(eventLost) != 1 {
		t.Errorf("leading %v, lost %d", g.n.Leading(), g.n.transitions(eventLost))
	}
	select {
	case err := <-g.done:
		t.Fatalf("the gate returned (%v) on a lost leadership; want it to wait to lead again", err)
	default:
	}
	// The intruder never renews: the lease comes back and the run restarts.
	waitFor(t, 3*leaseDuration, "the run restarted", func() bool { return p.starts.Load() == 2 })
	if err := g.stop(t); err != nil {
		t.Fatal(err)
	}
	if r := item(t, tbl); r.owner != "" {
		t.Errorf("lease owner after stop = %q, want released", r.owner)
	}
}

func TestGate_RunFailureReleases(t *testing.T) {
	tbl := MustTable(t)
	var running, overlap atomic.Int32
	boom := errors.New("producer closed")
	p := &probe{running: &running, overlap: &overlap, fail: boom}
	g := startGate(t, newNode(t, tbl, "worker-a", nil), p)
	select {
	case err := <-g.done:
		g.done <- err
		if !errors.Is(err, boom) {
			t.Errorf("Gate.Run = %v, want %v", err, boom)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gate did not return its run's error")
	}
	if r := item(t, tbl); r.owner != "" || g.n.transitions(eventReleased) != 1 {
		t.Errorf("lease owner %q, released %d; want the lease released", r.owner, g.n.transitions(eventReleased))
	}
}

func TestGate_ElectionFailure(t *testing.T) {
	name := wrongKeyTable(t)
	var running, overlap atomic.Int32
	p := &probe{running: &running, overlap: &overlap}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := NewGate(newNode(t, name, "worker-a", nil).Elector, p.run).Run(ctx)
	if !errors.Is(err, ErrTableSchema) {
		t.Errorf("Gate.Run = %v, want ErrTableSchema", err)
	}
	if p.starts.Load() != 0 {
		t.Errorf("the function ran %d times without a lease", p.starts.Load())
	}
}
