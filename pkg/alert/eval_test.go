package alert

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/weatherd/weatherd/pkg/weather"
)

// TestEngine_RulesPerLocation checks the rules each location's state keeps
// (matched once, in configuration order) and that only they are evaluated.
func TestEngine_RulesPerLocation(t *testing.T) {
	loc := func(sel ...string) func(*RuleConfig) { return func(r *RuleConfig) { r.Locations = sel } }
	cfg := testConfig(
		rule("all", "windGust >= 20"),
		rule("sao", "windGust >= 20", loc("sao-*")),
		rule("toronto-or-x", "windGust >= 20", loc("toronto", "x-[0-9]")),
		rule("nowhere", "windGust >= 20", loc("nowhere")),
	)
	h := newHarness(t, cfg, Deps{})
	want := map[string][]string{
		"sao-paulo": {"all", "sao"},
		"sao-luis":  {"all", "sao"},
		"toronto":   {"all", "toronto-or-x"},
		"x-7":       {"all", "toronto-or-x"},
		"x-77":      {"all"},
		"lima":      {"all"},
	}
	var batch []weather.Reading
	for _, id := range []string{"sao-paulo", "sao-luis", "toronto", "x-7", "x-77", "lima"} {
		batch = append(batch, rd(id, 0, "windGust", 25.0), rd(id, 5, "windGust", 5.0))
	}
	h.observe(t, batch...)
	for id, names := range want {
		var got []string
		for _, r := range h.e.loc(id).rules {
			got = append(got, r.Name)
		}
		if !reflect.DeepEqual(got, names) {
			t.Errorf("rules of %s = %q, want %q", id, got, names)
		}
	}
	for r, n := range map[string]int{"all": 6, "sao": 2, "toronto-or-x": 2, "nowhere": 0} {
		if got := h.transitions(r, kindFiring); got != n {
			t.Errorf("transitions{%s,firing} = %d, want %d", r, got, n)
		}
		if got := h.transitions(r, kindResolved); got != n {
			t.Errorf("transitions{%s,resolved} = %d, want %d", r, got, n)
		}
	}
}

