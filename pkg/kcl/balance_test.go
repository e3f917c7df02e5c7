package kcl

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/weatherd/weatherd/pkg/stream"
)

func TestPlanTakes(t *testing.T) {
	owned := func(owners ...string) []slot {
		var s []slot
		for i, o := range owners {
			s = append(s, slot{ShardID: fmt.Sprintf("s%d", i), Owner: o})
		}
		return s
	}
	tests := []struct {
		name    string
		slots   []slot
		max     int
		pending bool
		want    plan
	}{
		{"AllFreeAlone", owned("", "", "", ""), 0, false, plan{Take: []string{"s0", "s1", "s2", "s3"}, Target: 4}},
		{"CappedByMax", owned("", "", "", ""), 3, false, plan{Take: []string{"s0", "s1", "s2"}, Target: 3}},
		{"FreeShareWithOther", owned("b", "b", "", ""), 0, false, plan{Take: []string{"s2", "s3"}, Target: 2}},
		{"AtShare", owned("me", "me", "b", "b"), 0, false, plan{Target: 2}},
		{"StealFromAboveShare", owned("b", "b", "b", "b", "me", "c"), 0, false, plan{Steal: "s0", Target: 2}},
		{"NoStealFromShareWhenOneBelow", owned("b", "b", "b", "c", "c", "c", "me", "me"), 0, false, plan{Target: 3}},
		{"StealFromShareWhenTwoBelow", owned("b", "b", "b", "c", "c", "c", "me"), 0, false, plan{Steal: "s0", Target: 3}},
		{"OneStealAtATime", owned("b", "b", "b", "b", "me", "c"), 0, true, plan{Target: 2}},
		{"FreeBeforeSteal", owned("b", "b", "b", "", "me"), 0, false, plan{Take: []string{"s3"}, Target: 3}},
		{"SkipClaimed", []slot{{"s0", "b", true}, {"s1", "b", false}, {"s2", "b", false}, {"s3", "b", false}}, 0, false, plan{Steal: "s1", Target: 2}},
		{"Nothing", nil, 0, false, plan{Target: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planTakes("me", tt.slots, tt.max, tt.pending)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("planTakes = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestPlanTakes_Converges runs the balancer for W workers over S shards,
// each worker seeing only the owners of leases (as in the table), starting
// from the worst case where every worker saw all leases free, and checks
// that every count ends at ⌊S/W⌋ or ⌈S/W⌉ within a bounded number of passes
// and then stays there.
func TestPlanTakes_Converges(t *testing.T) {
	for _, tc := range []struct{ shards, workers int }{{6, 3}, {7, 3}, {4, 1}, {2, 3}, {10, 4}, {16, 5}, {1, 2}} {
		t.Run(fmt.Sprintf("S%dW%d", tc.shards, tc.workers), func(t *testing.T) {
			owner := make([]string, tc.shards)
			workers := make([]string, tc.workers)
			for i := range workers {
				workers[i] = fmt.Sprintf("w%d", i)
			}
			for i := range owner {
				owner[i] = workers[0] // the first to start took everything
			}
			counts := func() []int {
				c := map[string]int{}
				for _, o := range owner {
					c[o]++
				}
				out := make([]int, len(workers))
				for i, w := range workers {
					out[i] = c[w]
				}
				return out
			}
			balanced := func() bool {
				lo, hi := tc.shards/tc.workers, (tc.shards+tc.workers-1)/tc.workers
				for _, n := range counts() {
					if n < lo || n > hi {
						return false
					}
				}
				return true
			}
			pass := 0
			for ; pass < 4*tc.shards+4 && !balanced(); pass++ {
				for _, me := range workers {
					slots := make([]slot, len(owner))
					for i, o := range owner {
						slots[i] = slot{ShardID: fmt.Sprint(i), Owner: o}
					}
					p := planTakes(me, slots, 0, false)
					for _, id := range p.Take {
						var i int
						fmt.Sscan(id, &i)
						owner[i] = me
					}
					if p.Steal != "" {
						var i int
						fmt.Sscan(p.Steal, &i)
						owner[i] = me // the handover completes before the next pass
					}
				}
			}
			if !balanced() {
				t.Fatalf("after %d passes counts are %v", pass, counts())
			}
			before := append([]string(nil), owner...)
			for _, me := range workers {
				slots := make([]slot, len(owner))
				for i, o := range owner {
					slots[i] = slot{ShardID: fmt.Sprint(i), Owner: o}
				}
				if p := planTakes(me, slots, 0, false); len(p.Take) > 0 || p.Steal != "" {
					t.Fatalf("balanced counts %v, yet %s plans %+v", counts(), me, p)
				}
			}
			if !reflect.DeepEqual(before, owner) {
				t.Fatal("owners changed")
			}
			sorted := counts()
			sort.Ints(sorted)
			t.Logf("balanced after %d passes: %v", pass, sorted)
		})
	}
}

func TestExpiryTracker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := newExpiryTracker(10 * time.Second)
	a := lease{ShardID: "a", AssignedTo: "w1", LeaseTimeout: "2000-01-01T00:00:00Z", Counter: 3, HasCounter: true}
	tr.observe(t0, []lease{a})
	if tr.expired(t0.Add(9*time.Second), a) {
		t.Fatal("expired after 9s, want not before 10s")
	}
	if !tr.expired(t0.Add(10*time.Second), a) {
		t.Fatal("not expired after 10s unchanged")
	}
	// A renewal restarts the clock, whatever its LeaseTimeout says.
	renewed := a
	renewed.Counter = 4
	tr.observe(t0.Add(8*time.Second), []lease{renewed})
	if tr.expired(t0.Add(17*time.Second), renewed) {
		t.Fatal("expired 9s after a renewal")
	}
	if !tr.expired(t0.Add(18*time.Second), renewed) {
		t.Fatal("not expired 10s after the renewal")
	}
	// A lease whose version differs from the one observed is not expired.
	if tr.expired(t0.Add(time.Hour), a) {
		t.Fatal("stale version reported expired")
	}
	// Never observed: the clock has not started.
	if tr.expired(t0.Add(time.Hour), lease{ShardID: "b"}) {
		t.Fatal("unseen lease reported expired")
	}
	// vmware-written item (no counter): its LeaseTimeout is the version.
	v := lease{ShardID: "v", AssignedTo: "vm", LeaseTimeout: "2026-01-01T00:00:10Z"}
	tr.observe(t0, []lease{v})
	if tr.s.Len() != 1 {
		t.Fatalf("tracker holds %d leases, want 1 (a dropped from the table)", tr.s.Len())
	}
	v2 := v
	v2.LeaseTimeout = "2026-01-01T00:00:20Z"
	tr.observe(t0.Add(5*time.Second), []lease{v2})
	if tr.expired(t0.Add(12*time.Second), v2) || !tr.expired(t0.Add(15*time.Second), v2) {
		t.Fatal("vmware lease expiry not timed from its last LeaseTimeout change")
	}
}

func TestEligible(t *testing.T) {
	shards := map[string]shardInfo{
		"p":  {ID: "p", Closed: true},
		"q":  {ID: "q", Closed: true},
		"m":  {ID: "m", Parents: []string{"p", "q"}},
		"c":  {ID: "c", Parents: []string{"gone"}},
		"o":  {ID: "o"},
		"nl": {ID: "nl", Parents: []string{"x"}},
		"x":  {ID: "x"},
	}
	leases := map[string]lease{
		"p":  {ShardID: "p", Checkpoint: stream.ShardEnd},
		"q":  {ShardID: "q", Checkpoint: "49590"},
		"m":  {ShardID: "m", Parent: "p"}, // vmware item: only one parent recorded
		"c":  {ShardID: "c", Parent: "gone"},
		"o":  {ShardID: "o"},
		"nl": {ShardID: "nl"},
		"t":  {ShardID: "t"}, // trimmed from the stream
	}
	tests := []struct {
		id   string
		want bool
	}{
		{"p", false}, // finished
		{"q", true},
		{"m", false}, // adjacent parent q not finished (known from ListShards)
		{"c", true},  // parent trimmed
		{"o", true},
		{"nl", false}, // parent in stream, no lease yet
		{"t", false},  // not in the stream
	}
	for _, tt := range tests {
		if got := eligible(leases[tt.id], leases, shards); got != tt.want {
			t.Errorf("eligible(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
	q := leases["q"]
	q.Checkpoint = stream.ShardEnd
	leases["q"] = q
	if !eligible(leases["m"], leases, shards) {
		t.Error("merge child not eligible once both parents are finished")
	}
}

func TestStartPosition(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{InitialPosition: AtTimestamp, InitialAt: at}
	shards := map[string]shardInfo{
		"child": {ID: "child", Parents: []string{"parent"}}, "parent": {ID: "parent"}, "root": {ID: "root"},
		"merged": {ID: "merged", Parents: []string{"left", "right"}}, "left": {ID: "left"}, "right": {ID: "right"},
		"split": {ID: "split", Parents: []string{"stateless"}}, "stateless": {ID: "stateless"},
	}
	leases := map[string]lease{
		"left":      {ShardID: "left", Checkpoint: stream.ShardEnd, State: []byte("L")},
		"right":     {ShardID: "right", Checkpoint: stream.ShardEnd, State: []byte("R")},
		"stateless": {ShardID: "stateless", Checkpoint: stream.ShardEnd},
	}
	tests := []struct {
		name string
		l    lease
		want stream.Position
	}{
		{"Checkpoint", lease{ShardID: "root", Checkpoint: "4959"}, stream.Position{AfterSequence: "4959"}},
		{"CheckpointWithState", lease{ShardID: "root", Checkpoint: "4959", State: []byte("s")}, stream.Position{AfterSequence: "4959", State: []byte("s")}},
		{"JavaSentinel", lease{ShardID: "root", Checkpoint: TrimHorizon}, stream.Position{Initial: TrimHorizon}},
		{"JavaSentinelAtTimestamp", lease{ShardID: "root", Checkpoint: AtTimestamp}, stream.Position{Initial: AtTimestamp, At: at}},
		{"Child", lease{ShardID: "child"}, stream.Position{Initial: TrimHorizon}},
		{"MergeChildGetsBothParentsStates", lease{ShardID: "merged", Parent: "left", AdjacentParent: "right"},
			stream.Position{Initial: TrimHorizon, ParentStates: [][]byte{[]byte("L"), []byte("R")}}},
		{"ChildOfParentWithoutState", lease{ShardID: "split", Parent: "stateless"}, stream.Position{Initial: TrimHorizon}},
		{"ChildWithCheckpointKeepsOwnState", lease{ShardID: "merged", Parent: "left", AdjacentParent: "right", Checkpoint: "4960", State: []byte("own")},
			stream.Position{AfterSequence: "4960", State: []byte("own")}},
		{"Root", lease{ShardID: "root"}, stream.Position{Initial: AtTimestamp, At: at}},
		{"OrphanChild", lease{ShardID: "orphan", Parent: "trimmed"}, stream.Position{Initial: AtTimestamp, At: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := startPosition(tt.l, leases, shards, cfg); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("startPosition = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHashGaps(t *testing.T) {
	shard := func(lo, hi string, closed bool) types.Shard {
		s := types.Shard{
			HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(lo), EndingHashKey: aws.String(hi)},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
		}
		if closed {
			s.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
		}
		return s
	}
	max := "340282366920938463463374607431768211455"
	half := "170141183460469231731687303715884105727"
	half1 := "170141183460469231731687303715884105728"
	if g := hashGaps([]types.Shard{shard("0", max, true), shard("0", half, false), shard(half1, max, false)}); len(g) != 0 {
		t.Fatalf("gaps = %v, want none", g)
	}
	g := hashGaps([]types.Shard{shard("0", max, true), shard("0", half, false)})
	if want := []string{half1 + "-" + max}; !reflect.DeepEqual(g, want) {
		t.Fatalf("gaps = %v, want %v", g, want)
	}
	g = hashGaps([]types.Shard{shard("10", max, false)})
	if want := []string{"0-9"}; !reflect.DeepEqual(g, want) {
		t.Fatalf("gaps = %v, want %v", g, want)
	}
}

func TestBackoff(t *testing.T) {
	for attempt, max := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		for range 50 {
			if d := backoff(attempt, time.Second); d < max/2 || d > max {
				t.Fatalf("backoff(%d) = %s, want %s..%s", attempt, d, max/2, max)
			}
		}
	}
	if d := backoff(30, time.Second); d > time.Second || d < 500*time.Millisecond {
		t.Fatalf("backoff(30) = %s, want capped at 1s", d)
	}
}
