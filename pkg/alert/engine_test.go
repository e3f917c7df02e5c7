package alert

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/weather"
)

func TestEngine_Observe(t *testing.T) {
	gust := func(loc string, min int, v any) weather.Reading { return rd(loc, min, "windGust", v) }
	forDur := func(d time.Duration) func(*RuleConfig) { return func(r *RuleConfig) { r.For = d } }
	repeat := func(d time.Duration) func(*RuleConfig) { return func(r *RuleConfig) { r.Repeat = d } }
	clear := func(s string) func(*RuleConfig) { return func(r *RuleConfig) { r.Clear = s } }
	tier := func(g string, n int) func(*RuleConfig) { return func(r *RuleConfig) { r.Group, r.Tier = g, n } }
	wind := func(n int) RuleConfig {
		return rule(fmt.Sprintf("wind-%d", n), fmt.Sprintf("windGust > %d", n), tier("wind", n))
	}

	tests := []struct {
		name    string
		rules   []RuleConfig
		batches [][]weather.Reading
		want    []string       // "state rule location" of delivered messages, in order
		trans   map[string]int // "rule/state" -> count
	}{
		{
			name:  "ForDurationFiresAfterConditionHeld",
			rules: []RuleConfig{rule("gusty", "windGust >= 20", forDur(10*time.Minute))},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("toronto", 5, 25)},
				{gust("toronto", 10, 25), gust("toronto", 15, 25)},
			},
			want:  []string{"firing gusty toronto"},
			trans: map[string]int{"gusty/pending": 1, "gusty/firing": 1},
		},
		{
			name:  "ForDurationRestartsWhenConditionBreaks",
			rules: []RuleConfig{rule("gusty", "windGust >= 20", forDur(10*time.Minute))},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("toronto", 5, 10), gust("toronto", 10, 25), gust("toronto", 15, 25)},
			},
			want:  []string{},
			trans: map[string]int{"gusty/pending": 2, "gusty/inactive": 1, "gusty/firing": 0},
		},
		{
			name:  "HysteresisHoldsInsideTheBand",
			rules: []RuleConfig{rule("gusty", "windGust >= 20", clear("windGust < 14"))},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("toronto", 5, 17), gust("toronto", 10, 21), gust("toronto", 15, 15)},
				{gust("toronto", 20, 13)},
			},
			want:  []string{"firing gusty toronto", "resolved gusty toronto"},
			trans: map[string]int{"gusty/firing": 1, "gusty/resolved": 1},
		},
		{
			name:  "DefaultClearIsNotExpr",
			rules: []RuleConfig{rule("gusty", "windGust >= 20")},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("toronto", 5, 19), gust("toronto", 10, 20)},
			},
			want:  []string{"firing gusty toronto", "resolved gusty toronto", "firing gusty toronto"},
			trans: map[string]int{"gusty/firing": 2, "gusty/resolved": 1},
		},
		{
			name:  "RepeatWhileFiring",
			rules: []RuleConfig{rule("gusty", "windGust >= 20", repeat(time.Hour))},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("toronto", 20, 25), gust("toronto", 40, 25)},
				{gust("toronto", 60, 25), gust("toronto", 80, 25), gust("toronto", 100, 25), gust("toronto", 120, 25)},
			},
			want:  []string{"firing gusty toronto", "firing gusty toronto", "firing gusty toronto"},
			trans: map[string]int{"gusty/firing": 1, "gusty/repeat": 2},
		},
		{
			name:  "OutOfOrderAndReplayedReadingsAreIgnored",
			rules: []RuleConfig{rule("gusty", "windGust >= 20")},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("toronto", 10, 5), gust("toronto", 5, 25)},
				{gust("toronto", 0, 25), gust("toronto", 10, 5), gust("toronto", 5, 25)},
			},
			want:  []string{"firing gusty toronto", "resolved gusty toronto"},
			trans: map[string]int{"gusty/firing": 1, "gusty/resolved": 1},
		},
		{
			name:  "MissingValuesDoNotEvaluate",
			rules: []RuleConfig{rule("gusty", "windGust >= 20 || windSpeed >= 14")},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), rd("toronto", 5, "temperature", 3), gust("toronto", 10, nil)},
				{rd("toronto", 15, "windGust", nil, "windSpeed", 15), rd("toronto", 20, "windSpeed", 3)},
			},
			// Readings with none of the rule's values (5: absent, 10: null) say
			// nothing; with one present the other is NaN (comparisons false):
			// at 15 windSpeed keeps it firing, at 20 it resolves.
			want:  []string{"firing gusty toronto", "resolved gusty toronto"},
			trans: map[string]int{"gusty/firing": 1, "gusty/resolved": 1},
		},
		{
			name:  "TiersEscalateOneBatchAtATime",
			rules: []RuleConfig{wind(20), wind(30), wind(40)},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25)}, {gust("toronto", 5, 35)}, {gust("toronto", 10, 45)},
				{gust("toronto", 15, 25)}, {gust("toronto", 20, 10)},
			},
			want: []string{"firing wind-20 toronto", "firing wind-30 toronto", "firing wind-40 toronto",
				"resolved wind-20 toronto"},
			trans: map[string]int{"wind-20/firing": 1, "wind-30/firing": 1, "wind-40/firing": 1,
				"wind-20/resolved": 1, "wind-30/resolved": 1, "wind-40/resolved": 1},
		},
		{
			name:  "TiersInOneBatchSendOnlyTheHighest",
			rules: []RuleConfig{wind(20), wind(30), wind(40)},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 45), gust("sao-paulo", 0, 33)},
				{gust("toronto", 5, 10), gust("sao-paulo", 5, 10)},
			},
			// Delivery goes location by location, in id order.
			want: []string{"firing wind-30 sao-paulo", "firing wind-40 toronto",
				"resolved wind-30 sao-paulo", "resolved wind-40 toronto"},
			trans: map[string]int{"wind-20/firing": 2, "wind-30/firing": 2, "wind-40/firing": 1,
				"wind-20/resolved": 2, "wind-30/resolved": 2, "wind-40/resolved": 1},
		},
		{
			name: "TiersSuppressLowerRepeats",
			rules: []RuleConfig{
				rule("wind-20", "windGust > 20", tier("wind", 1), repeat(time.Hour)),
				rule("wind-30", "windGust > 30", tier("wind", 2), repeat(time.Hour)),
			},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25)}, {gust("toronto", 30, 35)}, {gust("toronto", 60, 35)}, {gust("toronto", 90, 35)},
			},
			// wind-20 repeats at 60 but wind-30 fires: suppressed; wind-30 repeats at 90.
			want:  []string{"firing wind-20 toronto", "firing wind-30 toronto", "firing wind-30 toronto"},
			trans: map[string]int{"wind-20/repeat": 1, "wind-30/repeat": 1},
		},
		{
			name:  "LocationSelectors",
			rules: []RuleConfig{rule("gusty", "windGust >= 20", func(r *RuleConfig) { r.Locations = []string{"sao-*"} })},
			batches: [][]weather.Reading{
				{gust("toronto", 0, 25), gust("sao-paulo", 0, 25)},
			},
			want:  []string{"firing gusty sao-paulo"},
			trans: map[string]int{"gusty/firing": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig(tc.rules...), Deps{})
			for _, b := range tc.batches {
				h.observe(t, b...)
			}
			if got := h.rec["rec"].lines(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
			}
			for k, want := range tc.trans {
				r, st, _ := strings.Cut(k, "/")
				if got := h.transitions(r, st); got != want {
					t.Errorf("transitions{%s,%s} = %d, want %d", r, st, got, want)
				}
			}
			if n := h.e.outboxLen.Load(); n != 0 {
				t.Errorf("outbox holds %d entries, want 0", n)
			}
		})
	}
}

