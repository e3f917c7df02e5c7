package alert

import (
	"context"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/weather"
)

func dynamoConfig(tb testing.TB) Config {
	cfg := testConfig(rule("gusty", "windGust >= 20"))
	cfg.State = StateConfig{Driver: "dynamodb", Table: emulator.Name(tb, "alert-state")}
	return cfg
}

// TestEngine_DynamoDBRestart: the first engine records a firing but cannot
// publish it and stops; a new engine on the same table sends it exactly once
// (after the first engine's claim expires) and ignores the replayed reading.
func TestEngine_DynamoDBRestart(t *testing.T) {
	ctx := context.Background()
	db := emulator.DynamoDB(t)
	cfg := dynamoConfig(t)
	h1 := newHarness(t, cfg, Deps{DynamoDB: db})
	h1.rec["rec"].fail = 1 << 30
	fire := rd("toronto", 0, "windGust", 25)
	h1.observe(t, fire)
	if got := h1.transitions("gusty", "firing"); got != 1 {
		t.Fatalf("first engine: %d firings", got)
	}
	pending, err := state.NewDynamoDB(db, cfg.State.Table).Pending(ctx)
	if err != nil || len(pending) != 1 || len(pending[0].Outbox) != 1 {
		t.Fatalf("stored outbox: %+v, %v", pending, err)
	}

	// "Restart": a new engine, new owner id, empty cache, same table.
	h2 := newHarness(t, cfg, Deps{DynamoDB: db})
	h2.observe(t, fire) // the uncheckpointed reading comes again
	h2.e.Tick(ctx)      // the first engine's claim is still valid
	if got := h2.rec["rec"].lines(); len(got) != 0 || h2.transitions("gusty", "firing") != 0 {
		t.Fatalf("before the claim expired: messages %q, firings %d", got, h2.transitions("gusty", "firing"))
	}
	h2.clk.Set(t0.Add(claimTTL))
	h2.e.Tick(ctx)
	h2.e.Tick(ctx)
	h2.observe(t, rd("toronto", 10, "windGust", 5))
	h2.e.Tick(ctx)
	want := []string{"firing gusty toronto", "resolved gusty toronto"}
	if got := h2.rec["rec"].lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("messages after restart = %q, want %q", got, want)
	}
	if n := h2.e.outboxLen.Load(); n != 0 {
		t.Errorf("outbox = %d, want 0", n)
	}
	pending, err = state.NewDynamoDB(db, cfg.State.Table).Pending(ctx)
	if err != nil || len(pending) != 0 {
		t.Errorf("stored outbox after delivery: %d alerts, %v", len(pending), err)
	}
}

// TestEngine_DynamoDBTwoEngines: two engines given the same readings (a
// lease steal) record and publish each transition once between them.
func TestEngine_DynamoDBTwoEngines(t *testing.T) {
	db := emulator.DynamoDB(t)
	cfg := dynamoConfig(t)
	hs := []*harness{newHarness(t, cfg, Deps{DynamoDB: db}), newHarness(t, cfg, Deps{DynamoDB: db})}
	var batches [][]weather.Reading
	for i := 0; i < 10; i++ {
		g := 5
		if i%2 == 0 {
			g = 25
		}
		batches = append(batches, []weather.Reading{rd("toronto", i*5, "windGust", g), rd("sao-paulo", i*5, "windGust", 30-g)})
	}
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range batches {
				h.observe(t, b...)
			}
		}()
	}
	wg.Wait()
	var all []string
	firings, resolutions := 0, 0
	for _, h := range hs {
		all = append(all, h.rec["rec"].lines()...)
		firings += h.transitions("gusty", "firing")
		resolutions += h.transitions("gusty", "resolved")
	}
	sort.Strings(all)
	// toronto fires at 0,10,20,30,40 and resolves at 5..45; sao-paulo the reverse.
	var want []string
	for i := 0; i < 5; i++ {
		want = append(want, "firing gusty sao-paulo", "firing gusty toronto", "resolved gusty toronto")
	}
	for i := 0; i < 4; i++ { // sao-paulo's last firing (at 45) is not resolved
		want = append(want, "resolved gusty sao-paulo")
	}
	sort.Strings(want)
	if !reflect.DeepEqual(all, want) {
		t.Errorf("messages (%d):\n got %q\nwant %q", len(all), all, want)
	}
	if firings != 10 || resolutions != 9 {
		t.Errorf("transitions recorded: %d firing, %d resolved; want 10, 9", firings, resolutions)
	}
}

// TestEngine_DynamoDBShardMove: an engine whose cache is stale (the location
// moved away and back) decides on the stored state, not its cache.
func TestEngine_DynamoDBShardMove(t *testing.T) {
	db := emulator.DynamoDB(t)
	cfg := dynamoConfig(t)
	a, b := newHarness(t, cfg, Deps{DynamoDB: db}), newHarness(t, cfg, Deps{DynamoDB: db})
	b.observe(t, rd("toronto", 0, "windGust", 5))   // b owns toronto: inactive
	a.observe(t, rd("toronto", 5, "windGust", 25))  // moved to a: fires
	b.observe(t, rd("toronto", 10, "windGust", 25)) // back to b: still firing, no repeat
	b.observe(t, rd("toronto", 15, "windGust", 5))  // resolves
	if got, want := a.rec["rec"].lines(), []string{"firing gusty toronto"}; !reflect.DeepEqual(got, want) {
		t.Errorf("a sent %q, want %q", got, want)
	}
	if got, want := b.rec["rec"].lines(), []string{"resolved gusty toronto"}; !reflect.DeepEqual(got, want) {
		t.Errorf("b sent %q, want %q", got, want)
	}
}
