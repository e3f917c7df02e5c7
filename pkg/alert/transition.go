package alert

import (
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

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
