package alert

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/weatherd/weatherd/pkg/alert/state"

	"github.com/weatherd/weatherd/pkg/weather"
)

// ValueNames are the reading values a rule expression may use: Tomorrow.io's
// names in metric units (other providers are mapped to them).
var ValueNames = []string{
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
	m := make(map[string]any, len(ValueNames))
	for _, n := range ValueNames {
		m[n] = 0.0
	}
	return m
}()

// condition is one compiled boolean expression and the values it reads.
type condition struct {
	src  string
	prog *vm.Program
	uses []string
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
			if _, known := typeEnv[id.Value]; known && !seen[id.Value] {
				seen[id.Value] = true
				c.uses = append(c.uses, id.Value)
			}
		}
		return false
	})
	return c, nil
}

// eval runs the condition on values. Missing and null values are NaN, so any
// comparison with them is false. ok is false when none of the values the
// condition reads is present: the reading says nothing about it.
func (c *condition) eval(values weather.Values, env map[string]any) (result, ok bool, err error) {
	for _, n := range c.uses {
		v, present := values.Get(n)
		if present {
			ok = true
		} else {
			v = math.NaN()
		}
		env[n] = v
	}
	if !ok {
		return false, false, nil
	}
	out, err := expr.Run(c.prog, env)
	if err != nil {
		return false, true, fmt.Errorf("evaluate %q: %w", c.src, err)
	}
	b, _ := out.(bool)
	return b, true, nil
}

// Rule is a compiled alerts.rules[] entry.
type Rule struct {
	RuleConfig
	index int
	fire  *condition
	clear *condition // nil: not fire
}

func compileRule(i int, rc RuleConfig) (*Rule, error) {
	r := &Rule{RuleConfig: rc, index: i}
	var err error
	if r.fire, err = compileCondition(rc.Expr); err != nil {
		return nil, fmt.Errorf("rule %q expr: %w", rc.Name, err)
	}
	if rc.Clear != "" {
		if r.clear, err = compileCondition(rc.Clear); err != nil {
			return nil, fmt.Errorf("rule %q clear: %w", rc.Name, err)
		}
	}
	return r, nil
}

// Matches reports whether the rule applies to the location id.
func (r *Rule) Matches(locationID string) bool {
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

func (r *Rule) judge(values weather.Values, env map[string]any) (verdict, error) {
	fire, ok, err := r.fire.eval(values, env)
	if err != nil || !ok {
		return unknown, err
	}
	if fire {
		return holds, nil
	}
	if r.clear == nil {
		return cleared, nil
	}
	clr, ok, err := r.clear.eval(values, env)
	if err != nil {
		return unknown, err
	}
	if ok && clr {
		return cleared, nil
	}
	return between, nil
}

// Phases of an alert (state.Alert.Phase): inactive -> pending -> firing ->
// inactive again once resolved.
const (
	Inactive = "inactive"
	Pending  = "pending"
	Firing   = "firing"
)

// Transition kinds, also the state label of weatherd_alert_transitions_total
// and the "state" message attribute.
const (
	KindPending  = "pending"  // condition started to hold; waiting out `for`
	KindCanceled = "inactive" // condition stopped holding before `for` passed
	KindFiring   = "firing"
	KindRepeat   = "repeat"
	KindResolved = "resolved"
	KindSummary  = "summary" // held notifications of one alert merged into one
	KindDigest   = "digest"
)

// step advances one alert's state with a reading observed at t. It returns
// the transition kind ("" for none).
func step(a *state.Alert, r *Rule, v verdict, t time.Time) string {
	switch a.Phase {
	case Inactive, "":
		if v != holds {
			return ""
		}
		a.Since = t
		if r.For <= 0 {
			a.Phase = Firing
			a.FiredAt = t
			a.LastNotified = t
			return KindFiring
		}
		a.Phase = Pending
		return KindPending
	case Pending:
		switch v {
		case holds:
			if t.Sub(a.Since) >= r.For {
				a.Phase = Firing
				a.FiredAt = t
				a.LastNotified = t
				return KindFiring
			}
		case cleared, between:
			// Not holding any more: the wait starts over next time.
			a.Phase = Inactive
			a.Since = time.Time{}
			return KindCanceled
		}
	case Firing:
		switch v {
		case cleared:
			a.Phase = Inactive
			a.ResolvedAt = t
			return KindResolved
		case holds, between:
			if r.Repeat > 0 && t.Sub(a.LastNotified) >= r.Repeat {
				a.LastNotified = t
				return KindRepeat
			}
		}
	}
	return ""
}
