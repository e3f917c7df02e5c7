package kcl

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
	"github.com/weatherd/weatherd/pkg/stream"
)

// Lease timings of the expiry tests: a worker that cannot renew stops its
// shards validity (lease - renew) after its last successful renewal.
const (
	expiryLease = 3 * time.Second
	expiryRenew = time.Second
)

// handCounter counts the records handed to one worker's processors.
type handCounter struct{ n atomic.Int64 }

func (c *handCounter) factory(inner stream.ProcessorFactory) stream.ProcessorFactory {
	return func() stream.Processor { return countingProc{Processor: inner(), n: &c.n} }
}

type countingProc struct {
	stream.Processor
	n *atomic.Int64
}

func (p countingProc) ProcessRecords(ctx context.Context, recs []stream.Record, cp stream.Checkpointer) error {
	p.n.Add(int64(len(recs)))
	return p.Processor.ProcessRecords(ctx, recs, cp)
}

// startOn runs a worker of h with the expiry tests' lease timings whose
// lease table calls go to ddb, counting the records handed to its
// processors in handed.
func (h *harness) startOn(worker string, ddb DynamoDBAPI, handed *handCounter) *runningWorker {
	h.t.Helper()
	cfg := h.config(worker)
	cfg.LeaseDuration, cfg.RenewInterval = expiryLease, expiryRenew
	return h.startWorkerWith(cfg, ddb, handed.factory(h.col.factory(worker)), testLog)
}

// startWorkerWith runs a worker of h with cfg, ddb, processors from newProc and log.
func (h *harness) startWorkerWith(cfg Config, ddb DynamoDBAPI, newProc stream.ProcessorFactory, log *slog.Logger) *runningWorker {
	h.t.Helper()
	reg := prometheus.NewRegistry()
	crashable := &crashableTable{DynamoDBAPI: ddb}
	w, err := New(cfg, h.stream, h.kin, crashable, newProc, reg, log)
	if err != nil {
		h.t.Fatalf("new worker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{Worker: w, ddb: crashable, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { rw.done <- w.Run(ctx) }()
	h.t.Cleanup(func() { rw.crash() })
	return rw
}

// heldGauge reads weatherd_leases_held from the worker's registry.
func (rw *runningWorker) heldGauge(tb testing.TB) float64 {
	tb.Helper()
	mfs, err := rw.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "weatherd_leases_held" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	tb.Fatal("weatherd_leases_held not registered")
	return 0
}

// waitCheckpointedAtEnd waits until every shard's lease is checkpointed at the
// shard's last record, so no batch is in flight.
func (h *harness) waitCheckpointedAtEnd(within time.Duration) {
	h.t.Helper()
	last := map[string]string{}
	for _, s := range h.shards() {
		out, err := h.kin.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: &h.stream, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			h.t.Fatal(err)
		}
		recs, err := h.kin.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: out.ShardIterator})
		if err != nil {
			h.t.Fatal(err)
		}
		if n := len(recs.Records); n > 0 {
			last[aws.ToString(s.ShardId)] = aws.ToString(recs.Records[n-1].SequenceNumber)
		}
	}
	eventually(h.t, within, "every shard checkpointed at its last record", func() bool {
		ls := h.leases()
		for id, seq := range last {
			if ls[id].Checkpoint != seq {
				return false
			}
		}
		return true
	})
}

