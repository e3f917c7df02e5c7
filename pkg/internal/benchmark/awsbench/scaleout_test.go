package awsbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/awsproxy"
	"github.com/weatherd/weatherd/pkg/internal/benchmark"
)

const (
	// scaleRounds is how many replicas join in one run; every other one's
	// predecessor is stopped with SIGTERM, the rest killed with SIGKILL, so
	// one run measures scaleRounds joins and scaleRounds/2 of each exit.
	scaleRounds = 10
	// feedRate is records/s put on the stream while the benchmark runs, so
	// a shard is read every 200 ms (the 5 reads/s cap) rather than once per
	// idle_time_between_reads.
	feedRate = 20
)

// BenchmarkScaleOut measures, on the emulators with real weatherd processes
// at the default consumer settings, how long a shard goes unread when its
// owner is killed (SIGKILL), stopped (SIGTERM), or a new replica joins and
// takes its share: from the old owner's last GetRecords on the shard to the
// new owner's first, both as they reached each replica's own Kinesis proxy.
//
// One run: replica r0 holds both shards of a 2-shard stream fed 20
// records/s. Then scaleRounds times: a new replica starts and steals one
// shard (a join); its predecessor, left with the other shard, is stopped
// with SIGTERM (rounds 1, 3, ...) or SIGKILL (rounds 2, 4, ...), and the newcomer
// takes that shard too (a handoff or a failover).
func BenchmarkScaleOut(b *testing.B) {
	var join, term, kill []float64
	lease := testkit.Default[time.Duration](b, "consumer.lease_duration")
	renew := testkit.Default[time.Duration](b, "consumer.renew_interval")
	for range b.N {
		c := newCluster(b, "")
		ds := benchmark.NewDataset(4000, 40, time.Minute, 11)
		ctx, stopFeed := context.WithCancel(context.Background())
		fed := c.feed(ctx, feedRate, ds)

		cur := c.start("r0")
		testkit.WaitFor(b, "r0 reading both shards", time.Minute, 50*time.Millisecond, func() (bool, string) {
			shards := map[string]bool{}
			for _, r := range cur.reads("") {
				shards[r.Shard] = true
			}
			return len(shards) == 2, fmt.Sprintf("r0 read %d shards", len(shards))
		})
		// Each event waits a random part of the renew interval first, so
		// it falls at any phase of the replicas' take and renew tickers
		// rather than just after the wait that saw the last one settle.
		rng := rand.New(rand.NewPCG(16, 6))
		dephase := func() { time.Sleep(time.Duration(rng.Int64N(int64(renew)))) }
		for i := range scaleRounds {
			dephase()
			next := c.start(fmt.Sprintf("r%d", i+1))
			shard, gap := moved(b, cur, next, "")
			join = append(join, gap.Seconds())
			b.Logf("round %d: %s joined and took %s, unread for %v", i+1, next.name, shard, gap.Round(time.Millisecond))
			testkit.WaitFor(b, "the join settled 1/1", time.Minute, 50*time.Millisecond, func() (bool, string) {
				a, z := cur.metric("weatherd_leases_held"), next.metric("weatherd_leases_held")
				return a == 1 && z == 1, fmt.Sprintf("%s holds %v, %s holds %v", cur.name, a, next.name, z)
			})
			rest := otherShard(b, cur, shard)
			dephase()
			if i%2 == 0 {
				cur.stop(b)
				_, gap = moved(b, cur, next, rest)
				term = append(term, gap.Seconds())
				b.Logf("round %d: %s stopped (SIGTERM); %s unread for %v", i+1, cur.name, rest, gap.Round(time.Millisecond))
			} else {
				cur.kill()
				_, gap = moved(b, cur, next, rest)
				kill = append(kill, gap.Seconds())
				b.Logf("round %d: %s killed (SIGKILL); %s unread for %v", i+1, cur.name, rest, gap.Round(time.Millisecond))
			}
			cur = next
		}
		stopFeed()
		<-fed
		cur.stop(b)
	}
	b.ReportMetric(benchmark.Median(join), "join-unread-s")
	b.ReportMetric(benchmark.Median(term), "sigterm-unread-s")
	b.ReportMetric(benchmark.Median(kill), "sigkill-unread-s")
	b.ReportMetric(slices.Max(join), "join-max-s")
	b.ReportMetric(slices.Max(term), "sigterm-max-s")
	b.ReportMetric(slices.Max(kill), "sigkill-max-s")
	b.ReportMetric(lease.Seconds(), "lease-duration-s")
	b.ReportMetric(float64(len(join)), "join-n")
	b.ReportMetric(float64(len(term)), "sigterm-n")
	b.ReportMetric(float64(len(kill)), "sigkill-n")
}

// moved waits until to reads shard (any shard when "") and returns the shard
// and how long it went unread: from from's last GetRecords on it to to's
// first.
func moved(b *testing.B, from, to *replica, shard string) (string, time.Duration) {
	b.Helper()
	var first awsproxy.Call
	testkit.WaitFor(b, to.name+" reading "+shard, time.Minute, 20*time.Millisecond, func() (bool, string) {
		rs := to.reads(shard)
		if len(rs) == 0 {
			return false, "no GetRecords yet"
		}
		first = rs[0]
		return true, ""
	})
	var last awsproxy.Call
	for _, r := range from.reads(first.Shard) {
		if r.At.Before(first.At) {
			last = r
		}
	}
	if last.At.IsZero() {
		b.Fatalf("%s never read %s before %s did", from.name, first.Shard, to.name)
	}
	return first.Shard, first.At.Sub(last.At)
}

// otherShard is the shard r read that is not shard.
func otherShard(b *testing.B, r *replica, shard string) string {
	b.Helper()
	for _, c := range r.reads("") {
		if c.Shard != shard {
			return c.Shard
		}
	}
	b.Fatalf("%s read no shard but %s", r.name, shard)
	return ""
}
