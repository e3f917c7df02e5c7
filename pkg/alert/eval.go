package alert

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/weatherd/weatherd/pkg/weather"
)

// valueNames are the reading values a rule expression may use: Tomorrow.io's
// names in metric units (other providers are mapped to them).
var valueNames = []string{
	"cloudBase", "cloudCeiling", "cloudCover", "dewPoint", "evapotranspiration",
	"freezingRainIntensity", "hailProbability", "hailSize", "humidity",
	"iceAccumulation", "precipitationIntensity", "precipitationProbability",
	"precipitationType", "pressureSeaLevel", "pressureSurfaceLevel",
	"rainAccumulation", "rainIntensity", "sleetAccumulation", "sleetIntensity",
	"snowAccumulation", "snowDepth", "snowIntensity", "temperature",
	"temperatureApparent", "uvHealthConcern", "uvIndex", "visibility",
	"weatherCode", "windDirection", "windGust", "windSpeed",
}

// typeEnv declares every value as float64 so expressions are type-checked.
var typeEnv = func() map[string]any {
	m := make(map[string]any, len(valueNames))
	for _, n := range valueNames {
		m[n] = 0.0
	}
	return m
}()

// valueIndex maps each of valueNames to its slot in weather.Values (every
// one is a known name: TestValueNames_AreKnownSlots).
var valueIndex = func() map[string]int {
	m := make(map[string]int, len(valueNames))
	for _, n := range valueNames {
		if i, ok := weather.KnownIndex(n); ok {
			m[n] = i
		}
	}
	return m
}()

// condition is one compiled boolean expression and the values it reads.
type condition struct {
	src  string
	prog *vm.Program
	uses []string // in order of first use
	idx  []int    // weather.Values slot of each of uses
	mask uint64   // the bits of idx
	// check is the expression as Go code reading only the values it uses
	// (native.go), or nil when it uses more than numbers, comparisons,
	// arithmetic and logic: then the expr VM runs it.
	check func(*weather.Values) bool
}

// compileCondition compiles src against the value env and requires a boolean.
// Its errors are one line, fit for `weatherd validate`.
func compileCondition(src string) (*condition, error) {
	prog, err := expr.Compile(src, expr.Env(typeEnv), expr.AsBool())
	if err != nil {
		// expr's message is the first line; the rest is a source snippet.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		var fe *file.Error
		if errors.As(err, &fe) {
			if name, ok := strings.CutPrefix(fe.Message, "unknown name "); ok {
				return nil, fmt.Errorf("unknown field %q", name)
			}
		}
		if rest, ok := strings.CutPrefix(msg, "expected bool, but got "); ok {
			return nil, fmt.Errorf("must be a boolean expression, got %s", rest)
		}
		return nil, errors.New(msg)
	}
	c := &condition{src: src, prog: prog}
	seen := map[string]bool{}
	ast.Find(prog.Node(), func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok {
			if i, known := valueIndex[id.Value]; known && !seen[id.Value] {
				seen[id.Value] = true
				c.uses = append(c.uses, id.Value)
				c.idx = append(c.idx, i)
				c.mask |= 1 << i
			}
		}
		return false
	})
	c.check, _ = nativeBool(prog.Node())
	return c, nil
}

// evaluator holds what running conditions on the expr VM needs between
// readings (conditions without a native check): the reading's values the
// condition reads, the environment the programs read, and a VM whose stack
// is reused. It is not safe for concurrent use: Observe makes one per call.
type evaluator struct {
	vm    vm.VM
	env   map[string]any // what the programs read
	slots []slot         // by weather.Values slot
}

// slot is one of valueNames in an evaluator.
type slot struct {
	// val is the reading's value for the rule being judged (read by
	// evaluator.read); a missing or null value is NaN and not present.
	val     float64
	present bool
	// inEnv means env holds exactly envVal, so an unchanged value is not
	// stored (and boxed) again.
	inEnv  bool
	envVal float64
}

