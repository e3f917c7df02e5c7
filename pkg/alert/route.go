package alert

import (
	"context"
	"fmt"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/weather"
)

// This file routes a transition to its channels: severity floors, tiers,
// delivery windows and the merging of held notifications.

// outcome is a notification outcome to count once its write succeeded.
type outcome struct{ channel, outcome string }

// notifications adds the outbox entries a transition causes to next and
// returns the outcomes to count.
func (e *Engine) notifications(ls *locState, rule *compiledRule, next *state.Alert, kind string, r weather.Reading) []outcome {
	if !notifies(kind) {
		return nil
	}
	vals := usedValues(rule, &r.Values)
	if len(vals) == 0 {
		vals = next.Values // a release found by the sweep has no reading
	}
	ev := e.event(rule, r.Location, kind, r.ObservedAt, vals)
	ev.Since = next.FiredAt
	ev.AckBy, ev.AckComment = ackOf(next)
	return e.route(ls, rule, next, kind, ev)
}

// event is the part of a notification's event every kind has.
func (e *Engine) event(rule *compiledRule, loc weather.EventLocation, kind string, at time.Time, vals map[string]float64) state.Event {
	name := loc.Name
	if name == "" {
		name = e.names[loc.ID]
	}
	return state.Event{
		Kind: kind, Rule: rule.Name, Severity: rule.Severity, Group: rule.Group, Tier: rule.Tier,
		Expr: rule.Expr, LocationID: loc.ID, LocationName: name, Timezone: e.zoneName(loc.ID),
		ObservedAt: at, Values: vals, Summary: rule.summary(), Labels: rule.labels(vals),
	}
}

// route adds ev's outbox entries, one per channel of the rule, to next.
func (e *Engine) route(ls *locState, rule *compiledRule, next *state.Alert, kind string, ev state.Event) []outcome {
	var outs []outcome
	if e.outranked(ls, rule, kind) {
		for _, ch := range rule.Channels {
			outs = append(outs, outcome{ch, outcomeSuperseded})
		}
		return outs
	}
	id := ev.LocationID
	now := e.now()
	for _, chName := range rule.Channels {
		ch := e.channels[chName]
		if severityRank(rule.Severity) < ch.minRank {
			outs = append(outs, outcome{chName, outcomeFiltered})
			continue
		}
		entry := state.Entry{
			ID:         fmt.Sprintf("%s/%s/%d/%s", id, rule.Name, next.Seq, chName),
			Channel:    chName,
			Event:      ev.Clone(),
			Owner:      e.owner,
			OwnedUntil: now.Add(claimTTL),
		}
		entry.NotBefore = e.holdUntil(ch, rule.Severity, id, now)
		if i := heldIndex(next.Outbox, chName, now); i >= 0 {
			switch {
			case unannounced(next.Outbox[i]):
				next.Outbox = foldUnannounced(next.Outbox, i, entry)
			case kind != kindRepeat:
				next.Outbox[i] = mergeHeld(next.Outbox[i], entry)
			}
			outs = append(outs, outcome{chName, outcomeSummarized})
			continue
		}
		next.Outbox = append(next.Outbox, entry)
		if !entry.NotBefore.IsZero() {
			outs = append(outs, outcome{chName, outcomeHeld})
		}
	}
	return outs
}

// holdUntil is when a notification to ch may go out: zero for now.
func (e *Engine) holdUntil(ch *channel, severity, locID string, now time.Time) time.Time {
	if ch.window == nil || (severity == "critical" && !ch.window.holdCritical) {
		return time.Time{}
	}
	if open := ch.window.openAt(now, e.zone(locID)); open.After(now) {
		return open
	}
	return time.Time{}
}

// outranked reports whether another tier of the rule's group makes this
// notification noise: a firing or repeat while a higher tier fires, or a
// resolved while any other tier still fires (for forecast rules: a
// prediction or update while a higher tier is expected, or a cancellation
// while another tier still is).
func (e *Engine) outranked(ls *locState, rule *compiledRule, kind string) bool {
	if rule.Group == "" {
		return false
	}
	for _, o := range e.groups[rule.Group] {
		if o == rule {
			continue
		}
		oa := ls.alerts.Get(o.Name)
		if oa == nil || !active(oa.Phase) {
			continue
		}
		if kind == kindResolved || kind == kindForecastCancelled || o.Tier > rule.Tier {
			return true
		}
	}
	return false
}

// supersede drops the undelivered notifications of lower tiers of rule's
// group at the location: the higher tier's notification replaces them.
func (e *Engine) supersede(ctx context.Context, ls *locState, rule *compiledRule) {
	for _, o := range e.groups[rule.Group] {
		oa := ls.alerts.Get(o.Name)
		if o.Tier >= rule.Tier || oa == nil || len(oa.Outbox) == 0 {
			continue
		}
		next := oa.Clone()
		dropped := next.Outbox
		next.Outbox = nil
		if err := e.store.Save(ctx, &next); err != nil {
			e.log.Warn("could not drop superseded notifications; they will be sent", "rule", o.Name, "location", oa.Location, "err", err)
			continue
		}
		e.setCached(ls, &next)
		for _, d := range dropped {
			e.m.notifications.WithLabelValues(d.Channel, outcomeSuperseded).Inc()
		}
	}
}

// maxHistory bounds the transitions one held summary lists.
const maxHistory = 20

// heldIndex finds a held (not yet due) entry for channel.
func heldIndex(outbox []state.Entry, channel string, now time.Time) int {
	for i, en := range outbox {
		if en.Channel == channel && en.NotBefore.After(now) && en.Event.Kind != kindDigest {
			return i
		}
	}
	return -1
}

// mergeHeld folds a new notification into a held one of the same alert and
// channel: one summary instead of a replay of every transition.
func mergeHeld(old, nu state.Entry) state.Entry {
	hist := old.Event.History
	if old.Event.Kind != kindSummary {
		hist = []state.Change{{Kind: old.Event.Kind, At: old.Event.ObservedAt}}
	}
	hist = append(hist, state.Change{Kind: nu.Event.Kind, At: nu.Event.ObservedAt})
	if len(hist) > maxHistory {
		hist = hist[len(hist)-maxHistory:]
	}
	out := nu
	out.Event.Kind = kindSummary
	out.Event.History = hist
	out.NotBefore = old.NotBefore
	return out
}

func usedValues(rule *compiledRule, vals *weather.Values) map[string]float64 {
	out := map[string]float64{}
	add := func(c *condition) {
		if c == nil {
			return
		}
		for k, n := range c.uses {
			if v, ok := vals.At(c.idx[k]); ok {
				out[n] = v
			}
		}
	}
	add(rule.fire)
	add(rule.clear)
	return out
}
