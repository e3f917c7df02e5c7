package awsbench

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/awsproxy"
	"github.com/weatherd/weatherd/pkg/internal/benchmark"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

const (
	// idleWindow is how long the idle shards are watched: a multiple of
	// every periodic interval of the defaults (renew 3s, take 2s, idle
	// reads 1s, shard sync 60s).
	idleWindow = 60 * time.Second
	// tickWindow is how long each simulated poll tick is watched: more
	// than lake.flush.max_age (30s), so the tick's flush is in it.
	tickWindow = 40 * time.Second
	// loadRecords are put on one shard for the load phase; per-hour
	// figures are for loadRate records/s.
	loadRate    = 1000
	loadRecords = 4000
)

// BenchmarkCallCounts counts the AWS calls one weatherd process (the
// binary, default settings, a 2-shard stream, the lake on S3) makes, through
// a recording proxy in front of every emulator, and weatherd's own metrics:
//
//   - idle: both shards empty, for idleWindow;
//   - ticks: a poll of 5, 100 and 1,000 locations put at once (the poller
//     spreads a tick's fetches over up to poller.spread), each watched for
//     tickWindow;
//   - load: loadRecords readings put on one shard as fast as kinesis-local
//     takes them, watched from the first put until the lake has flushed
//     them; the lake's buffered bytes per record give the size-triggered
//     flushes (two objects and a checkpoint each) at loadRate records/s.
//
// It logs the counts (run it with -v to see them all) behind the cost model
// in BENCHMARKS.md and reports per-shard-hour figures. It is not part of
// `make bench`: it takes about 4 minutes.
func BenchmarkCallCounts(b *testing.B) {
	for range b.N {
		c := newCluster(b, "")
		r := c.start("r0")
		testkit.WaitFor(b, "r0 reading both shards", time.Minute, 50*time.Millisecond, func() (bool, string) {
			return len(shardsRead(r)) == 2, fmt.Sprintf("read %v", shardsRead(r))
		})

		// Idle.
		from, m0 := time.Now(), testkit.MustScrape(b, r.addr)
		time.Sleep(idleWindow)
		to, m1 := time.Now(), testkit.MustScrape(b, r.addr)
		idle := r.window(from, to)
		hours := to.Sub(from).Hours()
		b.Logf("IDLE, 2 shards, %v:\n%s%s", to.Sub(from).Round(time.Millisecond), idle, leaseCalls(m0, m1))
		perShardHour := func(n int) float64 { return float64(n) / hours / 2 }
		b.ReportMetric(perShardHour(idle.ops["UpdateItem"]), "idle-ddb-writes/shard-h")
		b.ReportMetric(float64(idle.ops["Scan"])/hours, "idle-ddb-scans/worker-h")
		b.ReportMetric(perShardHour(idle.ops["GetRecords"]), "idle-getrecords/shard-h")
		b.ReportMetric(perShardHour(idle.ops["PutObject"]), "idle-s3-puts/shard-h")

		// Poll ticks.
		// kinesis-local takes longer than the default 10s with a consumer
		// reading beside a load.
		conf := emulator.AWS(b)
		conf.Timeouts.PutRecords = 2 * time.Minute
		kin := awsconf.NewKinesis(emulator.AWSConfig(b), conf)
		for i, n := range []int{5, 100, 1000} {
			at := time.Now().UTC().Truncate(time.Second)
			ds := benchmark.NewDataset(n, n, time.Minute, uint64(100+i))
			stamp := []byte(ds.Start.Format(time.RFC3339))
			now := []byte(at.Format(time.RFC3339))
			bodies := make([][]byte, n)
			for j, body := range ds.Bodies {
				bodies[j] = bytes.ReplaceAll(body, stamp, now) // observed_at and event_id
			}
			from, m0 := time.Now(), testkit.MustScrape(b, r.addr)
			benchmark.PutRecords(b, kin, c.stream, bodies, ds.Keys, 0)
			want := m0.Sum("weatherd_consumer_records_total") + float64(n)
			testkit.WaitFor(b, "the tick consumed and flushed", tickWindow, 100*time.Millisecond, func() (bool, string) {
				m := testkit.MustScrape(b, r.addr)
				got := m.Sum("weatherd_consumer_records_total")
				return got == want && m.Sum("weatherd_lake_buffered_bytes") == 0, fmt.Sprintf("%v of %v records consumed", got, want)
			})
			time.Sleep(time.Until(from.Add(tickWindow)))
			to, m1 := time.Now(), testkit.MustScrape(b, r.addr)
			w := r.window(from, to)
			b.Logf("TICK of %d locations, %v:\n%s%s%s", n, to.Sub(from).Round(time.Millisecond), w, leaseCalls(m0, m1), lakeFigures(m0, m1))
		}

		b.Logf("LEASE ITEMS after the ticks:\n%s", leaseCapacity(b, c.leases))

		// Load on one shard: kinesis-local cannot take 1,000 records/s for
		// long on this machine, so loadRecords are put as fast as it takes
		// them, and what depends on the rate is derived per record.
		bodies, keys := oneShard(b, c.stream, benchmark.NewDataset(3*loadRecords, 2000, time.Minute, 7))
		bodies, keys = bodies[:loadRecords], keys[:loadRecords]
		from, m0 = time.Now(), testkit.MustScrape(b, r.addr)
		benchmark.PutRecords(b, kin, c.stream, bodies, keys, 0)
		putDone := time.Now()
		want := m0.Sum("weatherd_consumer_records_total") + float64(len(bodies))
		var buffered float64
		testkit.WaitFor(b, "the load consumed", 5*time.Minute, 50*time.Millisecond, func() (bool, string) {
			m := testkit.MustScrape(b, r.addr)
			got := m.Sum("weatherd_consumer_records_total")
			buffered = m.Sum("weatherd_lake_buffered_bytes")
			return got == want, fmt.Sprintf("%v of %v records consumed", got, want)
		})
		consumed, mc := time.Now(), testkit.MustScrape(b, r.addr)
		testkit.WaitFor(b, "the load flushed", 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
			return testkit.MustScrape(b, r.addr).Sum("weatherd_lake_buffered_bytes") == 0, "lake still buffering"
		})
		to, m1 = time.Now(), testkit.MustScrape(b, r.addr)
		w := r.window(from, to)
		flushedEarly := mc.Sum("weatherd_lake_objects_written_total") - m0.Sum("weatherd_lake_objects_written_total")
		b.Logf("LOAD, %d records on one shard, put in %v (%.0f records/s), consumed in %v, flushed in %v; "+
			"lake buffer when all were consumed: %v bytes (%.0f per record; %v objects written before then):\n%s%s%s",
			len(bodies), putDone.Sub(from).Round(time.Millisecond), float64(len(bodies))/putDone.Sub(from).Seconds(),
			consumed.Sub(from).Round(time.Millisecond), to.Sub(from).Round(time.Millisecond),
			buffered, buffered/float64(len(bodies)), flushedEarly, w, leaseCalls(m0, m1), lakeFigures(m0, m1))
		perRecord := func(x float64) float64 { return x / float64(len(bodies)) * loadRate * 3600 }
		d := func(name string, labels ...string) float64 { return m1.Sum(name, labels...) - m0.Sum(name, labels...) }
		b.ReportMetric(perRecord(d("weatherd_lake_bytes_written_total"))/(1<<20), "load-s3-MiB/shard-h")
		if flushedEarly == 0 && buffered > 0 {
			flushes := perRecord(buffered) / float64(testkit.Default[int64](b, "lake.flush.max_bytes"))
			b.ReportMetric(2*flushes, "load-s3-puts/shard-h")
			b.ReportMetric(flushes, "load-checkpoints/shard-h")
		}
		r.stop(b)
	}
}

