package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
)

// replica is one weatherd process of a scaled-out system.
type replica struct {
	name string
	p    *proc
}

func (r *replica) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	m, err := testkit.Scrape(r.p.address())
	if err != nil {
		return -1
	}
	return m.Sum(name, labels...)
}

// TestScaleOut: two replicas share the lease table of a 4-shard stream. They
// split the shards 2/2 and only one polls the weather API; SIGTERM one and
// the other takes every shard and the polling within seconds; start it again
// and the balance returns. Every observation served is in the lake once.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, options{sites: 20, perStep: 2, shards: 4})
	a := &replica{name: "a"}
	b := &replica{name: "b"}
	a.p = sys.startAt(a.name)
	b.p = sys.startAt(b.name)
	sys.waitReady(a.p, 60*time.Second)
	sys.waitReady(b.p, 60*time.Second)

	split := func(x, y *replica, want string) {
		t.Helper()
		waitFor(t, 60*time.Second, "leases split "+want, func() (bool, string) {
			lx, ly := x.metric(t, "weatherd_leases_held"), y.metric(t, "weatherd_leases_held")
			return fmt.Sprintf("%v/%v", lx, ly) == want, fmt.Sprintf("%s holds %v, %s holds %v", x.name, lx, y.name, ly)
		})
	}
	leaderOf := func(x, y *replica) (*replica, *replica) {
		t.Helper()
		var lead, follow *replica
		waitFor(t, 30*time.Second, "one poller leader", func() (bool, string) {
			lx, ly := x.metric(t, "weatherd_poller_leader"), y.metric(t, "weatherd_poller_leader")
			switch {
			case lx == 1 && ly == 0:
				lead, follow = x, y
			case ly == 1 && lx == 0:
				lead, follow = y, x
			default:
				return false, fmt.Sprintf("%s leader=%v, %s leader=%v", x.name, lx, y.name, ly)
			}
			return true, ""
		})
		return lead, follow
	}
	onlyLeaderPolls := func(lead, follow *replica) {
		t.Helper()
		l0, f0 := lead.metric(t, "weatherd_poll_ticks_total"), follow.metric(t, "weatherd_poll_ticks_total")
		time.Sleep(3 * time.Second)
		l1, f1 := lead.metric(t, "weatherd_poll_ticks_total"), follow.metric(t, "weatherd_poll_ticks_total")
		if l1-l0 < 2 || f1 != f0 {
			t.Errorf("in 3s the leader %s ticked %v times and the follower %s %v times, want ≥2 and 0", lead.name, l1-l0, follow.name, f1-f0)
		}
	}

	split(a, b, "2/2")
	lead, follow := leaderOf(a, b)
	onlyLeaderPolls(lead, follow)

	// SIGTERM the leader: the follower takes every shard and the polling.
	stopped := time.Now()
	lead.p.signal(syscall.SIGTERM)
	if code := lead.p.exitCode(t, 40*time.Second); code != 0 {
		t.Fatalf("replica %s exited %d after SIGTERM, want 0", lead.name, code)
	}
	waitFor(t, 20*time.Second, "the survivor to take everything", func() (bool, string) {
		l, p := follow.metric(t, "weatherd_leases_held"), follow.metric(t, "weatherd_poller_leader")
		return l == 4 && p == 1, fmt.Sprintf("%s holds %v leases, leader=%v", follow.name, l, p)
	})
	took := time.Since(stopped)
	t.Logf("after SIGTERM of %s, %s held all 4 shards and the polling %s later", lead.name, follow.name, took.Round(100*time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("takeover took %s, want within seconds", took)
	}

	// Start it again: the balance returns, still one poller.
	lead.p = sys.startAt(lead.name)
	sys.waitReady(lead.p, 60*time.Second)
	split(a, b, "2/2")
	lead2, follow2 := leaderOf(a, b)
	onlyLeaderPolls(lead2, follow2)

	// Stop serving new observations, wait until the lake holds what was
	// served, then stop both: every observation exactly once.
	sys.api.exhaust()
	time.Sleep(3 * time.Second)
	want := sys.api.snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	waitFor(t, 2*time.Minute, "the lake to hold every observation served", func() (bool, string) {
		lc, err := sys.readLake(ctx)
		if err != nil {
			return false, err.Error()
		}
		have := 0
		for id := range want {
			if len(lc.gold[id]) > 0 {
				have++
			}
		}
		return have == len(want), fmt.Sprintf("%d of %d observations in gold", have, len(want))
	})
	for _, r := range []*replica{a, b} {
		r.p.signal(syscall.SIGTERM)
	}
	for _, r := range []*replica{a, b} {
		if code := r.p.exitCode(t, 40*time.Second); code != 0 {
			t.Errorf("replica %s exited %d after SIGTERM, want 0", r.name, code)
		}
	}
	lc, err := sys.readLake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkLake(t, lc, want, sys.sites)
	t.Logf("%d observations served across the scale-out, each in gold and raw once", len(want))
}
