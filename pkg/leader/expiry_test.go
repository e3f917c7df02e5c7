package leader

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/internal/faultproxy"
)

// TestGate_BlackHoledTableEndsLeadershipOnTime black-holes the leader's
// DynamoDB while its client's own deadlines are far beyond the lease: the
// leader must step down on its own clock within the lease duration, its
// gated function must stop, and only then may the other instance's start.
func TestGate_BlackHoledTableEndsLeadershipOnTime(t *testing.T) {
	tbl := MustTable(t)
	proxy := faultproxy.Start(t, emulator.Endpoint(t, awsconf.DynamoDB))
	slowCfg := emulator.AWS(t)
	slowCfg.Endpoints.DynamoDB = proxy.URL()
	slowCfg.Timeouts.Connect, slowCfg.Timeouts.ResponseHeader, slowCfg.Timeouts.Default, slowCfg.Timeouts.DynamoDB = time.Minute, time.Minute, time.Minute, time.Minute
	ddbA := awsconf.NewDynamoDB(emulator.AWSConfig(t), slowCfg)
	var running, overlap atomic.Int32
	a, b := newNode(t, tbl, "a", ddbA), newNode(t, tbl, "b", nil)
	pa, pb := &probe{running: &running, overlap: &overlap}, &probe{running: &running, overlap: &overlap}
	startGate(t, a, pa)
	waitFor(t, 10*time.Second, "a leading and its function running", func() bool { return a.Leading() && pa.starts.Load() == 1 })
	startGate(t, b, pb)

	proxy.BlackHole()
	took := waitFor(t, leaseDuration+time.Second, "a stepping down with its function stopped", func() bool {
		return !a.Leading() && a.gauge() == 0 && pa.stops.Load() == 1
	})
	t.Logf("a stepped down %s after the black hole", took.Round(time.Millisecond))
	waitFor(t, 10*time.Second, "b leading and its function running", func() bool { return b.Leading() && pb.starts.Load() == 1 })
	if got := a.transitions(eventLost); got != 1 {
		t.Errorf("a lost transitions = %d, want 1", got)
	}
	if overlap.Load() != 0 {
		t.Errorf("b's function started while a's still ran (%d overlaps)", overlap.Load())
	}

	proxy.Restore()
	if r := item(t, tbl); r.owner != "b" {
		t.Errorf("leadership item owned by %q, want b", r.owner)
	}
}

// TestElector_StuckRenewalEndsLeadershipOnTime hangs the leader's renewal in
// a call that ignores its context (as a client stuck below the context
// would): the leadership must still end on the instance's own clock.
func TestElector_StuckRenewalEndsLeadershipOnTime(t *testing.T) {
	tbl := MustTable(t)
	ddb := &stuckUpdates{DynamoDBAPI: emulator.DynamoDB(t), release: make(chan struct{})}
	var running, overlap atomic.Int32
	a := newNode(t, tbl, "a", ddb)
	pa := &probe{running: &running, overlap: &overlap}
	startGate(t, a, pa)
	t.Cleanup(func() { close(ddb.release) }) // before the gate is stopped: Run is stuck in the call
	waitFor(t, 10*time.Second, "a leading and its function running", func() bool { return a.Leading() && pa.starts.Load() == 1 })
	ddb.stuck.Store(true)
	waitFor(t, leaseDuration+time.Second, "a stepping down with its function stopped", func() bool {
		return !a.Leading() && a.gauge() == 0 && pa.stops.Load() == 1
	})
	if got := a.transitions(eventLost); got != 1 {
		t.Errorf("a lost transitions = %d, want 1", got)
	}
}

// stuckUpdates passes calls to DynamoDB until stuck is set; from then on
// UpdateItem blocks, ignoring its context, until release is closed.
type stuckUpdates struct {
	DynamoDBAPI
	stuck   atomic.Bool
	release chan struct{}
}

func (d *stuckUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if d.stuck.Load() {
		<-d.release
	}
	return d.DynamoDBAPI.UpdateItem(ctx, in, opts...)
}
