package alert

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/expr-lang/expr/ast"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/weather"
)

// This file holds forecast rules: a rule with a forecast block judges each
// forecast's steps instead of readings, and announces the weather before it
// comes (forecast_transition.go is its state machine). Their notices go
// through the same routing, outbox and state store as realtime ones.

// ForecastConfig is a rule's forecast block.
type ForecastConfig struct {
	// Within is how far ahead of the forecast's issue time steps count.
	Within time.Duration `mapstructure:"within"`
	// UpdateShift is how far the onset must move for an update notice
	// (0: defaultUpdateShift).
	UpdateShift time.Duration `mapstructure:"update_shift"`
	// Realtime names the realtime rule that takes over when the weather
	// comes: its firing ends the forecast alert without a notice.
	Realtime string `mapstructure:"realtime"`
}

func (f ForecastConfig) isZero() bool { return f == ForecastConfig{} }

// ForecastRules names the rules with a forecast block, in configuration
// order.
func (c Config) ForecastRules() []string {
	var out []string
	for _, r := range c.Rules {
		if !r.Forecast.isZero() {
			out = append(out, r.Name)
		}
	}
	return out
}

// maxForecastWithin is the longest forecast horizon a provider gives
// (16 days of hourly steps).
const maxForecastWithin = 384 * time.Hour

func (r *compiledRule) isForecast() bool { return !r.Forecast.isZero() }

func (r *compiledRule) updateShift() time.Duration {
	if r.Forecast.UpdateShift > 0 {
		return r.Forecast.UpdateShift
	}
	return defaultUpdateShift
}

// summary is the rule's human name: summary, or its name spelled out
// ("strong-wind" -> "Strong wind").
func (r *compiledRule) summary() string {
	if r.Summary != "" {
		return r.Summary
	}
	s := strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c == '.' {
			return ' '
		}
		return c
	}, r.Name)
	rs := []rune(s)
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

// labels are the human names of vals' keys: the rule's labels, else the
// built-in ones.
func (r *compiledRule) labels(vals map[string]float64) map[string]string {
	if len(vals) == 0 {
		return nil
	}
	if len(vals) == len(r.usedLabels) && everyKeyIn(vals, r.usedLabels) {
		return r.usedLabels // shared: a labels map is never changed (state.Alert.Values)
	}
	out := make(map[string]string, len(vals))
	for n := range vals {
		if l := r.Labels[n]; l != "" {
			out[n] = l
		} else {
			out[n] = notify.Label(n)
		}
	}
	return out
}

func everyKeyIn[V, W any](m map[string]V, in map[string]W) bool {
	for k := range m {
		if _, ok := in[k]; !ok {
			return false
		}
	}
	return true
}

// validateMessages checks a rule's summary and labels.
func validateMessages(rk string, r RuleConfig, ps *check.Problems) {
	if len(r.Summary) > 100 {
		ps.Add(check.Key(rk, "summary"), "is %d bytes, want at most 100", len(r.Summary))
	}
	names := make([]string, 0, len(r.Labels))
	for n := range r.Labels {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		_, known := valueIndex[n]
		switch l := r.Labels[n]; {
		case !known:
			ps.Add(check.Key(check.Key(rk, "labels"), n), "unknown value %q (want one of the reading values, e.g. windGust)", n)
		case strings.TrimSpace(l) == "" || len(l) > 40:
			ps.Add(check.Key(check.Key(rk, "labels"), n), "got %q, want 1-40 characters", l)
		}
	}
}

