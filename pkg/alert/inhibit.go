package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/weatherd/weatherd/pkg/alert/match"
	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/check"
)

// InhibitConfig is one alerts.inhibit[] entry: while an alert matching
// Source fires, alerts matching Target send nothing (they stay in state).
// Equal names the labels (location, severity) source and target must share.
type InhibitConfig struct {
	Source MatcherConfig `mapstructure:"source"`
	Target MatcherConfig `mapstructure:"target"`
	Equal  []string      `mapstructure:"equal"`
}

// MatcherConfig selects alerts by rule name, location id and severity, each
// a glob with "|" between alternatives; empty matches anything.
type MatcherConfig struct {
	Rule     string `mapstructure:"rule"`
	Location string `mapstructure:"location"`
	Severity string `mapstructure:"severity"`
}

// inhibitLabels are what alerts.inhibit[].equal may name.
var inhibitLabels = []string{"location", "severity"}

// validateInhibit reports every problem of alerts.inhibit at key.
func (c Config) validateInhibit(key string, ps *check.Problems) {
	rules := make([]string, 0, len(c.Rules))
	for _, r := range c.Rules {
		rules = append(rules, r.Name)
	}
	for i, in := range c.Inhibit {
		k := check.Index(key, i)
		in.Source.validate(k+".source", rules, ps)
		in.Target.validate(k+".target", rules, ps)
		seen := map[string]bool{}
		for j, l := range in.Equal {
			switch {
			case !slices.Contains(inhibitLabels, l):
				ps.Add(check.Index(k+".equal", j), "got %q, want one of %s", l, strings.Join(inhibitLabels, ", "))
			case seen[l]:
				ps.Add(check.Index(k+".equal", j), "%q given twice", l)
			}
			seen[l] = true
		}
	}
}

func (m MatcherConfig) validate(key string, rules []string, ps *check.Problems) {
	if m.Rule == "" && m.Location == "" && m.Severity == "" {
		ps.Add(key, "at least one of rule, location and severity is required")
		return
	}
	for _, f := range []struct {
		name, p string
		known   []string // the values a literal alternative must be one of
	}{{"rule", m.Rule, rules}, {"location", m.Location, nil}, {"severity", m.Severity, severities}} {
		if err := match.Check(f.p); err != nil {
			ps.Add(key+"."+f.name, "%v", err)
			continue
		}
		unknown := false
		for _, lit := range match.Literals(f.p) {
			if f.known != nil && !slices.Contains(f.known, lit) {
				ps.Add(key+"."+f.name, "unknown %s %q (known: %s)", f.name, lit, strings.Join(f.known, ", "))
				unknown = true
			}
		}
		if !unknown && f.known != nil && f.p != "" && !slices.ContainsFunc(f.known, func(v string) bool { return match.Match(f.p, v) }) {
			ps.Add(key+"."+f.name, "%q matches no %s", f.p, f.name)
		}
	}
}

// inhibitRule is a compiled alerts.inhibit entry.
type inhibitRule struct {
	source, target     state.Matchers
	sameLoc, sameSever bool
}

func compileInhibit(cfg []InhibitConfig) []inhibitRule {
	out := make([]inhibitRule, 0, len(cfg))
	for _, c := range cfg {
		out = append(out, inhibitRule{
			source:    state.Matchers(c.Source),
			target:    state.Matchers(c.Target),
			sameLoc:   slices.Contains(c.Equal, "location"),
			sameSever: slices.Contains(c.Equal, "severity"),
		})
	}
	return out
}

// isSource reports whether rule can inhibit others: such rules are evaluated
// first for each reading, so a source and its target firing on the same
// reading send the source's notification only.
func (o *operator) isSource(rule *compiledRule) bool {
	for _, ir := range o.inhibit {
		if match.Match(ir.source.Rule, rule.Name) && match.Match(ir.source.Severity, rule.Severity) {
			return true
		}
	}
	return false
}

// inhibitedBy returns "rule@location" of a firing alert that inhibits rule at
// loc, or "". Sources at the same location come from the location's alerts
// (refreshed every batch); others need every stored alert, read once a batch.
func (e *Engine) inhibitedBy(ctx context.Context, ls *locState, rule *compiledRule, loc string) (string, error) {
	var err error
	by := e.ops.inhibitor(rule, loc, func(sameLoc bool) []*state.Alert {
		if sameLoc {
			return slices.Clone(ls.alerts)
		}
		all, aerr := e.allAlerts(ctx, ls)
		if aerr != nil {
			err = aerr
			return nil
		}
		out := make([]*state.Alert, len(all))
		for i := range all {
			out[i] = &all[i]
		}
		return out
	})
	return by, err
}

// inhibitor returns "rule@location" of a firing alert among candidates that
// inhibits rule at loc, or "". candidates gives the alerts to look at: those
// of loc only when sameLoc is true.
func (o *operator) inhibitor(rule *compiledRule, loc string, candidates func(sameLoc bool) []*state.Alert) string {
	for _, ir := range o.inhibit {
		if !ir.target.Match(rule.Name, loc, rule.Severity) {
			continue
		}
		for _, c := range candidates(ir.sameLoc) {
			src := o.byName[c.Rule]
			if src == nil || c.Phase != phaseFiring || (c.Rule == rule.Name && c.Location == loc) {
				continue
			}
			if ir.sameLoc && c.Location != loc || ir.sameSever && src.Severity != rule.Severity {
				continue
			}
			if ir.source.Match(c.Rule, c.Location, src.Severity) {
				return c.Rule + "@" + c.Location
			}
		}
	}
	return ""
}

// allAlerts reads every stored alert once per batch of ls.
func (e *Engine) allAlerts(ctx context.Context, ls *locState) ([]state.Alert, error) {
	ops := ls.memo()
	if !ops.allRead {
		all, err := e.store.All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read alerts for inhibition: %w", err)
		}
		ops.all, ops.allRead = all, true
	}
	return ops.all, nil
}