// counts are the calls a replica made in a window, by operation, over all
// its proxies.
type counts struct {
	ops      map[string]int
	putBytes int64 // S3 PutObject bodies
	records  int   // Kinesis GetRecords: records returned
	empty    int   // Kinesis GetRecords that returned none
}

func (r *replica) window(from, to time.Time) counts {
	c := counts{ops: map[string]int{}}
	for _, p := range r.proxies {
		for _, call := range awsproxy.Between(p.Calls(), from, to) {
			c.ops[call.Op]++
			switch call.Op {
			case "PutObject":
				c.putBytes += call.Bytes
			case "GetRecords":
				c.records += call.Records
				if call.Records == 0 {
					c.empty++
				}
			}
		}
	}
	return c
}

func (c counts) String() string {
	var s strings.Builder
	for _, op := range slices.Sorted(maps.Keys(c.ops)) {
		fmt.Fprintf(&s, "  %-22s %7d\n", op, c.ops[op])
	}
	fmt.Fprintf(&s, "  %-22s %7d (%d returned none, %d records)\n", "GetRecords detail", c.ops["GetRecords"], c.empty, c.records)
	fmt.Fprintf(&s, "  %-22s %7d bytes\n", "PutObject bodies", c.putBytes)
	return s.String()
}

// leaseCalls is the change of weatherd_consumer_lease_calls_total by op.
func leaseCalls(m0, m1 testkit.Metrics) string {
	var s strings.Builder
	s.WriteString("  lease table calls (weatherd_consumer_lease_calls_total):")
	for _, op := range []string{"renew", "checkpoint", "scan", "take", "release", "create_lease", "claim", "handover"} {
		if d := m1.Sum("weatherd_consumer_lease_calls_total", `op="`+op+`"`) - m0.Sum("weatherd_consumer_lease_calls_total", `op="`+op+`"`); d != 0 {
			fmt.Fprintf(&s, " %s %v", op, d)
		}
	}
	s.WriteString("\n")
	return s.String()
}