// validateForecast checks rules[i]'s forecast block, and that a group does
// not mix forecast and realtime rules (their tiers could not compare).
func validateForecast(rk string, rules []RuleConfig, i int, ps *check.Problems) {
	r := rules[i]
	isFc := !r.Forecast.isZero()
	if r.Group != "" {
		for j := 0; j < i; j++ {
			if rules[j].Group == r.Group && rules[j].Forecast.isZero() == isFc {
				ps.Add(check.Key(rk, "group"), "group %q mixes forecast and realtime rules (see rules[%d]); use one group for each", r.Group, j)
				break
			}
		}
	}
	if !isFc {
		return
	}
	fk := check.Key(rk, "forecast")
	if r.Forecast.Within <= 0 || r.Forecast.Within > maxForecastWithin {
		ps.Add(check.Key(fk, "within"), "got %s, want how far ahead to look, from 1m to %s (e.g. 12h)", r.Forecast.Within, maxForecastWithin)
	}
	if r.Forecast.UpdateShift < 0 {
		ps.Add(check.Key(fk, "update_shift"), "got %s, want a duration >= 0 (0: default %s)", r.Forecast.UpdateShift, defaultUpdateShift)
	}
	if name := r.Forecast.Realtime; name != "" {
		k := slices.IndexFunc(rules, func(o RuleConfig) bool { return o.Name == name })
		switch {
		case k < 0:
			ps.Add(check.Key(fk, "realtime"), "unknown rule %q", name)
		case !rules[k].Forecast.isZero():
			ps.Add(check.Key(fk, "realtime"), "rule %q is a forecast rule; want a realtime rule", name)
		}
	}
	for _, f := range []struct {
		key string
		set bool
	}{{"for", r.For != 0}, {"repeat", r.Repeat != 0}, {"clear", r.Clear != ""}} {
		if f.set {
			ps.Add(check.Key(rk, f.key), "not used by forecast rules (the forecast's steps decide); remove it")
		}
	}
}

// lowValues are the values c compares with < or <= (x < 0, or 0 > x): for
// those the interesting extreme is the lowest (a frost's low), for the
// others the highest (a storm's strongest gust).
func lowValues(c *condition) map[string]bool {
	low := map[string]bool{}
	ast.Find(c.prog.Node(), func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return false
		}
		l, lok := b.Left.(*ast.IdentifierNode)
		r, rok := b.Right.(*ast.IdentifierNode)
		switch {
		case lok && (b.Operator == "<" || b.Operator == "<="):
			low[l.Value] = true
		case rok && (b.Operator == ">" || b.Operator == ">="):
			low[r.Value] = true
		}
		return false
	})
	return low
}

// prediction is what one forecast says about a forecast rule.
type prediction struct {
	known bool // a step inside the horizon has a value the rule reads
	// gap: the first such step does not hold, so whatever was going on has
	// ended.
	gap      bool
	onset    time.Time // the first step where expr holds; zero: not expected
	extremes []state.Extreme
}

// predict judges the forecast's steps inside the rule's horizon. With
// skipOngoing, steps holding at the start of the forecast are the weather
// already there (the realtime rule's business), not a prediction.
func (r *compiledRule) predict(f *weather.Forecast, ev *evaluator, skipOngoing bool) (prediction, error) {
	var p prediction
	end := f.IssuedAt.Add(r.Forecast.Within)
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.ValidAt.Before(f.IssuedAt) {
			continue
		}
		if s.ValidAt.After(end) {
			break
		}
		holds, known, err := r.fire.eval(&s.Values, ev)
		if err != nil {
			return prediction{}, err
		}
		if !known {
			continue
		}
		if !p.known {
			p.known, p.gap = true, !holds
		}
		if p.onset.IsZero() {
			if !holds {
				skipOngoing = false
				continue
			}
			if skipOngoing {
				continue
			}
			p.onset = s.ValidAt
		} else if !holds {
			break // the expected event is over: its extremes are complete
		}
		p.extremes = r.extend(p.extremes, &s.Values)
	}
	return p, nil
}

// extend folds the values the rule's expr reads into the extremes.
func (r *compiledRule) extend(ext []state.Extreme, values *weather.Values) []state.Extreme {
	if ext == nil {
		ext = make([]state.Extreme, 0, len(r.fire.uses))
		for _, n := range r.fire.uses {
			ext = append(ext, state.Extreme{Name: n, Value: math.NaN(), Low: r.low[n]})
		}
	}
	for k, i := range r.fire.idx {
		v, ok := values.At(i)
		if !ok {
			continue
		}
		x := &ext[k]
		if x.Value != x.Value || (x.Low && v < x.Value) || (!x.Low && v > x.Value) {
			x.Value = v
		}
	}
	return ext
}