func TestEngine_ObserveManyLocations(t *testing.T) {
	cfg := testConfig(
		rule("gusty", "windGust >= 20"),
		rule("rainy", "rainIntensity >= 7.6", func(r *RuleConfig) { r.Clear = "rainIntensity < 2.5" }),
	)
	h := newHarness(t, cfg, Deps{})
	const locs, steps = 200, 12
	// Location i has gusts over 20 at steps where (step+i)%4 == 0 and rain at
	// step 6 only for even i: per location 3 gusty firings+resolutions, and
	// even locations one rain firing (resolved at step 7).
	for s := 0; s < steps; s++ {
		var batch []weather.Reading
		for i := 0; i < locs; i++ {
			g := 5.0
			if (s+i)%4 == 0 {
				g = 25
			}
			rain := 0.0
			if s == 6 && i%2 == 0 {
				rain = 9
			}
			batch = append(batch, rd(fmt.Sprintf("loc-%03d", i), s*5, "windGust", g, "rainIntensity", rain))
		}
		h.observe(t, batch...)
	}
	var firings, resolved int
	for _, l := range h.rec["rec"].lines() {
		switch {
		case strings.HasPrefix(l, "firing "):
			firings++
		case strings.HasPrefix(l, "resolved "):
			resolved++
		}
	}
	// gusty: steps 0..11, each location hits (s+i)%4==0 exactly 3 times; the
	// last hit resolves unless it was at step 11 (locations with i%4 == 1).
	wantGustFire, wantGustRes := 3*locs, 3*locs-locs/4
	if got := h.transitions("gusty", "firing"); got != wantGustFire {
		t.Errorf("gusty firing = %d, want %d", got, wantGustFire)
	}
	if got := h.transitions("gusty", "resolved"); got != wantGustRes {
		t.Errorf("gusty resolved = %d, want %d", got, wantGustRes)
	}
	if got := h.transitions("rainy", "firing"); got != locs/2 {
		t.Errorf("rainy firing = %d, want %d", got, locs/2)
	}
	if firings != wantGustFire+locs/2 || resolved != wantGustRes+locs/2 {
		t.Errorf("messages: %d firing, %d resolved; want %d, %d", firings, resolved, wantGustFire+locs/2, wantGustRes+locs/2)
	}
	if got := h.notifications("rec", outcomeSent); got != firings+resolved {
		t.Errorf("sent = %d, want %d", got, firings+resolved)
	}
}

