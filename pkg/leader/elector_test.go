package leader

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
)

// sampler checks, until stopped, that two nodes never lead at once: every
// millisecond through their in-process flags, and every few milliseconds
// through a strongly consistent read of the lease item, which is what fences
// the leaders: a node that says it leads before and after the read must be
// the item's owner, and the item's counter never goes back.
type sampler struct {
	both, samples, reads atomic.Int64
	mu                   sync.Mutex
	fenced               []string // what the fenced reads found wrong
	stopped              chan struct{}
	done                 chan struct{}
}

func sample(tb testing.TB, tableName string, a, b *node) *sampler {
	tb.Helper()
	tbl := &table{ddb: emulator.DynamoDB(tb), name: tableName, key: "poller"}
	s := &sampler{stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var last int64
		for i := 0; ; i++ {
			select {
			case <-s.stopped:
				return
			case <-time.After(time.Millisecond):
			}
			s.samples.Add(1)
			if a.Leading() && b.Leading() {
				s.both.Add(1)
			}
			if i%10 == 0 {
				last = s.fencedRead(tbl, a, b, last)
			}
		}
	}()
	return s
}

// fencedRead reads the item between two looks at the flags and records what
// contradicts it. It returns the counter it read.
func (s *sampler) fencedRead(tbl *table, a, b *node, last int64) int64 {
	la, lb := a.Leading(), b.Leading()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := tbl.read(ctx)
	if err != nil {
		return last // an unreadable item proves nothing either way
	}
	s.reads.Add(1)
	la, lb = la && a.Leading(), lb && b.Leading()
	var wrong []string
	for _, n := range []struct {
		leads bool
		n     *node
	}{{la, a}, {lb, b}} {
		if n.leads && r.owner != n.n.ID() {
			wrong = append(wrong, fmt.Sprintf("%s led throughout a read of the lease item owned by %q at counter %d", n.n.ID(), r.owner, r.counter))
		}
	}
	if r.counter < last {
		wrong = append(wrong, fmt.Sprintf("the lease item's counter went back from %d to %d", last, r.counter))
	}
	if len(wrong) > 0 {
		s.mu.Lock()
		s.fenced = append(s.fenced, wrong...)
		s.mu.Unlock()
	}
	return max(last, r.counter)
}