// ObserveForecast judges a forecast with the forecast rules of its
// location. Like Observe, when it returns nil every notice the forecast
// caused is in the outbox; an error means it must be observed again. A
// forecast issued no later than the last one judged is ignored (a replay,
// or a late one).
func (e *Engine) ObserveForecast(ctx context.Context, f weather.Forecast) error {
	id := f.Location.ID
	ls := e.loc(id)
	if !slices.ContainsFunc(ls.rules, (*compiledRule).isForecast) {
		return nil
	}
	if err := e.init(ctx); err != nil {
		return err
	}
	start := time.Now()
	defer func() { e.m.evaluation.Observe(time.Since(start).Seconds()) }()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err := e.refresh(ctx, id, ls); err != nil {
		return err
	}
	defer ls.endBatch()
	ev := newEvaluator()
	for _, rule := range ls.rules {
		if !rule.isForecast() {
			continue
		}
		if err := e.evaluateForecast(ctx, ls, rule, &f, ev); err != nil {
			return err
		}
	}
	if f.IssuedAt.After(ls.quietIssued) {
		ls.quietIssued = f.IssuedAt
	}
	e.m.pending.Set(float64(e.outboxLen.Load()))
	return nil
}

// evaluateForecast takes one forecast through one forecast rule, with the
// stages of evaluate: judge the steps, transition, route, record.
func (e *Engine) evaluateForecast(ctx context.Context, ls *locState, rule *compiledRule, f *weather.Forecast, ev *evaluator) error {
	id := f.Location.ID
	var uncached state.Alert // the alert of a rule with none cached (locState.quietIssued)
	for attempt := 0; ; attempt++ {
		a := ls.alerts.Get(rule.Name)
		if a == nil {
			uncached = state.Alert{Location: id, Rule: rule.Name, Phase: phaseInactive}
			a = &uncached
		}
		if !f.IssuedAt.After(a.LastEval) || !f.IssuedAt.After(ls.quietIssued) {
			return nil // a replay, or older than what was already judged
		}
		decided := *a
		decided.LastEval = f.IssuedAt
		ended := occur(&decided, rule, f.IssuedAt)
		p, err := rule.predict(f, ev, decided.Occurred || e.linkedFiring(ls, rule))
		if err != nil {
			e.log.Warn("forecast rule evaluation failed; forecast skipped for it", "rule", rule.Name, "event_id", f.EventID, "err", err)
			return nil
		}
		kind := stepForecast(&decided, rule, p, f.IssuedAt)
		if kind == "" {
			kind = ended
		}
		if kind == "" && decided.Occurred == a.Occurred {
			return nil // nothing to record, as in evaluate
		}
		// Silences and inhibition mute a notice as they mute a firing
		// (silence.go).
		m, err := e.muteNotice(ctx, ls, rule, &decided, kind)
		if err != nil {
			return fmt.Errorf("decide muting of %s at %s: %w", rule.Name, id, err)
		}
		next := decided.Clone()
		var outcomes []outcome
		if kind != "" {
			next.Seq++
			if m.reason == "" {
				outcomes = e.forecastNotifications(ls, rule, &next, m.kind, f, p, a.Onset)
			}
		}
		retry, err := e.commit(ctx, ls, rule, a, &next, kind, attempt)
		if retry {
			continue
		}
		if err != nil {
			return err
		}
		if ended != "" && ended != kind {
			e.m.transitions.WithLabelValues(rule.Name, ended).Inc()
		}
		if kind != "" {
			e.recorded(ctx, ls, rule, f.Location, f.IssuedAt, kind, outcomes)
			e.mutedRecorded(ctx, rule, &next, m)
		}
		return nil
	}
}

// forecastNotifications routes a forecast transition's notice, if it has
// one. prev is the onset announced before it.
func (e *Engine) forecastNotifications(ls *locState, rule *compiledRule, next *state.Alert, kind string, f *weather.Forecast, p prediction, prev time.Time) []outcome {
	if !notifies(kind) {
		return nil
	}
	fc := &state.Forecast{IssuedAt: f.IssuedAt, Onset: next.Onset}
	var vals map[string]float64
	if kind != kindForecastCancelled {
		for _, x := range p.extremes {
			if x.Value == x.Value { // not NaN: some step had it
				fc.Extremes = append(fc.Extremes, x)
				if vals == nil {
					vals = map[string]float64{}
				}
				vals[x.Name] = x.Value
			}
		}
	}
	if kind != kindPredicted {
		fc.PreviousOnset = prev
	}
	ev := e.event(rule, f.Location, kind, f.IssuedAt, vals)
	ev.Since = next.FiredAt
	ev.Forecast = fc
	return e.route(ls, rule, next, kind, ev)
}