// TestEvaluator_ReusedMatchesFresh judges random readings (values present,
// null, missing, repeated, NaN, ±0) with one evaluator reused across rules
// and readings, as Observe does, and checks every verdict against a fresh
// expr.Run on an environment built from scratch.
func TestEvaluator_ReusedMatchesFresh(t *testing.T) {
	var rules []*compiledRule
	for i, rc := range []RuleConfig{
		rule("wind", "windGust >= 17.2 || windSpeed >= 13.9", func(r *RuleConfig) { r.Clear = "windGust < 14 && windSpeed < 11" }),
		rule("rain", "rainIntensity >= 7.6", func(r *RuleConfig) { r.Clear = "rainIntensity < 2.5" }),
		rule("calm", "windGust < 1"),
		rule("signs", "windSpeed != windSpeed || 1 / temperature < 0", func(r *RuleConfig) { r.Clear = "temperature > 1" }),
		rule("shapes", "not (windGust - windSpeed * 2 > -1.5) and (rainIntensity == 7.6 || 25 <= windGust)",
			func(r *RuleConfig) { r.Clear = "!(windSpeed != 0) && -temperature / 2 + 1 >= +rainIntensity" }),
		rule("ints", "windGust == 25 or windSpeed > -0 * temperature", func(r *RuleConfig) { r.Clear = "1 < temperature && temperature <= 12" }),
		rule("const", "true && windGust >= 2 + 3", func(r *RuleConfig) { r.Clear = "false || windGust < 5" }),
		rule("vm", "max(windGust, windSpeed) >= 17.2", func(r *RuleConfig) { r.Clear = "windGust in [0, 1, 2.5]" }),
	} {
		r, err := compileRule(i, rc)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	choices := []any{"missing", nil, 0.0, math.Copysign(0, -1), 1.0, 2.5, 7.6, 12.0, 13.9, 17.2, 25.0, math.NaN(), math.Inf(1)}
	names := []string{"windGust", "windSpeed", "rainIntensity", "temperature"}
	rnd := rand.New(rand.NewPCG(1, 2))
	ev := newEvaluator()
	counts := map[verdict]int{}
	for n := 0; n < 5000; n++ {
		vals := weather.Values{}
		for _, name := range names {
			switch c := choices[rnd.IntN(len(choices))].(type) {
			case nil:
				vals.SetNull(name)
			case float64:
				vals.Set(name, c)
			}
		}
		for _, r := range rules {
			got, err := r.judge(&vals, ev)
			if err != nil {
				t.Fatalf("judge %s on %v: %v", r.Name, vals, err)
			}
			want := freshJudge(t, r, vals)
			if got != want {
				t.Fatalf("reading %d, rule %s, values %v: verdict %d, fresh %d", n, r.Name, vals, got, want)
			}
			counts[got]++
		}
	}
	// Every rule but "vm" runs natively; "vm" keeps the expr VM covered.
	for _, r := range rules {
		native := r.fire.check != nil && (r.clear == nil || r.clear.check != nil)
		if native != (r.Name != "vm") || r.Name == "vm" && (r.fire.check != nil || r.clear.check != nil) {
			t.Errorf("rule %s: expr %q native %v, clear native %v", r.Name, r.fire.src, r.fire.check != nil, r.clear == nil || r.clear.check != nil)
		}
	}
	for _, v := range []verdict{unknown, holds, cleared, between} {
		if counts[v] == 0 {
			t.Errorf("no reading got verdict %d (%v): the test does not cover it", v, counts)
		}
	}
}

// freshJudge is Rule.judge with nothing reused: each condition runs on a new
// environment of its own values (NaN when missing or null).
func freshJudge(t *testing.T, r *compiledRule, vals weather.Values) verdict {

	t.Helper()
	run := func(c *condition) (result, ok bool) {
		env := map[string]any{}
		for _, n := range c.uses {
			v, present := vals.Get(n)
			if present {
				ok = true
			} else {
				v = math.NaN()
			}
			env[n] = v
		}
		if !ok {
			return false, false
		}
		out, err := expr.Run(c.prog, env)
		if err != nil {
			t.Fatalf("run %q: %v", c.src, err)
		}
		return out.(bool), true
	}
	fire, ok := run(r.fire)
	switch {
	case !ok:
		return unknown
	case fire:
		return holds
	case r.clear == nil:
		return cleared
	}
	if clr, ok := run(r.clear); ok && clr {
		return cleared
	}
	return between
}

// TestValueNames_AreKnownSlots: every value a rule may use has a slot in
// weather.Values, which the native checks and the evaluator index.
func TestValueNames_AreKnownSlots(t *testing.T) {
	for _, n := range valueNames {
		i, ok := weather.KnownIndex(n)
		if !ok || valueIndex[n] != i {
			t.Errorf("%s: slot %d, %v; valueIndex %d", n, i, ok, valueIndex[n])
		}
	}
}

// TestRule_LabelsSharedWhenEveryValueIsUsed: an event carrying every value
// its rule reads gets the rule's one labels map; any other set of values
// gets its own, with exactly its keys.
func TestRule_LabelsSharedWhenEveryValueIsUsed(t *testing.T) {
	r, err := compileRule(0, RuleConfig{Name: "gusty", Expr: "windGust > 20 && temperature < 5", Clear: "windGust < 10",
		Labels: map[string]string{"windGust": "rafales"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"windGust": "rafales", "temperature": "temperature"}
	all := r.labels(map[string]float64{"windGust": 25, "temperature": 1})
	if !reflect.DeepEqual(all, want) || reflect.ValueOf(all).Pointer() != reflect.ValueOf(r.usedLabels).Pointer() {
		t.Errorf("labels of every used value = %v (shared %v), want %v, shared", all, reflect.ValueOf(all).Pointer() == reflect.ValueOf(r.usedLabels).Pointer(), want)
	}
	some := r.labels(map[string]float64{"windGust": 25})
	if !reflect.DeepEqual(some, map[string]string{"windGust": "rafales"}) {
		t.Errorf("labels of one value = %v, want only windGust's", some)
	}
	if other := r.labels(map[string]float64{"windGust": 25, "humidity": 80}); len(other) != 2 || other["humidity"] == "" {
		t.Errorf("labels of a value the rule does not read = %v", other)
	}
}
