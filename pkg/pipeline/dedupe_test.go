package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// fakeSink records what the processor hands the lake and keeps the
// checkpointer it was given, so a test decides when "the lake" checkpoints.
type fakeSink struct {
	seqs    []string // records added, in order
	cp      stream.Checkpointer
	failAdd int // Add fails this many times
}

func (s *fakeSink) Add(_ context.Context, items []stream.Item, cp stream.Checkpointer) error {
	s.cp = cp
	if s.failAdd > 0 {
		s.failAdd--
		return errors.New("store down")
	}
	for _, it := range items {
		if n := len(s.seqs); n > 0 && !stream.SeqLess(s.seqs[n-1], it.Record.SequenceNumber) {
			continue // held already (a retried batch), like the lake
		}
		s.seqs = append(s.seqs, it.Record.SequenceNumber)
	}
	return nil
}

func (s *fakeSink) Tick(_ context.Context, cp stream.Checkpointer) error { s.cp = cp; return nil }

func (s *fakeSink) Flush(ctx context.Context, cp stream.Checkpointer) error {
	if len(s.seqs) == 0 {
		return nil
	}
	return cp.Checkpoint(ctx, s.seqs[len(s.seqs)-1])
}

func (s *fakeSink) Discard() {}

// stateCheckpoints is a driver's checkpointer that saves state.
type stateCheckpoints struct {
	seqs   []string
	states []string
}

func (c *stateCheckpoints) Checkpoint(ctx context.Context, seq string) error {
	return errors.New("plain Checkpoint called on a state checkpointer")
}

func (c *stateCheckpoints) CheckpointWithState(_ context.Context, seq string, state []byte) error {
	c.seqs = append(c.seqs, seq)
	c.states = append(c.states, string(state))
	return nil
}

type dedupeRig struct {
	sink    *fakeSink
	seen    []string // event ids the alert engine saw
	factory *Factory
}

func newDedupeRig() *dedupeRig {
	r := &dedupeRig{sink: &fakeSink{}}
	r.factory = &Factory{
		Stream: "weather-readings",
		Alerts: observerFunc(func(_ context.Context, rs []weather.Reading) error {
			for _, x := range rs {
				r.seen = append(r.seen, x.EventID)
			}
			return nil
		}),
		Lake:    func(string, string) ShardSink { return r.sink },
		Metrics: NewMetrics(prometheus.NewRegistry()),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),

		MaxClockSkew: time.Hour,
	}
	return r
}

func (r *dedupeRig) start(t *testing.T, from stream.Position) stream.Processor {
	t.Helper()
	p := r.factory.New()
	if err := p.Initialize(context.Background(), "shardId-000000000000", from); err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// obs is the record seq carrying location loc's observation at t0+minute.
func obs(t *testing.T, seq int, loc string, minute int) stream.Record {
	return record(t, seq, loc, t0.Add(time.Duration(minute)*time.Minute), 5)
}

func seqs(ns ...int) string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%020d", n))
	}
	return strings.Join(out, " ")
}