func (s *sampler) check(t *testing.T) {
	t.Helper()
	close(s.stopped)
	<-s.done
	if s.both.Load() != 0 {
		t.Errorf("both led at once in %d of %d samples", s.both.Load(), s.samples.Load())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads.Load() == 0 {
		t.Error("no fenced read of the lease item succeeded")
	}
	if n := len(s.fenced); n > 0 {
		t.Errorf("%d fenced reads contradict the flags; the first: %s", n, strings.Join(s.fenced[:min(n, 3)], "; "))
	}
	t.Logf("%d samples and %d fenced reads, never both leading", s.samples.Load(), s.reads.Load())
}

func TestElector_OneLeaderThenGracefulHandOver(t *testing.T) {
	tbl := MustTable(t)
	a := newNode(t, tbl, "worker-a", nil).start(t)
	b := newNode(t, tbl, "worker-b", nil).start(t)
	s := sample(t, tbl, a, b)
	lead, follow := leaderOf(t, a, b)

	// Over more than a lease duration the leader keeps the lease by renewing:
	// wait for enough renewals of the item to span one.
	first := item(t, tbl).counter
	renewals := int64(leaseDuration/renewInterval) + 1
	waitFor(t, 20*leaseDuration, "renewals spanning a lease duration", func() bool { return item(t, tbl).counter >= first+renewals })
	if !lead.Leading() || follow.Leading() {
		t.Fatalf("leading: %s=%v %s=%v, want only %s", lead.ID(), lead.Leading(), follow.ID(), follow.Leading(), lead.ID())
	}
	if r := item(t, tbl); r.owner != lead.ID() {
		t.Errorf("item = %+v, want owner %s", r, lead.ID())
	}
	if lead.transitions(eventAcquired) != 1 || follow.transitions(eventAcquired) != 0 {
		t.Errorf("acquired: %s %d, %s %d; want 1 and 0", lead.ID(), lead.transitions(eventAcquired), follow.ID(), follow.transitions(eventAcquired))
	}
	if lead.gauge() != 1 || follow.gauge() != 0 {
		t.Errorf("weatherd_poller_leader: leader %v, follower %v", lead.gauge(), follow.gauge())
	}

	// A graceful stop releases the lease: the follower takes it at its next look.
	start := time.Now()
	lead.stop(t)
	if lead.Leading() || lead.gauge() != 0 || lead.transitions(eventReleased) != 1 || lead.transitions(eventLost) != 0 {
		t.Errorf("stopped leader: leading %v, gauge %v, released %d, lost %d", lead.Leading(), lead.gauge(), lead.transitions(eventReleased), lead.transitions(eventLost))
	}
	waitFor(t, 10*leaseDuration, "graceful takeover", follow.Leading)
	took := time.Since(start)
	t.Logf("graceful takeover after %s (renew_interval %s)", took.Round(time.Millisecond), renewInterval)
	// Taken at the follower's next look because it was released, not once
	// it expired (how long that took is a benchmark's business).
	if from := follow.acquiredFrom(); from != "released" {
		t.Errorf("the follower took the lease from %q, want a released lease", from)
	}
	if r := item(t, tbl); r.owner != follow.ID() {
		t.Errorf("item owner = %q, want %s", r.owner, follow.ID())
	}
	s.check(t)
}

func TestElector_CrashedLeaderIsTakenOverAfterTheLease(t *testing.T) {
	tbl := MustTable(t)
	a := newNode(t, tbl, "worker-a", nil).start(t)
	b := newNode(t, tbl, "worker-b", nil).start(t)
	s := sample(t, tbl, a, b)
	lead, follow := leaderOf(t, a, b)
	// Two renewals: the follower, looking every renew interval, has seen
	// the lease held.
	held := item(t, tbl).counter
	waitFor(t, 10*leaseDuration, "two renewals", func() bool { return item(t, tbl).counter >= held+2 })
	before := item(t, tbl)

	lead.crash() // stops renewing and does not release
	crash := time.Now()
	lead.stop(t)
	if r := item(t, tbl); r.owner != lead.ID() {
		t.Fatalf("the crashed leader released its lease: %+v", r)
	}
	waitFor(t, 10*leaseDuration, "takeover after a crash", follow.Leading)
	took := time.Since(crash)
	t.Logf("takeover after a crash: %s (lease_duration %s, renew_interval %s)", took.Round(time.Millisecond), leaseDuration, renewInterval)
	// The follower takes the lease only once it has seen it unrenewed for
	// lease_duration; the last renewal was at most about a renew interval
	// before the crash. Load only makes the takeover later, so only the
	// lower bound is checked; the log says the lease had expired.
	if took < leaseDuration-2*renewInterval {
		t.Errorf("takeover after %s, want no earlier than %s", took, leaseDuration-2*renewInterval)
	}
	if want := lead.ID() + " (expired)"; follow.acquiredFrom() != want {
		t.Errorf("the follower took the lease from %q, want %q", follow.acquiredFrom(), want)
	}
	if r := item(t, tbl); r.owner != follow.ID() || r.counter <= before.counter {
		t.Errorf("item = %+v, want owner %s and a counter above %d", r, follow.ID(), before.counter)
	}
	if lead.transitions(eventReleased) != 0 || follow.transitions(eventAcquired) != 1 {
		t.Errorf("released %d, acquired %d; want 0 and 1", lead.transitions(eventReleased), follow.transitions(eventAcquired))
	}
	s.check(t)
}

// intrude takes the lease for id as if it had found it expired.
func intrude(t *testing.T, tbl, id string) int64 {
	t.Helper()
	tb := &table{ddb: emulator.DynamoDB(t), name: tbl, key: "poller"}
	for range 20 {
		c, err := tb.take(context.Background(), item(t, tbl), id, leaseDuration)
		if err == nil {
			return c
		}
		if !errors.Is(err, errConflict) {
			t.Fatal(err)
		}
	}
	t.Fatal("could not take the lease in 20 tries")
	return 0
}

func TestElector_FencedRenewStepsDown(t *testing.T) {
	tbl := MustTable(t)
	a := newNode(t, tbl, "worker-a", nil).start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	term, err := a.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	intrude(t, tbl, "intruder")
	select {
	case <-term.Done():
	case <-time.After(3 * renewInterval):
		t.Fatal("still leading after its renewal was refused")
	}
	// The term ends first; the loss is counted and the gauge set just after.
	testkit.WaitFor(t, "the loss recorded", 5*time.Second, time.Millisecond, func() (bool, string) {
		leading, lost, gauge := a.Leading(), a.transitions(eventLost), a.gauge()
		return !leading && lost == 1 && gauge == 0, fmt.Sprintf("leading %v, lost %d, gauge %v", leading, lost, gauge)
	})
	if n := a.errorsOf(opRenew); n != 0 {
		t.Errorf("a refused renewal counted as %d errors", n)
	}
	// The intruder never renews: a takes the lease back once it expired.
	term2, err := a.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if term2 == term || term2.Err() != nil {
		t.Error("Await returned the old term")
	}
	if r := item(t, tbl); r.owner != a.ID() {
		t.Errorf("item owner = %q, want %s", r.owner, a.ID())
	}
}

func TestElector_OutageStepsDownBeforeTakeover(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode int32
	}{{"Refused", refused}, {"Hanging", hanging}} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := MustTable(t)
			f := &flaky{DynamoDBAPI: emulator.DynamoDB(t)}
			a := newNode(t, tbl, "worker-a", f)
			a.health.Grace = time.Nanosecond // any failure without a success since counts
			a.start(t)
			defer f.mode.Store(up)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			term, err := a.Await(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b := newNode(t, tbl, "worker-b", nil).start(t)
			s := sample(t, tbl, a, b)
			// Two renewals by a: b, looking every renew interval, has seen
			// the lease held.
			held := item(t, tbl).counter
			waitFor(t, 10*leaseDuration, "two renewals by worker-a", func() bool { return item(t, tbl).counter >= held+2 })

			// b's takeover is watched from its own goroutine, started before
			// the outage, so its time is not ordered after a's step-down by
			// the test itself.
			type takeover struct {
				at         time.Time
				termEnded  bool // a's term had ended when b's Await returned
				aWasLeader bool
				err        error
			}
			bLeads := make(chan takeover, 1)
			go func() {
				_, err := b.Await(ctx)
				tk := takeover{at: time.Now(), aWasLeader: a.Leading(), err: err}
				select {
				case <-term.Done():
					tk.termEnded = true
				default:
				}
				bLeads <- tk
			}()

			f.mode.Store(tc.mode)
			outage := time.Now()
			var down time.Time
			select {
			case <-term.Done():
				down = time.Now()
			case <-time.After(10 * leaseDuration):
				t.Fatal("the leader kept its leadership through a DynamoDB outage")
			}
			tk := <-bLeads
			if tk.err != nil {
				t.Fatal(tk.err)
			}
			stepDown, took := down.Sub(outage), tk.at.Sub(outage)
			t.Logf("outage: leader stepped down after %s, follower took over after %s (lease_duration %s)", stepDown.Round(time.Millisecond), took.Round(time.Millisecond), leaseDuration)
			// The last successful renewal was at or before the outage began;
			// the leader steps down a margin before its lease ends, and the
			// follower takes it only after. Load makes both later, so what
			// is checked is the order, and that the leader did not give up
			// at its first failed call.
			if !tk.termEnded || tk.aWasLeader {
				t.Errorf("worker-b took over while worker-a still led (term ended %v, leading %v)", tk.termEnded, tk.aWasLeader)
			}
			if !down.Before(tk.at) {
				t.Errorf("worker-b took over %s before worker-a stepped down", down.Sub(tk.at))
			}
			if stepDown < leaseDuration/4 {
				t.Errorf("stepped down %s after the outage began: too early", stepDown)
			}
			if from := b.acquiredFrom(); from != "worker-a (expired)" {
				t.Errorf("worker-b took the lease from %q, want it expired from worker-a", from)
			}
			if a.transitions(eventLost) != 1 || a.errorsOf(opRenew) == 0 {
				t.Errorf("lost %d, renew errors %d; want 1 and some", a.transitions(eventLost), a.errorsOf(opRenew))
			}
			if err := a.Health(); err == nil || !strings.HasPrefix(err.Error(), "failing for ") {
				t.Errorf("health during the outage: %v", err)
			}
			f.mode.Store(up)
			waitFor(t, 10*leaseDuration, "worker-a healthy after the outage", func() bool { return a.Health() == nil })
			// worker-a follows again: it reads the item b keeps renewing.
			renewed := item(t, tbl).counter
			waitFor(t, 10*leaseDuration, "two renewals by worker-b", func() bool { return item(t, tbl).counter >= renewed+2 })
			if a.Leading() || !b.Leading() {
				t.Errorf("after the outage: a leading %v, b leading %v; want b only", a.Leading(), b.Leading())
			}
			s.check(t)
		})
	}
}