// newEvaluator returns an evaluator whose storage is made at its first use:
// the default rules never need it.
func newEvaluator() *evaluator { return &evaluator{} }

// read loads the values at idx (weather.Values slots).
func (ev *evaluator) read(values *weather.Values, idx []int) {
	if ev.env == nil {
		ev.env = make(map[string]any, len(valueNames))
		ev.slots = make([]slot, weather.NumKnown)
	}
	for _, i := range idx {
		v, ok := values.At(i)
		if !ok {
			v = math.NaN()
		}
		ev.slots[i].val, ev.slots[i].present = v, ok
	}
}

// put makes env hold slot i's value.
func (ev *evaluator) put(i int) {
	s := &ev.slots[i]
	if s.inEnv && math.Float64bits(s.envVal) == math.Float64bits(s.val) {
		return
	}
	ev.env[weather.KnownName(i)] = s.val
	s.inEnv, s.envVal = true, s.val
}

// eval runs the condition on values. Missing and null values are NaN, so
// any comparison with them is false. ok is false when none of the values
// the condition reads is present: the reading says nothing about it.
func (c *condition) eval(values *weather.Values, ev *evaluator) (result, ok bool, err error) {
	if set, _ := values.Numbers(); set&c.mask == 0 {
		return false, false, nil
	}
	if c.check != nil {
		return c.check(values), true, nil
	}
	ev.read(values, c.idx)
	for _, i := range c.idx {
		ev.put(i)
	}
	out, err := ev.vm.Run(c.prog, ev.env)
	if err != nil {
		return false, true, fmt.Errorf("evaluate %q: %w", c.src, err)
	}
	b, _ := out.(bool)
	return b, true, nil
}

// compiledRule is a compiled alerts.rules[] entry.
type compiledRule struct {
	RuleConfig
	// usedLabels are the labels of every value the rule reads: the labels
	// of most of its events, shared by them (see labels).
	usedLabels map[string]string
	index      int
	fire       *condition
	clear      *condition      // nil: not fire
	low        map[string]bool // values whose lowest forecast matters (lowValues)
}

func compileRule(i int, rc RuleConfig) (*compiledRule, error) {
	r := &compiledRule{RuleConfig: rc, index: i}
	var err error
	if r.fire, err = compileCondition(rc.Expr); err != nil {
		return nil, fmt.Errorf("rule %q expr: %w", rc.Name, err)
	}
	if rc.Clear != "" {
		if r.clear, err = compileCondition(rc.Clear); err != nil {
			return nil, fmt.Errorf("rule %q clear: %w", rc.Name, err)
		}
	}
	r.low = lowValues(r.fire)
	used := map[string]float64{}
	for _, c := range []*condition{r.fire, r.clear} {
		if c != nil {
			for _, n := range c.uses {
				used[n] = 0
			}
		}
	}
	r.usedLabels = r.labels(used)
	return r, nil
}

// Matches reports whether the rule applies to the location id.
func (r *compiledRule) matches(locationID string) bool {
	for _, sel := range r.Locations {
		if ok, _ := path.Match(sel, locationID); ok {
			return true
		}
	}
	return false
}

// verdict is what one reading says about a rule.
type verdict int

const (
	unknown verdict = iota // the reading has none of the values the rule reads
	holds                  // expr is true
	cleared                // clear is true (default: expr is false)
	between                // neither: inside the hysteresis band
)

func (r *compiledRule) judge(values *weather.Values, ev *evaluator) (verdict, error) {
	fire, ok, err := r.fire.eval(values, ev)
	if err != nil || !ok {
		return unknown, err
	}
	if fire {
		return holds, nil
	}
	if r.clear == nil {
		return cleared, nil
	}
	clr, ok, err := r.clear.eval(values, ev)
	if err != nil {
		return unknown, err
	}
	if ok && clr {
		return cleared, nil
	}
	return between, nil
}