func TestEngine_ObserveConcurrentShards(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	errs := make(chan error, 4)
	for shard := 0; shard < 4; shard++ {
		go func() {
			var err error
			for s := 0; s < 50 && err == nil; s++ {
				g := 5
				if s%2 == 0 {
					g = 25
				}
				err = h.e.Observe(context.Background(), []weather.Reading{
					rd(fmt.Sprintf("shard%d-a", shard), s, "windGust", g),
					rd(fmt.Sprintf("shard%d-b", shard), s, "windGust", g),
				})
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	h.deliver()
	if got := len(h.rec["rec"].lines()); got != 8*50 {
		t.Errorf("messages = %d, want %d", got, 8*50)
	}
}

func TestEngine_FailedDeliveryIsKeptAndRetried(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	rec := h.rec["rec"]
	rec.fail = 3
	h.observe(t, rd("toronto", 0, "windGust", 25)) // attempt 1 fails
	if got := h.e.outboxLen.Load(); got != 1 {
		t.Fatalf("outbox = %d, want 1", got)
	}
	for i := 0; i < 3; i++ {
		h.clk.Set(h.clk.Now().Add(h.e.maxBackoff))
		h.e.Tick(context.Background())
	}
	if got := rec.lines(); !reflect.DeepEqual(got, []string{"firing gusty toronto"}) {
		t.Errorf("messages = %q", got)
	}
	if got, want := h.notifications("rec", outcomeFailed), 3; got != want {
		t.Errorf("failed = %d, want %d", got, want)
	}
	if got := h.e.outboxLen.Load(); got != 0 {
		t.Errorf("outbox = %d, want 0", got)
	}
}

func TestEngine_ObserveOutboxFull(t *testing.T) {
	cfg := testConfig(rule("gusty", "windGust >= 20"))
	cfg.Outbox.Limit = 2
	h := newHarness(t, cfg, Deps{})
	h.rec["rec"].fail = 1000
	h.observe(t, rd("toronto", 0, "windGust", 25), rd("toronto", 5, "windGust", 5))
	err := h.e.Observe(context.Background(), []weather.Reading{rd("toronto", 10, "windGust", 25)})
	if !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("Observe = %v, want ErrOutboxFull", err)
	}
	// Once delivery works again the same batch goes through, losing nothing.
	h.rec["rec"].fail = 0
	h.clk.Set(t0.Add(time.Hour))
	h.e.Tick(context.Background())
	h.observe(t, rd("toronto", 10, "windGust", 25))
	want := []string{"firing gusty toronto", "resolved gusty toronto", "firing gusty toronto"}
	if got := h.rec["rec"].lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
}

// TestNew_LocationsShareTheirZone: locations in one time zone share one
// *time.Location, so the engine's zone data grows with the number of zones,
// not of locations (a load is a few KiB: 270 MiB at 100,000 locations).
func TestNew_LocationsShareTheirZone(t *testing.T) {
	var locs []weather.Location
	for i := range 300 {
		tz := []string{"America/Sao_Paulo", "Europe/Lisbon", ""}[i%3]
		locs = append(locs, weather.Location{ID: fmt.Sprintf("l%03d", i), Name: "L", Timezone: tz})
	}
	e, err := New(testConfig(rule("r", "temperature > 30")), locs, Deps{}, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[*time.Location]int{}
	for _, z := range e.zones {
		distinct[z]++
	}
	if len(e.zones) != 200 || len(distinct) != 2 {
		t.Fatalf("%d locations with a zone, %d distinct *time.Location; want 200 sharing 2", len(e.zones), len(distinct))
	}
	if got := e.zone("l001").String(); got != "Europe/Lisbon" {
		t.Errorf("zone of l001 = %s, want Europe/Lisbon", got)
	}
}

// calmHarness is an engine with rule gusty (windGust > 20) that has seen
// one calm reading at each of n locations, calm-0000 on.
func calmHarness(t *testing.T, n int) *harness {
	h := newHarness(t, testConfig(rule("gusty", "windGust > 20")), Deps{})
	var calm []weather.Reading
	for i := range n {
		calm = append(calm, rd(fmt.Sprintf("calm-%04d", i), 1, "windGust", 5))
	}
	h.observe(t, calm...)
	return h
}

// lockedKeys returns the location ids of one of the engine's location sets,
// read under its mutex.
func lockedKeys(mu *sync.Mutex, set map[string]*locState) []string {
	mu.Lock()
	defer mu.Unlock()
	return slices.Collect(maps.Keys(set))
}

// TestEngine_DeliveryWalksQueuedLocations: a delivery round visits the
// locations with outbox entries, not every location the engine knows
// (walking and sorting 100,000 of them every second was a quarter of the
// process's CPU); a location leaves the set once its entries are sent.
func TestEngine_DeliveryWalksQueuedLocations(t *testing.T) {
	h := calmHarness(t, 1000)
	queued := func() []string { return lockedKeys(&h.e.queuedMu, h.e.queued) }
	if q := queued(); len(h.e.locs) != 1000 || len(q) != 0 {
		t.Fatalf("%d locations known, %d queued after readings that notify nothing; want 1000, 0", len(h.e.locs), len(q))
	}
	if err := h.e.Observe(context.Background(), []weather.Reading{rd("calm-0007", 2, "windGust", 25)}); err != nil {
		t.Fatal(err)
	}
	if q := queued(); len(q) != 1 || q[0] != "calm-0007" {
		t.Fatalf("queued %q after calm-0007 fired, want [calm-0007]", q)
	}
	h.deliver()
	if got := h.rec["rec"].lines(); len(got) != 1 || !strings.Contains(got[0], "calm-0007") {
		t.Fatalf("sent %q, want calm-0007's firing notice", got)
	}
	if q := queued(); len(q) != 0 {
		t.Errorf("queued %q after delivery, want none", q)
	}
}

// TestEngine_TickWalksLiveLocations: the once-a-second expiry and sweep
// walk the locations with an active alert, not every location: one joins
// when its alert fires and leaves at the first tick after it resolves.
func TestEngine_TickWalksLiveLocations(t *testing.T) {
	h := calmHarness(t, 1000)
	live := func() []string { return lockedKeys(&h.e.liveMu, h.e.live) }
	if l := live(); len(h.e.locs) != 1000 || len(l) != 0 {
		t.Fatalf("%d locations known, %d live after readings that fire nothing; want 1000, 0", len(h.e.locs), len(l))
	}
	h.observe(t, rd("calm-0007", 2, "windGust", 25))
	h.e.Tick(context.Background())
	if l := live(); len(l) != 1 || l[0] != "calm-0007" {
		t.Fatalf("live %q while calm-0007 fires, want [calm-0007]", l)
	}
	h.observe(t, rd("calm-0007", 3, "windGust", 5))
	if l := live(); len(l) != 1 {
		t.Fatalf("live %q before a tick, want calm-0007 still (dropped by the walk)", l)
	}
	h.e.Tick(context.Background())
	if l := live(); len(l) != 0 {
		t.Errorf("live %q after calm-0007 resolved and a tick, want none", l)
	}
}

// TestEngine_QuietRulesHoldNoAlert: a location whose rules never fire holds
// no cached alert per rule, and still ignores a reading older than the
// newest it judged; the first transition caches the rule's alert.
func TestEngine_QuietRulesHoldNoAlert(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust > 20"), rule("hot", "temperature > 30")), Deps{})
	var calm []weather.Reading
	for i := range 100 {
		calm = append(calm, rd(fmt.Sprintf("calm-%03d", i), 5, "windGust", 5, "temperature", 20))
	}
	h.observe(t, calm...)
	for id, ls := range h.e.locs {
		if len(ls.alerts) != 0 {
			t.Fatalf("%s caches %d alerts after readings that fire nothing, want 0", id, len(ls.alerts))
		}
	}
	h.observe(t, rd("calm-007", 3, "windGust", 25, "temperature", 20)) // older than the reading at minute 5
	if ls := h.e.locs["calm-007"]; len(ls.alerts) != 0 {
		t.Fatalf("an older reading was judged: %d alerts cached", len(ls.alerts))
	}
	h.observe(t, rd("calm-007", 6, "windGust", 25, "temperature", 20))
	ls := h.e.locs["calm-007"]
	if a := ls.alerts.Get("gusty"); a == nil || a.Phase != phaseFiring || len(ls.alerts) != 1 {
		t.Fatalf("after a gust at minute 6: alerts %v, want gusty firing and nothing else cached", ls.alerts)
	}
	h.deliver()
	if got := h.rec["rec"].lines(); len(got) != 1 || !strings.Contains(got[0], "calm-007") {
		t.Fatalf("sent %q, want calm-007's firing notice", got)
	}
	// A delivered notification leaves no outbox behind, in the cache or the
	// store: an emptied outbox's array held the delivered event.
	if a := ls.alerts.Get("gusty"); a.Outbox != nil {
		t.Fatalf("cached gusty after delivery: outbox len %d cap %d, want nil", len(a.Outbox), cap(a.Outbox))
	}
	if a, _, _ := h.e.store.Get(context.Background(), "calm-007", "gusty"); a.Outbox != nil || a.Seq != 1 {
		t.Fatalf("stored gusty after delivery: seq %d, outbox len %d cap %d, want seq 1 and nil", a.Seq, len(a.Outbox), cap(a.Outbox))
	}
}

// TestEngine_OlderReadingIgnoredByACachedAlert: a reading older than one
// already judged is not judged again by a rule whose alert is cached, though
// the alert records only transitions (its LastEval stays at the firing).
func TestEngine_OlderReadingIgnoredByACachedAlert(t *testing.T) {
	h := newHarness(t, testConfig(rule("gusty", "windGust >= 20")), Deps{})
	h.observe(t, rd("toronto", 0, "windGust", 30))  // fires
	h.observe(t, rd("toronto", 10, "windGust", 25)) // still firing: nothing recorded
	a := h.e.locs["toronto"].alerts.Get("gusty")
	if a == nil || a.Phase != phaseFiring || !a.LastEval.Equal(t0) || a.Seq != 1 {
		t.Fatalf("gusty after minutes 0 and 10 = %+v, want firing, seq 1, last evaluated at minute 0", a)
	}
	h.observe(t, rd("toronto", 5, "windGust", 5)) // older than minute 10: would resolve it
	if a := h.e.locs["toronto"].alerts.Get("gusty"); a.Phase != phaseFiring || a.Seq != 1 {
		t.Fatalf("a reading older than one judged resolved gusty: %+v", a)
	}
	h.observe(t, rd("toronto", 11, "windGust", 5))
	if a := h.e.locs["toronto"].alerts.Get("gusty"); a.Phase != phaseInactive || a.Seq != 2 || !a.LastEval.Equal(t0.Add(11*time.Minute)) {
		t.Fatalf("gusty after a calm minute 11 = %+v, want resolved at minute 11 (seq 2)", a)
	}
}