func TestElector_Await(t *testing.T) {
	tbl := MustTable(t)
	a := newNode(t, tbl, "worker-a", nil)
	t.Run("ContextEnds", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := a.Await(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ElectionStopped", func(t *testing.T) {
		a.start(t)
		if _, err := a.Await(context.Background()); err != nil {
			t.Fatal(err)
		}
		a.stop(t)
		if _, err := a.Await(context.Background()); !errors.Is(err, ErrStopped) {
			t.Errorf("err = %v, want ErrStopped", err)
		}
		if err := a.Run(context.Background()); err == nil || err.Error() != "leader: Run called twice" {
			t.Errorf("second Run = %v", err)
		}
	})
}

func TestEnsureTable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ddb := emulator.DynamoDB(t)
	t.Run("CreatesOnceOnDemand", func(t *testing.T) {
		name := emulator.Name(t, "leader")
		for range 2 {
			if err := EnsureTable(ctx, ddb, name); err != nil {
				t.Fatal(err)
			}
		}
		d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		if k := d.Table.KeySchema; len(k) != 1 || *k[0].AttributeName != "LeaseKey" || k[0].KeyType != types.KeyTypeHash {
			t.Errorf("key schema = %+v, want LeaseKey HASH", k)
		}
		if d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", d.Table.BillingModeSummary)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		name := wrongKeyTable(t)
		err := EnsureTable(ctx, ddb, name)
		want := `leader table "` + name + `": wrong key schema: got key [ShardID HASH], want LeaseKey (string) as the only (hash) key`
		if !errors.Is(err, ErrTableSchema) || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		// The elector cannot work on it and says so instead of retrying.
		n := newNode(t, name, "worker-a", nil)
		if err := n.Run(ctx); !errors.Is(err, ErrTableSchema) || !strings.HasPrefix(err.Error(), "leader: ") {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestNew_BadConfig(t *testing.T) {
	ok := Config{Table: "t-leader", Name: "poller", LeaseDuration: 10 * time.Second, RenewInterval: 3 * time.Second, ID: "w"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"NoTable", func(c *Config) { c.Table = "" }, "new leader elector: poller.leader.table: required when poller.leader.enabled is true"},
		{"NoName", func(c *Config) { c.Name = "" }, "new leader elector: poller.leader.name: required when poller.leader.enabled is true"},
		{"NoID", func(c *Config) { c.ID = "" }, "new leader elector: id: required"},
		{"NoLease", func(c *Config) { c.LeaseDuration = 0 }, "new leader elector: poller.leader.lease_duration: got 0s, want at least 1s\npoller.leader.renew_interval: got 3s, want more than 0 and less than half of poller.leader.lease_duration (0s)"},
		{"SlowRenew", func(c *Config) { c.RenewInterval = 5 * time.Second }, "new leader elector: poller.leader.renew_interval: got 5s, want more than 0 and less than half of poller.leader.lease_duration (5s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := New(c, emulator.DynamoDB(t), NewMetrics(testRegistry()), testLog())
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestMetrics_Registered(t *testing.T) {
	reg := testRegistry()
	NewMetrics(reg)
	want := `
# HELP weatherd_poller_leader 1 while this instance holds the poller leadership (and may poll the weather API), else 0.
# TYPE weatherd_poller_leader gauge
weatherd_poller_leader 0
# HELP weatherd_poller_leader_transitions_total Poller leadership changes of this instance, by event (acquired, lost, released).
# TYPE weatherd_poller_leader_transitions_total counter
weatherd_poller_leader_transitions_total{event="acquired"} 0
weatherd_poller_leader_transitions_total{event="lost"} 0
weatherd_poller_leader_transitions_total{event="released"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "weatherd_poller_leader", "weatherd_poller_leader_transitions_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "weatherd_poller_leader_errors_total"); err != nil || n != 5 {
		t.Errorf("errors series = %d, %v; want 5", n, err)
	}
}

// wrongKeyTable creates a table keyed like the consumer's lease table.
func wrongKeyTable(t *testing.T) string {
	t.Helper()
	name := emulator.Name(t, "leader")
	if _, err := emulator.DynamoDB(t).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            &name,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("ShardID"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("ShardID"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// lostAnswer applies the next UpdateItem and then answers as a retry of it
// would: the condition failed (the first attempt had changed the item).
type lostAnswer struct {
	DynamoDBAPI
	armed atomic.Bool
	fired atomic.Int32
}

func (l *lostAnswer) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := l.DynamoDBAPI.UpdateItem(ctx, in, opts...)
	if err == nil && l.armed.CompareAndSwap(true, false) {
		l.fired.Add(1)
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	return out, err
}

func TestElector_RenewWhoseAnswerWasLostKeepsLeading(t *testing.T) {
	tbl := MustTable(t)
	l := &lostAnswer{DynamoDBAPI: emulator.DynamoDB(t)}
	a := newNode(t, tbl, "worker-a", l).start(t)
	waitFor(t, 10*time.Second, "leading", a.Leading)
	l.armed.Store(true)
	waitFor(t, 5*time.Second, "the lost answer", func() bool { return l.fired.Load() == 1 })
	renewed := item(t, tbl).counter
	waitFor(t, 10*leaseDuration, "two renewals after the lost answer", func() bool { return item(t, tbl).counter >= renewed+2 })
	if !a.Leading() || a.transitions(eventLost) != 0 {
		t.Errorf("leading %v, lost %d; want still leading", a.Leading(), a.transitions(eventLost))
	}
	before := item(t, tbl).counter
	a.stop(t)
	if r := item(t, tbl); r.owner != "" || r.counter <= before || a.transitions(eventReleased) != 1 {
		t.Errorf("after stop: item %+v (counter before %d), released %d; want released with a higher counter", r, before, a.transitions(eventReleased))
	}
}