// TestWorker_StopsShardsWhenLeaseTableIsBlackHoled black-holes worker a's
// DynamoDB while its calls have a deadline far beyond the lease: only a's
// own clock can stop it. a must drop every lease within the lease duration
// (plus slack for polling) and hand no record over afterwards, b must take
// every shard, and once DynamoDB answers again every record must have been
// processed exactly once.
func TestWorker_StopsShardsWhenLeaseTableIsBlackHoled(t *testing.T) {
	h := newHarness(t, 4)
	proxy := faultproxy.Start(t, emulator.Endpoint(t, awsconf.DynamoDB))
	slowCfg := emulator.AWS(t)
	slowCfg.Endpoints.DynamoDB = proxy.URL()
	slowCfg.Timeouts.Connect, slowCfg.Timeouts.ResponseHeader, slowCfg.Timeouts.Default, slowCfg.Timeouts.DynamoDB = time.Minute, time.Minute, time.Minute, time.Minute
	ddbA := awsconf.NewDynamoDB(emulator.AWSConfig(t), slowCfg)
	var handedA, handedB handCounter
	a := h.startOn("a", ddbA, &handedA)
	b := h.startOn("b", h.ddb, &handedB)
	eventually(t, 60*time.Second, "a and b holding 2 shards each", func() bool {
		return a.heldGauge(t) == 2 && b.heldGauge(t) == 2
	})
	h.put(keys(8), 10)
	eventually(t, 60*time.Second, "80 records processed", func() bool { return h.col.distinct() == 80 })
	h.waitCheckpointedAtEnd(30 * time.Second)
	if handedA.n.Load() == 0 || handedB.n.Load() == 0 {
		t.Fatalf("records handed to a: %d, to b: %d; want both working before the fault", handedA.n.Load(), handedB.n.Load())
	}

	proxy.BlackHole()
	holed := time.Now()
	eventually(t, expiryLease+2*time.Second, "a reporting weatherd_leases_held 0", func() bool { return a.heldGauge(t) == 0 })
	t.Logf("a dropped its leases %s after the black hole", time.Since(holed).Round(time.Millisecond))
	eventually(t, 10*time.Second, "a's shard consumers returned", func() bool { return len(a.heldIDs()) == 0 })
	frozen := handedA.n.Load()
	eventually(t, 20*time.Second, "b holding all 4 shards", func() bool { return b.heldGauge(t) == 4 })

	h.put(keys(8), 10)
	eventually(t, 60*time.Second, "160 records processed", func() bool { return h.col.distinct() == 160 })
	h.waitCheckpointedAtEnd(30 * time.Second)
	if got := handedA.n.Load(); got != frozen {
		t.Errorf("a was handed %d records after it reported no lease held, want none", got-frozen)
	}
	if got := testutil.ToFloat64(a.m.leaseEvents.WithLabelValues(eventLose)); got != 2 {
		t.Errorf("a lose events = %v, want 2", got)
	}
	h.checkAllSeen(true)

	proxy.Restore()
	eventually(t, 60*time.Second, "a and b holding 2 shards each again", func() bool {
		return a.heldGauge(t) == 2 && b.heldGauge(t) == 2
	})
	h.put(keys(8), 10)
	eventually(t, 60*time.Second, "240 records processed", func() bool { return h.col.distinct() == 240 })
	h.checkAllSeen(true)
	if got := handedA.n.Load(); got == frozen {
		t.Error("a was handed no record after DynamoDB answered again")
	}
}

// TestWorker_RenewalsDoNotWaitForEachOther hangs the renewal of one lease
// and checks that the worker's other lease keeps being renewed (its counter
// moves on) while the hung one is lost on the local clock.
func TestWorker_RenewalsDoNotWaitForEachOther(t *testing.T) {
	h := newHarness(t, 2)
	ddb := &hangingRenewals{DynamoDBAPI: h.ddb}
	var handed handCounter
	a := h.startOn("a", ddb, &handed)
	eventually(t, 30*time.Second, "a holding 2 shards", func() bool { return a.heldGauge(t) == 2 })
	ids := a.heldIDs()
	hung, live := ids[0], ids[1]
	ddb.hang.Store(&hung)
	before := h.leases()[live].Counter
	eventually(t, expiryLease+2*time.Second, fmt.Sprintf("a losing %s, whose renewal hangs", hung), func() bool { return a.heldGauge(t) == 1 })
	eventually(t, 10*time.Second, "the hung shard's consumer returned", func() bool { return len(a.heldIDs()) == 1 })
	if got := a.heldIDs(); got[0] != live {
		t.Fatalf("a holds %v, want %s", got, live)
	}
	after := h.leases()[live]
	if after.AssignedTo != "a" || after.Counter < before+2 {
		t.Errorf("%s: owner %q, counter %d → %d; want a renewing it while %s hangs", live, after.AssignedTo, before, after.Counter, hung)
	}
}

// hangingRenewals passes calls to the lease table, except UpdateItem on the
// lease named by hang: that blocks until its context ends, as on a
// black-holed connection.
type hangingRenewals struct {
	DynamoDBAPI
	hang atomic.Pointer[string]
}

func (d *hangingRenewals) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if id := d.hang.Load(); id != nil {
		if k, ok := in.Key[attrShardID].(*dtypes.AttributeValueMemberS); ok && k.Value == *id {
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	return d.DynamoDBAPI.UpdateItem(ctx, in, opts...)
}