// lakeFigures is the change of the lake's object and byte counters and the
// notifications the default rules sent (what an sns channel would publish).
func lakeFigures(m0, m1 testkit.Metrics) string {
	d := func(name string, labels ...string) float64 { return m1.Sum(name, labels...) - m0.Sum(name, labels...) }
	return fmt.Sprintf("  lake objects: raw %v gold %v; bytes: raw %v gold %v; records consumed %v; notifications %v\n",
		d("weatherd_lake_objects_written_total", `kind="raw"`), d("weatherd_lake_objects_written_total", `kind="gold"`),
		d("weatherd_lake_bytes_written_total", `kind="raw"`), d("weatherd_lake_bytes_written_total", `kind="gold"`),
		d("weatherd_consumer_records_total"), d("weatherd_notifications_total"))
}

func shardsRead(r *replica) []string {
	seen := map[string]bool{}
	for _, c := range r.reads("") {
		seen[c.Shard] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// oneShard keeps the readings of ds whose partition key hashes into the
// stream's first shard.
func oneShard(b *testing.B, streamName string, ds *benchmark.Dataset) ([][]byte, []string) {
	b.Helper()
	out, err := emulator.Kinesis(b).ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(streamName)})
	if err != nil || len(out.Shards) == 0 {
		b.Fatalf("list shards: %v", err)
	}
	lo, _ := new(big.Int).SetString(aws.ToString(out.Shards[0].HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(out.Shards[0].HashKeyRange.EndingHashKey), 10)
	var bodies [][]byte
	var keys []string
	for i, k := range ds.Keys {
		sum := md5.Sum([]byte(k))
		h := new(big.Int).SetBytes(sum[:])
		if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
			bodies, keys = append(bodies, ds.Bodies[i]), append(keys, k)
		}
	}
	return bodies, keys
}