func TestDedupe_DropsDuplicatesKeepsLateReadings(t *testing.T) {
	r := newDedupeRig()
	p := r.start(t, stream.Position{Initial: "TRIM_HORIZON"})
	batch := []stream.Record{
		obs(t, 1, "a", 1),
		obs(t, 2, "a", 2),
		obs(t, 3, "a", 1), // duplicate
		obs(t, 4, "b", 1), // same time, other location
		obs(t, 5, "a", 0), // older than the latest, but new: kept
		obs(t, 6, "a", 2), // duplicate
	}
	// c: nine observations, then the first again (9 back: beyond K, kept)
	// and the ninth again (a duplicate).
	for i := 1; i <= 9; i++ {
		batch = append(batch, obs(t, 10+i, "c", i))
	}
	batch = append(batch, obs(t, 20, "c", 1), obs(t, 21, "c", 9))
	if err := p.ProcessRecords(context.Background(), batch, &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(r.sink.seqs, " "), seqs(1, 2, 4, 5, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20); got != want {
		t.Errorf("records handed to the lake:\n %s\nwant\n %s", got, want)
	}
	want := []string{"a/2026-11-27T09:01:00Z", "a/2026-11-27T09:02:00Z", "b/2026-11-27T09:01:00Z", "a/2026-11-27T09:00:00Z"}
	if fmt.Sprint(r.seen[:4]) != fmt.Sprint(want) || len(r.seen) != 14 {
		t.Errorf("alert engine saw %v, want %v then 10 of c", r.seen, want)
	}
	if got := testutil.ToFloat64(r.factory.Metrics.duplicates); got != 3 {
		t.Errorf("weatherd_consumer_duplicates_total = %v, want 3", got)
	}
	if got := testutil.ToFloat64(r.factory.Metrics.records); got != 17 {
		t.Errorf("weatherd_consumer_records_total = %v, want 17", got)
	}
}

func TestDedupe_StateAtACheckpointExcludesLaterRecords(t *testing.T) {
	r := newDedupeRig()
	p := r.start(t, stream.Position{Initial: "TRIM_HORIZON"})
	ctx := context.Background()
	cp := &stateCheckpoints{}
	batch := []stream.Record{obs(t, 1, "a", 1), obs(t, 2, "a", 2), obs(t, 3, "b", 1), obs(t, 4, "a", 3)}
	if err := p.ProcessRecords(ctx, batch, cp); err != nil {
		t.Fatal(err)
	}
	// The lake flushed up to record 2 only.
	if err := r.sink.cp.Checkpoint(ctx, seqs(2)); err != nil {
		t.Fatal(err)
	}
	u1, u2, u3 := t0.Add(time.Minute).Unix(), t0.Add(2*time.Minute).Unix(), t0.Add(3*time.Minute).Unix()
	if want := fmt.Sprintf(`{"v":1,"recent":{"a":[%d,%d]}}`, u1, u2); cp.states[0] != want {
		t.Fatalf("state at %s = %s, want %s", cp.seqs[0], cp.states[0], want)
	}
	if err := r.sink.cp.Checkpoint(ctx, seqs(4)); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"v":1,"recent":{"a":[%d,%d,%d],"b":[%d]}}`, u1, u2, u3, u1); cp.states[1] != want {
		t.Fatalf("state at %s = %s, want %s", cp.seqs[1], cp.states[1], want)
	}
	if fmt.Sprint(cp.seqs) != "["+seqs(2)+" "+seqs(4)+"]" {
		t.Errorf("checkpoints %v", cp.seqs)
	}
}

// TestDedupe_ResumeDropsReplayedDuplicateOnly: a new owner resumes from a
// checkpoint and its state. The records after the checkpoint are replayed
// and kept; an observation put again by the next poller leader is dropped.
func TestDedupe_ResumeDropsReplayedDuplicateOnly(t *testing.T) {
	r := newDedupeRig()
	p := r.start(t, stream.Position{Initial: "TRIM_HORIZON"})
	ctx := context.Background()
	cp := &stateCheckpoints{}
	if err := p.ProcessRecords(ctx, []stream.Record{obs(t, 1, "a", 1), obs(t, 2, "a", 2), obs(t, 3, "b", 1)}, cp); err != nil {
		t.Fatal(err)
	}
	if err := r.sink.cp.Checkpoint(ctx, seqs(2)); err != nil {
		t.Fatal(err)
	}
	// Crash: record 3 was processed but never checkpointed.

	r2 := newDedupeRig()
	p2 := r2.start(t, stream.Position{AfterSequence: seqs(2), State: []byte(cp.states[0])})
	replay := []stream.Record{
		obs(t, 3, "b", 1), // replayed: after the checkpoint, kept
		obs(t, 4, "a", 2), // put again by the next leader: dropped
		obs(t, 5, "b", 1), // put again: dropped (kept at 3 by this run)
		obs(t, 6, "a", 3),
	}
	if err := p2.ProcessRecords(ctx, replay, &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(r2.sink.seqs, " "), seqs(3, 6); got != want {
		t.Errorf("records handed to the lake after the resume: %s, want %s", got, want)
	}
	if got := testutil.ToFloat64(r2.factory.Metrics.duplicates); got != 2 {
		t.Errorf("duplicates = %v, want 2", got)
	}
}

// TestDedupe_RetriedBatchDecidesTheSame: a batch the consumer retries after
// an error is neither dropped as its own duplicate nor lets a duplicate in.
func TestDedupe_RetriedBatchDecidesTheSame(t *testing.T) {
	r := newDedupeRig()
	r.sink.failAdd = 1
	p := r.start(t, stream.Position{})
	ctx := context.Background()
	batch := []stream.Record{obs(t, 1, "a", 1), obs(t, 2, "a", 2), obs(t, 3, "a", 1)}
	if err := p.ProcessRecords(ctx, batch, &stateCheckpoints{}); err == nil {
		t.Fatal("first try: want the sink's error")
	}
	if err := p.ProcessRecords(ctx, batch, &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(r.sink.seqs, " "), seqs(1, 2); got != want {
		t.Errorf("records handed to the lake: %s, want %s", got, want)
	}
	// The trailing duplicate is dropped again on a replay from the state
	// at the lake's checkpoint (record 2).
	cp := &stateCheckpoints{}
	if err := p.Shutdown(ctx, stream.Requested, cp); err != nil {
		t.Fatal(err)
	}
	r2 := newDedupeRig()
	p2 := r2.start(t, stream.Position{AfterSequence: cp.seqs[0], State: []byte(cp.states[0])})
	if err := p2.ProcessRecords(ctx, batch[2:], &stateCheckpoints{}); err != nil {
		t.Fatal(err)
	}
	if len(r2.sink.seqs) != 0 {
		t.Errorf("replayed duplicate handed to the lake: %v", r2.sink.seqs)
	}
}

func TestDedupe_UnreadableStateStartsEmpty(t *testing.T) {
	for _, state := range []string{`not json`, `{"v":2,"recent":{}}`} {
		r := newDedupeRig()
		p := r.start(t, stream.Position{AfterSequence: seqs(1), State: []byte(state)})
		if err := p.ProcessRecords(context.Background(), []stream.Record{obs(t, 2, "a", 1)}, &stateCheckpoints{}); err != nil {
			t.Fatal(err)
		}
		if len(r.sink.seqs) != 1 {
			t.Errorf("state %q: %d records kept, want 1", state, len(r.sink.seqs))
		}
	}
}

// TestDedupe_StateBoundedInLocations: the saved state keeps at most
// maxStateLocations locations (forgetting those seen longest ago), which with
// 64-byte ids and K observations each stays well under DynamoDB's 400 KB item.
func TestDedupe_StateBoundedInLocations(t *testing.T) {
	d := newDedupe()
	id := func(i int) string { return fmt.Sprintf("%064d", i) }
	seq := 0
	for i := range maxStateLocations + 5 {
		for k := range recentPerLocation + 2 {
			seq++
			d.duplicate(id(i), int64(1_800_000_000+i*100+k), fmt.Sprintf("%020d", seq))
		}
	}
	recent := d.at(fmt.Sprintf("%020d", seq))
	if len(recent) != maxStateLocations {
		t.Fatalf("%d locations in the state, want %d", len(recent), maxStateLocations)
	}
	for i := range 5 {
		if _, ok := recent[id(i)]; ok {
			t.Errorf("location %d (seen longest ago) kept", i)
		}
	}
	if got := recent[id(7)]; len(got) != recentPerLocation || got[0] != 1_800_000_702 || got[7] != 1_800_000_709 {
		t.Errorf("location 7 keeps %v, want its last %d observations", got, recentPerLocation)
	}
	state, err := encodeState(recent)
	if err != nil {
		t.Fatal(err)
	}
	if len(state) > 350_000 {
		t.Errorf("state is %d bytes, want under 350000", len(state))
	}
	t.Logf("state of %d locations with 64-byte ids: %d bytes", len(recent), len(state))
}

// TestDedupe_StateBoundedInBytes: whatever the ids (a 200 KB one saved by
// a version that did not check them, ids JSON must escape) and times, the
// encoded state stays within MaxStateBytes, filled with the locations seen
// most recently.
func TestDedupe_StateBoundedInBytes(t *testing.T) {
	d := newDedupe()
	fat := strings.Repeat("f", 200_000)
	d.base[fat] = []int64{2_000_000_000}
	d.base["<&>\"\u2028"] = []int64{-62_135_596_800, 253_402_300_799}
	for i := range 1900 {
		d.base[fmt.Sprintf("old-%060d", i)] = []int64{1, 2, 3, 4, 5, 6, 7, int64(1_700_000_000 + i)}
	}
	recent := d.at(fmt.Sprintf("%020d", 1))
	state, err := encodeState(recent)
	if err != nil {
		t.Fatal(err)
	}
	if len(state) > MaxStateBytes || len(state) < MaxStateBytes-200 {
		t.Errorf("state is %d bytes, want at most %d and within one entry of it", len(state), MaxStateBytes)
	}
	if _, ok := recent[fat]; !ok {
		t.Error("the most recently seen location (the 200 KB id) was dropped")
	}
	if _, ok := recent[fmt.Sprintf("old-%060d", 1899)]; !ok {
		t.Error("the newest small location was dropped")
	}
	if _, ok := recent[fmt.Sprintf("old-%060d", 0)]; ok {
		t.Error("the oldest location was kept past the bound")
	}
	t.Logf("state of %d locations: %d bytes", len(recent), len(state))
}

// BenchmarkDedupe: the per-record cost of the duplicate check, 500
// locations, with a checkpoint (state computed, encoded and committed)
// every 5000 records.
func BenchmarkDedupe(b *testing.B) {
	d := newDedupe()
	locs := make([]string, 500)
	for i := range locs {
		locs[i] = fmt.Sprintf("location-%03d", i)
	}
	b.ReportAllocs()
	for i := range b.N {
		seq := fmt.Sprintf("%020d", i+1)
		d.duplicate(locs[i%len(locs)], int64(1_800_000_000+i/len(locs)*60), seq)
		if (i+1)%5000 == 0 {
			recent := d.at(seq)
			if _, err := encodeState(recent); err != nil {
				b.Fatal(err)
			}
			d.commit(seq, recent)
		}
	}
}

// TestDedupe_ChildShardInheritsParentsStates: after a merge, the child
// starts from both parents' saved states: an observation put on a parent
// before the reshard and again on the child after it is dropped, one the
// parents never saw is kept, and per location only the K newest of both
// parents count. An unreadable parent state is skipped, the other used.
func TestDedupe_ChildShardInheritsParentsStates(t *testing.T) {
	ctx := context.Background()
	parentState := func(recs ...stream.Record) []byte {
		r := newDedupeRig()
		p := r.start(t, stream.Position{Initial: "TRIM_HORIZON"})
		cp := &stateCheckpoints{}
		if err := p.ProcessRecords(ctx, recs, cp); err != nil {
			t.Fatal(err)
		}
		if err := p.Shutdown(ctx, stream.ShardEndReached, cp); err != nil {
			t.Fatal(err)
		}
		return []byte(cp.states[len(cp.states)-1])
	}
	// Left saw a at minutes 1..9 (its K=8 newest: 2..9) and b at 1; right saw a at 10.
	var left []stream.Record
	for m := 1; m <= 9; m++ {
		left = append(left, obs(t, m, "a", m))
	}
	left = append(left, obs(t, 10, "b", 1))
	right := parentState(obs(t, 11, "a", 10))
	for _, tc := range []struct {
		name    string
		parents [][]byte
		want    string // sequence numbers kept on the child
	}{
		// a@3 (among the newest 8 of both parents: 3..10), a@10 (right)
		// and b@1 (left) are repeats; a@2 fell out of the newest 8; c@1 is
		// new.
		{"BothParents", [][]byte{parentState(left...), right}, seqs(103, 105)},
		{"UnreadableParentSkipped", [][]byte{[]byte("not json"), right}, seqs(101, 103, 104, 105)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDedupeRig()
			p := r.start(t, stream.Position{Initial: "TRIM_HORIZON", ParentStates: tc.parents})
			child := []stream.Record{obs(t, 101, "a", 3), obs(t, 102, "a", 10), obs(t, 103, "a", 2), obs(t, 104, "b", 1), obs(t, 105, "c", 1)}
			if err := p.ProcessRecords(ctx, child, &stateCheckpoints{}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(r.sink.seqs, " "); got != tc.want {
				t.Errorf("records kept on the child: %s, want %s", got, tc.want)
			}
		})
	}
}
