package kcl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
)

// BenchmarkConsumer_Throughput measures records/s from kinesis-local through
// one worker (4 shards, a processor that checkpoints every batch in
// dynalite). The emulator bounds the figure; real Kinesis allows 2 MB/s per
// shard.
func BenchmarkConsumer_Throughput(b *testing.B) {
	const records = 2000
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		h := newHarness(b, 4)
		h.put(keys(20), records/20)
		b.StartTimer()
		start := time.Now()
		w := h.start("bench")
		eventually(b, 5*time.Minute, "every record processed", func() bool { return h.col.distinct() == records })
		elapsed += time.Since(start)
		b.StopTimer()
		w.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(records*b.N)/elapsed.Seconds(), "records/s")
}

// BenchmarkLeaseCoordination measures the DynamoDB calls W workers make to
// coordinate S shards of an idle stream once balanced, with the production
// timings (lease 10s, renew 3s, take pass 2s, shard sync 60s), as calls per
// minute for the whole fleet.
func BenchmarkLeaseCoordination(b *testing.B) {
	for _, tc := range []struct{ shards, workers int }{{4, 2}, {8, 4}} {
		b.Run(fmt.Sprintf("S%dW%d", tc.shards, tc.workers), func(b *testing.B) {
			const window = 20 * time.Second
			var perMin, scansPerMin, renewsPerMin float64
			for range b.N {
				h := newHarness(b, tc.shards)
				prod := func(c *Config) {
					d := testkit.Default[Config](b, "consumer")
					c.LeaseDuration, c.RenewInterval, c.TakeInterval, c.ShardSyncInterval = d.LeaseDuration, d.RenewInterval, d.TakeInterval, d.ShardSyncInterval
					c.IdleTimeBetweenReads = d.IdleTimeBetweenReads
				}
				var ws []*runningWorker
				for i := range tc.workers {
					ws = append(ws, h.start(fmt.Sprintf("w%d", i), prod))
				}
				share := tc.shards / tc.workers
				eventually(b, 3*time.Minute, "balanced", func() bool {
					for _, w := range ws {
						if len(w.heldIDs()) != share {
							return false
						}
					}
					return true
				})
				calls := func(op string) float64 {
					n := 0.0
					for _, w := range ws {
						ops := []string{op}
						if op == "" {
							ops = allLeaseOps
						}
						for _, o := range ops {
							n += testutil.ToFloat64(w.m.leaseCalls.WithLabelValues(o))
						}
					}
					return n
				}
				total0, scan0, renew0 := calls(""), calls("scan"), calls("renew")
				time.Sleep(window)
				perMin += (calls("") - total0) * float64(time.Minute) / float64(window)
				scansPerMin += (calls("scan") - scan0) * float64(time.Minute) / float64(window)
				renewsPerMin += (calls("renew") - renew0) * float64(time.Minute) / float64(window)
				for _, w := range ws {
					w.stop(b)
				}
			}
			n := float64(b.N)
			b.ReportMetric(perMin/n, "ddb_calls/min")
			b.ReportMetric(scansPerMin/n, "scans/min")
			b.ReportMetric(renewsPerMin/n, "renews/min")
		})
	}
}

var allLeaseOps = []string{"describe_table", "create_table", "scan", "create_lease", "take", "renew", "checkpoint", "release", "handover", "claim", "unclaim"}

// BenchmarkConsumer_InProcess measures the consumer's own ceiling: the same
// worker (leases in dynalite) reading from an in-memory stream, since
// kinesis-local is far slower than the consumer. Each shard is still paced
// at 5 GetRecords/s, so the figure is bounded by 5 × max_records per shard.
func BenchmarkConsumer_InProcess(b *testing.B) {
	const shards, perShard = 4, 25000
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		h := newHarness(b, 1) // for the lease table name and the collector
		mem := newMemKinesis(shards, perShard)
		b.StartTimer()
		start := time.Now()
		reg := prometheus.NewRegistry()
		cfg := h.config("bench")
		w, err := New(cfg, "mem", mem, h.ddb, h.col.factory("bench"), reg, testLog)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		eventually(b, 5*time.Minute, "every record processed", func() bool {
			h.col.mu.Lock()
			defer h.col.mu.Unlock()
			return h.col.deliveries == shards*perShard
		})
		elapsed += time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(shards*perShard*b.N)/elapsed.Seconds(), "records/s")
}

// memKinesis serves fixed open shards from memory; iterators are
// "shard/offset".
type memKinesis struct {
	shards map[string][]ktypes.Record
}

func newMemKinesis(shards, perShard int) *memKinesis {
	m := &memKinesis{shards: map[string][]ktypes.Record{}}
	now := time.Now()
	for s := range shards {
		id := fmt.Sprintf("shardId-%012d", s)
		recs := make([]ktypes.Record, perShard)
		for i := range recs {
			recs[i] = ktypes.Record{
				Data:                        []byte(fmt.Sprintf("s%d/%06d", s, i)),
				PartitionKey:                aws.String(fmt.Sprintf("s%d", s)),
				SequenceNumber:              aws.String(fmt.Sprintf("%d%020d", s+1, i)),
				ApproximateArrivalTimestamp: &now,
			}
		}
		m.shards[id] = recs
	}
	return m
}

func (m *memKinesis) ListShards(_ context.Context, _ *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	out := &kinesis.ListShardsOutput{}
	for id := range m.shards {
		out.Shards = append(out.Shards, ktypes.Shard{ShardId: aws.String(id), SequenceNumberRange: &ktypes.SequenceNumberRange{StartingSequenceNumber: aws.String("0")}})
	}
	return out, nil
}

func (m *memKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	off := 0
	if in.ShardIteratorType == ktypes.ShardIteratorTypeAfterSequenceNumber {
		for i, r := range m.shards[*in.ShardId] {
			if *r.SequenceNumber == *in.StartingSequenceNumber {
				off = i + 1
			}
		}
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s/%d", *in.ShardId, off))}, nil
}

func (m *memKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	id, o, _ := strings.Cut(*in.ShardIterator, "/")
	off, _ := strconv.Atoi(o)
	recs := m.shards[id]
	end := min(len(recs), off+int(*in.Limit))
	return &kinesis.GetRecordsOutput{
		Records:            recs[off:end],
		NextShardIterator:  aws.String(fmt.Sprintf("%s/%d", id, end)),
		MillisBehindLatest: aws.Int64(0),
	}, nil
}