// linkedFiring reports whether the realtime rule linked to a forecast rule
// fires at the location: the weather is there.
func (e *Engine) linkedFiring(ls *locState, rule *compiledRule) bool {
	if rule.Forecast.Realtime == "" {
		return false
	}
	a := ls.alerts.Get(rule.Forecast.Realtime)
	return a != nil && a.Phase == phaseFiring
}

// handOver ends, quietly, the forecast alerts at the location that are
// linked to the realtime rule that just fired: it takes over from them.
// ls.mu is held.
func (e *Engine) handOver(ctx context.Context, ls *locState, fired *compiledRule, at time.Time) {
	for _, r := range ls.rules {
		if r.isForecast() && r.Forecast.Realtime == fired.Name {
			e.endForecast(ctx, ls, r, kindHandover, at)
		}
	}
}

// expireForecasts ends the forecast alerts whose onset has passed by now:
// Run's clock does it when no later forecast comes to.
func (e *Engine) expireForecasts(ctx context.Context, now time.Time) {
	for _, ls := range e.liveLocations() {
		ls.mu.Lock()
		for _, r := range ls.rules {
			if a := ls.alerts.Get(r.Name); r.isForecast() && a != nil && active(a.Phase) && !a.Onset.After(now) {
				kind := kindOccurred
				if r.Forecast.Realtime != "" {
					kind = kindHandover
				}
				e.endForecast(ctx, ls, r, kind, now)
			}
		}
		e.dropIfQuiet(ls)
		ls.mu.Unlock()
	}
}

// endForecast records, without a notice, the end of an active forecast
// alert (occurred or handover) at time at. ls.mu is held.
func (e *Engine) endForecast(ctx context.Context, ls *locState, rule *compiledRule, kind string, at time.Time) {
	for attempt := 0; ; attempt++ {
		a := ls.alerts.Get(rule.Name)
		if a == nil || !active(a.Phase) || (kind == kindOccurred && a.Onset.After(at)) {
			return
		}
		next := a.Clone()
		next.Phase = phaseInactive
		next.ResolvedAt = at
		next.Occurred = true
		retry, err := e.commit(ctx, ls, rule, a, &next, kind, attempt)
		if retry {
			continue
		}
		if err != nil {
			// The next forecast or tick ends it: nothing is sent either way.
			e.log.Warn("forecast alert end not recorded; retried later", "rule", rule.Name, "location", a.Location, "err", err)
			return
		}
		e.recorded(ctx, ls, rule, weather.EventLocation{ID: a.Location, Name: e.names[a.Location]}, at, kind, nil)
		return
	}
}

// expected lists the location's forecast alerts still to come at now, for
// a digest. ls.mu is held.
func (e *Engine) expected(ls *locState, now time.Time) []state.Expected {
	var out []state.Expected
	for _, r := range ls.rules {
		if a := ls.alerts.Get(r.Name); r.isForecast() && a != nil && active(a.Phase) && a.Onset.After(now) {
			out = append(out, state.Expected{Rule: r.Name, Summary: r.summary(), Severity: r.Severity, Onset: a.Onset})
		}
	}
	slices.SortFunc(out, func(x, y state.Expected) int { return x.Onset.Compare(y.Onset) })
	return out
}

// unannounced reports whether a held entry is a forecast prediction the
// channel has not sent yet.
func unannounced(held state.Entry) bool {
	return held.Event.Kind == kindPredicted
}

// foldUnannounced folds a forecast notice into the held, unsent prediction
// outbox[i]: people who never heard of the first onset get one prediction
// with the latest one, and nothing at all when it is cancelled before the
// channel's window opens.
func foldUnannounced(outbox []state.Entry, i int, nu state.Entry) []state.Entry {
	if nu.Event.Kind == kindForecastCancelled {
		return withoutEntry(outbox, i)
	}
	nu.Event.Kind = kindPredicted
	if nu.Event.Forecast != nil {
		nu.Event.Forecast.PreviousOnset = time.Time{}
	}
	nu.NotBefore = outbox[i].NotBefore
	nu.ID = outbox[i].ID
	outbox[i] = nu
	return outbox
}
