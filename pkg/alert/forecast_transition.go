package alert

import (
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

// Phases of a forecast rule's alert: inactive -> predicted -> (updated ...)
// -> inactive again once cancelled or once the weather came.
const (
	Predicted = "predicted"
	Updated   = "updated"
)

// Transition kinds of forecast rules.
const (
	KindPredicted = "predicted" // a forecast shows the weather coming: one notice
	KindUpdated   = "updated"   // the onset moved by more than update_shift: one notice
	// KindForecastCancelled: a later forecast no longer shows it: one notice.
	// (KindCanceled is a pending realtime alert's quiet return to inactive.)
	KindForecastCancelled = "cancelled"
	KindOccurred          = "occurred" // the onset came: ends without a notice
	KindHandover          = "handover" // the linked realtime rule takes over: no notice
)

// defaultUpdateShift is forecast.update_shift when unset.
const defaultUpdateShift = time.Hour

// active reports whether an alert in phase tells people something is on:
// firing, or a forecast alert predicted or updated.
func active(phase string) bool {
	return phase == Firing || phase == Predicted || phase == Updated
}

// notifies reports whether a transition kind sends a notification.
func notifies(kind string) bool {
	switch kind {
	case KindFiring, KindRepeat, KindResolved, KindPredicted, KindUpdated, KindForecastCancelled:
		return true
	}
	return false
}

// occur ends an active forecast alert whose onset is not after at: the
// weather it announced has come. It returns the transition kind ("" for
// none): a hand-over to the linked realtime rule, or occurred.
func occur(a *state.Alert, r *Rule, at time.Time) string {
	if !active(a.Phase) || a.Onset.After(at) {
		return ""
	}
	a.Phase = Inactive
	a.ResolvedAt = at
	a.Occurred = true
	if r.Forecast.Realtime != "" {
		return KindHandover
	}
	return KindOccurred
}

// stepForecast advances a forecast alert with what the forecast issued at
// `issued` predicts. It returns the transition kind ("" for none). The
// announced onset is kept while the forecast's one stays within
// update_shift of it, so small drifts never add up to silence.
func stepForecast(a *state.Alert, r *Rule, p prediction, issued time.Time) string {
	if !p.known {
		return "" // the forecast says nothing about the rule's values
	}
	if p.gap {
		a.Occurred = false
	}
	switch {
	case !active(a.Phase) && !p.onset.IsZero():
		a.Phase = Predicted
		a.Onset = p.onset
		a.Since = issued
		a.FiredAt = issued
		a.LastNotified = issued
		a.Occurred = false
		return KindPredicted
	case active(a.Phase) && p.onset.IsZero():
		a.Phase = Inactive
		a.ResolvedAt = issued
		a.Onset = time.Time{}
		return KindForecastCancelled
	case active(a.Phase):
		shift := p.onset.Sub(a.Onset).Abs()
		if shift > r.updateShift() {
			a.Phase = Updated
			a.Onset = p.onset
			a.LastNotified = issued
			return KindUpdated
		}
	}
	return ""
}
