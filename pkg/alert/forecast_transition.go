package alert

import (
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

// Phases of a forecast rule's alert: inactive -> predicted -> (updated ...)
// -> inactive again once cancelled or once the weather came.
const (
	phasePredicted = "predicted"
	phaseUpdated   = "updated"
)

// Transition kinds of forecast rules.
const (
	kindPredicted = "predicted" // a forecast shows the weather coming: one notice
	kindUpdated   = "updated"   // the onset moved by more than update_shift: one notice
	// kindForecastCancelled: a later forecast no longer shows it: one notice.
	// (kindCanceled is a pending realtime alert's quiet return to inactive.)
	kindForecastCancelled = "cancelled"
	kindOccurred          = "occurred" // the onset came: ends without a notice
	kindHandover          = "handover" // the linked realtime rule takes over: no notice
)

// defaultUpdateShift is forecast.update_shift when unset.
const defaultUpdateShift = time.Hour

// active reports whether an alert in phase tells people something is on:
// firing, or a forecast alert predicted or updated.
func active(phase string) bool {
	return phase == phaseFiring || phase == phasePredicted || phase == phaseUpdated
}

// notifies reports whether a transition kind sends a notification.
func notifies(kind string) bool {
	switch kind {
	case kindFiring, kindRepeat, kindResolved, kindPredicted, kindUpdated, kindForecastCancelled:
		return true
	}
	return false
}

// occur ends an active forecast alert whose onset is not after at: the
// weather it announced has come. It returns the transition kind ("" for
// none): a hand-over to the linked realtime rule, or occurred.
func occur(a *state.Alert, r *compiledRule, at time.Time) string {
	if !active(a.Phase) || a.Onset.After(at) {
		return ""
	}
	a.Phase = phaseInactive
	a.ResolvedAt = at
	a.Occurred = true
	if r.Forecast.Realtime != "" {
		return kindHandover
	}
	return kindOccurred
}

// stepForecast advances a forecast alert with what the forecast issued at
// `issued` predicts. It returns the transition kind ("" for none). The
// announced onset is kept while the forecast's one stays within
// update_shift of it, so small drifts never add up to silence.
func stepForecast(a *state.Alert, r *compiledRule, p prediction, issued time.Time) string {
	if !p.known {
		return "" // the forecast says nothing about the rule's values
	}
	if p.gap {
		a.Occurred = false
	}
	switch {
	case !active(a.Phase) && !p.onset.IsZero():
		a.Phase = phasePredicted
		a.Onset = p.onset
		a.Since = issued
		a.FiredAt = issued
		a.LastNotified = issued
		a.Occurred = false
		return kindPredicted
	case active(a.Phase) && p.onset.IsZero():
		a.Phase = phaseInactive
		a.ResolvedAt = issued
		a.Onset = time.Time{}
		return kindForecastCancelled
	case active(a.Phase):
		shift := p.onset.Sub(a.Onset).Abs()
		if shift > r.updateShift() {
			a.Phase = phaseUpdated
			a.Onset = p.onset
			a.LastNotified = issued
			return kindUpdated
		}
	}
	return ""
}
