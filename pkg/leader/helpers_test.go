package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/lease"
)

// errConflict is the error of a lease write refused by its condition.
var errConflict = lease.ErrLost

// Short timings for the tests: a follower looks every renewInterval and
// takes an unrenewed lease after leaseDuration; a leader that cannot renew
// steps down a fifth of leaseDuration before that.
const (
	leaseDuration = 2 * time.Second
	renewInterval = 400 * time.Millisecond
)

// node is one elector under test with its metrics.
type node struct {
	*Elector
	ddb    *crashableTable
	reg    *prometheus.Registry
	logs   *testkit.SyncBuffer // the elector's log at info level
	cancel context.CancelFunc
	done   chan error
}

func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// MustTable returns a fresh, created leader table name.
func MustTable(tb testing.TB) string {
	tb.Helper()
	name := emulator.Name(tb, "leader")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTable(ctx, emulator.DynamoDB(tb), name); err != nil {
		tb.Fatal(err)
	}
	return name
}

// newNode builds an elector id on tableName over ddb (the emulator when nil).
func newNode(tb testing.TB, tableName, id string, ddb DynamoDBAPI) *node {
	tb.Helper()
	if ddb == nil {
		ddb = emulator.DynamoDB(tb)
	}
	reg := prometheus.NewRegistry()
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	crashable := &crashableTable{DynamoDBAPI: ddb}
	e, err := New(Config{Table: tableName, Name: "poller", LeaseDuration: leaseDuration, RenewInterval: renewInterval, ID: id}, crashable, NewMetrics(reg), log)
	if err != nil {
		tb.Fatal(err)
	}
	return &node{Elector: e, ddb: crashable, reg: reg, logs: logs}
}

// crash makes the node act as if its process died: from now on none of its
// writes reaches the table (no renewal, no release); stop it afterwards.
func (n *node) crash() { n.ddb.crashed.Store(true) }

// crashableTable passes calls to the leader table until crashed is set;
// then it refuses every write as a failed condition would, so a crashed
// node changes nothing in the table.
type crashableTable struct {
	DynamoDBAPI
	crashed atomic.Bool
}

func (d *crashableTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if d.crashed.Load() {
		return nil, fmt.Errorf("UpdateItem after the crash: %w", &dtypes.ConditionalCheckFailedException{Message: aws.String("node crashed")})
	}
	return d.DynamoDBAPI.UpdateItem(ctx, in, opts...)
}

// acquiredFrom is the "previous" holder the node's last acquisition logged:
// "none", "released", or "<owner> (expired)"; "" when it never acquired.
// The line is written just after the term starts, so it waits a little for
// one to appear.
func (n *node) acquiredFrom() string {
	var prev string
	deadline := time.Now().Add(10 * time.Second)
	for prev == "" && time.Now().Before(deadline) {
		for _, m := range acquiredLine.FindAllStringSubmatch(n.logs.String(), -1) {
			prev = m[1] + m[2] // quoted when it holds a space
		}
		if prev == "" {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return prev
}

var acquiredLine = regexp.MustCompile(`msg="poller leadership acquired".* previous=(?:"([^"]*)"|(\S+))`)

// start runs the node's elector until the test ends or stop.
func (n *node) start(tb testing.TB) *node {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.Run(ctx) }()
	tb.Cleanup(func() { n.stop(tb) })
	return n
}

// stop cancels the node and waits for Run to return nil.
func (n *node) stop(tb testing.TB) {
	tb.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			tb.Errorf("%s: Run = %v", n.ID(), err)
		}
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s: Run did not return 10s after its context ended", n.ID())
	}
}

// transitions reads weatherd_poller_leader_transitions_total{event}.
func (n *node) transitions(event string) int {
	return int(testutil.ToFloat64(n.m.transitions.WithLabelValues(event)))
}

// errorsOf reads weatherd_poller_leader_errors_total{op}.
func (n *node) errorsOf(op string) int {
	return int(testutil.ToFloat64(n.m.errors.WithLabelValues(op)))
}

// gauge reads weatherd_poller_leader.
func (n *node) gauge() float64 { return testutil.ToFloat64(n.m.leader) }

// waitFor polls cond every 5 ms until it holds or limit passes, and returns
// how long it took.
func waitFor(tb testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			tb.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// leaderOf waits for one of nodes to lead and returns it and the other.
func leaderOf(tb testing.TB, a, b *node) (leader, follower *node) {
	tb.Helper()
	waitFor(tb, 10*time.Second, "a leader", func() bool { return a.Leading() || b.Leading() })
	if a.Leading() {
		return a, b
	}
	return b, a
}

// errOutage is what flaky answers while DynamoDB is "down".
var errOutage = errors.New("dial tcp 127.0.0.1:4569: connect: connection refused (injected)")

// Outage modes of flaky.
const (
	up int32 = iota
	refused
	hanging
)

// flaky passes calls to DynamoDB until an outage is switched on: then each
// call fails at once (refused) or blocks until its context ends (hanging).
type flaky struct {
	DynamoDBAPI
	mode  atomic.Int32
	mu    sync.Mutex
	calls int
}

func (f *flaky) fail(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	switch f.mode.Load() {
	case refused:
		return errOutage
	case hanging:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *flaky) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	return f.DynamoDBAPI.GetItem(ctx, in, opts...)
}

func (f *flaky) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	return f.DynamoDBAPI.UpdateItem(ctx, in, opts...)
}

// item reads the leadership item directly.
func item(tb testing.TB, tableName string) record {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := (&table{ddb: emulator.DynamoDB(tb), name: tableName, key: "poller"}).read(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func testRegistry() *prometheus.Registry { return prometheus.NewRegistry() }
