package alert

import (
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

// Phases of an alert (state.Alert.Phase): inactive -> pending -> firing ->
// inactive again once resolved.
const (
	phaseInactive = "inactive"
	phasePending  = "pending"
	phaseFiring   = "firing"
)

// Transition kinds, also the state label of weatherd_alert_transitions_total
// and the "state" message attribute.
const (
	kindPending  = "pending"  // condition started to hold; waiting out `for`
	kindCanceled = "inactive" // condition stopped holding before `for` passed
	kindFiring   = "firing"
	kindRepeat   = "repeat"
	kindResolved = "resolved"
	kindSummary  = "summary" // held notifications of one alert merged into one
	kindDigest   = "digest"
)

// step advances one alert's state with a reading observed at t. It returns
// the transition kind ("" for none).
func step(a *state.Alert, r *compiledRule, v verdict, t time.Time) string {
	switch a.Phase {
	case phaseInactive, "":
		if v != holds {
			return ""
		}
		a.Since = t
		if r.For <= 0 {
			a.Phase = phaseFiring
			a.FiredAt = t
			a.LastNotified = t
			return kindFiring
		}
		a.Phase = phasePending
		return kindPending
	case phasePending:
		switch v {
		case holds:
			if t.Sub(a.Since) >= r.For {
				a.Phase = phaseFiring
				a.FiredAt = t
				a.LastNotified = t
				return kindFiring
			}
		case cleared, between:
			// Not holding any more: the wait starts over next time.
			a.Phase = phaseInactive
			a.Since = time.Time{}
			return kindCanceled
		}
	case phaseFiring:
		switch v {
		case cleared:
			a.Phase = phaseInactive
			a.ResolvedAt = t
			return kindResolved
		case holds, between:
			if r.Repeat > 0 && t.Sub(a.LastNotified) >= r.Repeat {
				a.LastNotified = t
				return kindRepeat
			}
		}
	}
	return ""
}
