package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/api"
)

// This file answers the operator API (package api) from the alert state
// store, so every replica answers the same whichever shards it consumes.

// maxSilences bounds the silences not yet expired: each is read for every
// notification about to be queued.
const maxSilences = 1000

// silenceRetention is how long an expired silence stays listed.
const silenceRetention = 7 * 24 * time.Hour

// Alerts lists every alert that is not inactive, by location and rule.
func (e *Engine) Alerts(ctx context.Context, f api.Filter) ([]api.Alert, error) {
	if err := e.init(ctx); err != nil {
		return nil, err
	}
	all, err := e.store.All(ctx)
	if err != nil {
		return nil, err
	}
	silences, err := e.store.Silences(ctx)
	if err != nil {
		return nil, err
	}
	e.countActive(silences)
	now := e.now()
	cands := make([]*state.Alert, len(all))
	for i := range all {
		cands[i] = &all[i]
	}
	out := []api.Alert{}
	for _, a := range all {
		rule := e.ops.byName[a.Rule]
		if rule == nil || a.Phase == phaseInactive || a.Phase == "" {
			continue
		}
		if f.Location != "" && a.Location != f.Location || f.Rule != "" && a.Rule != f.Rule {
			continue
		}
		v := e.view(a, rule)
		for _, s := range silences {
			if s.ActiveAt(now) && s.Matchers.Match(a.Rule, a.Location, rule.Severity) {
				v.SilencedBy = append(v.SilencedBy, s.ID)
			}
		}
		v.Silenced = len(v.SilencedBy) > 0
		v.InhibitedBy = e.ops.inhibitor(rule, a.Location, func(bool) []*state.Alert { return cands })
		v.Inhibited = v.InhibitedBy != ""
		if f.State != "" && !hasState(v, f.State) {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

func hasState(a api.Alert, s string) bool {
	switch s {
	case "silenced":
		return a.Silenced
	case "inhibited":
		return a.Inhibited
	case "acknowledged":
		return a.Acknowledged
	}
	return a.Phase == s
}

// view is the API's form of a stored alert (silences and inhibition aside).
func (e *Engine) view(a state.Alert, rule *compiledRule) api.Alert {
	v := api.Alert{
		Rule: a.Rule, Location: a.Location, LocationName: e.names[a.Location], Timezone: e.zoneName(a.Location),
		Phase: a.Phase, Severity: rule.Severity, Since: a.Since, Values: a.Values, Suppressed: a.Suppressed,
	}
	if a.Phase == phaseFiring {
		v.FiredAt = a.FiredAt
		if a.Ack != nil {
			v.Acknowledged = true
			v.Ack = &api.Ack{By: a.Ack.By, Comment: a.Ack.Comment, At: a.Ack.At}
		}
	}
	return v
}

// Locations lists the configured locations with the newest reading known:
// its time from the store's alerts or this instance's readings, whichever
// is newer, and its values when this instance saw it.
func (e *Engine) Locations(ctx context.Context) ([]api.Location, error) {
	if err := e.init(ctx); err != nil {
		return nil, err
	}
	all, err := e.store.All(ctx)
	if err != nil {
		return nil, err
	}
	stored := map[string]time.Time{}
	for _, a := range all {
		if a.LastEval.After(stored[a.Location]) {
			stored[a.Location] = a.LastEval
		}
	}
	out := make([]api.Location, 0, len(e.ops.locations))
	for _, l := range e.ops.locations {
		v := api.Location{ID: l.ID, Name: l.Name, Timezone: l.Timezone, Lat: l.Lat, Lon: l.Lon, LastReadingAt: stored[l.ID]}
		if at, values := e.latest(l.ID); !at.IsZero() && !at.Before(v.LastReadingAt) {
			v.LastReadingAt, v.Values = at, values
		}
		out = append(out, v)
	}
	return out, nil
}

// Silences lists the silences, oldest first, those expired for longer than
// a week left out.
func (e *Engine) Silences(ctx context.Context) ([]api.Silence, error) {
	if err := e.init(ctx); err != nil {
		return nil, err
	}
	all, err := e.store.Silences(ctx)
	if err != nil {
		return nil, err
	}
	e.countActive(all)
	now := e.now()
	out := []api.Silence{}
	for _, s := range all {
		if now.Sub(s.EndsAt) > silenceRetention {
			continue
		}
		out = append(out, silenceView(s, now))
	}
	return out, nil
}

// forgetExpired deletes the silences expired for longer than
// silenceRetention (no longer listed), so that the silences every batch
// reads stay few. A failure is only logged: the next silence added tries
// again.
func (e *Engine) forgetExpired(ctx context.Context, all []state.Silence, now time.Time) {
	for _, s := range all {
		if now.Sub(s.EndsAt) <= silenceRetention {
			continue
		}
		if err := e.store.DeleteSilence(ctx, s); err != nil && !errors.Is(err, state.ErrConflict) {
			e.log.Warn("could not delete an expired silence", "silence", s.ID, "ended_at", s.EndsAt, "err", err)
		}
	}
}

func silenceView(s state.Silence, now time.Time) api.Silence {
	st := api.SilenceActive
	switch {
	case now.Before(s.StartsAt):
		st = api.SilencePending
	case !now.Before(s.EndsAt):
		st = api.SilenceExpired
	}
	return api.Silence{
		ID: s.ID, Matchers: api.Matchers(s.Matchers), StartsAt: s.StartsAt, EndsAt: s.EndsAt, CreatedAt: s.CreatedAt,
		Comment: s.Comment, CreatedBy: s.CreatedBy, State: st, Suppressed: s.Suppressed,
	}
}

// AddSilence validates and stores a silence; it holds on every replica from
// their next batch on.
func (e *Engine) AddSilence(ctx context.Context, req api.SilenceRequest) (api.Silence, error) {
	now := e.now()
	v, err := req.Silence(now)
	if err != nil {
		return api.Silence{}, err
	}
	if err := e.init(ctx); err != nil {
		return api.Silence{}, err
	}
	all, err := e.store.Silences(ctx)
	if err != nil {
		return api.Silence{}, err
	}
	live := 0
	for _, s := range all {
		if now.Before(s.EndsAt) {
			live++
		}
	}
	e.forgetExpired(ctx, all, now)
	if live >= maxSilences {
		return api.Silence{}, fmt.Errorf("%w: %d silences are pending or active, the most weatherd keeps; expire some first", api.ErrConflict, live)
	}
	s := state.Silence{
		ID: randomID() + randomID(), Matchers: state.Matchers(v.Matchers), StartsAt: v.StartsAt, EndsAt: v.EndsAt,
		CreatedAt: v.CreatedAt, Comment: v.Comment, CreatedBy: v.CreatedBy,
	}
	if err := e.store.SaveSilence(ctx, &s); err != nil {
		return api.Silence{}, fmt.Errorf("store silence: %w", err)
	}
	e.countActive(append(all, s))
	return silenceView(s, now), nil
}

// ExpireSilence ends a silence now; expiring an expired one does nothing.
func (e *Engine) ExpireSilence(ctx context.Context, id string) error {
	if err := e.init(ctx); err != nil {
		return err
	}
	for range 5 {
		all, err := e.store.Silences(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(s state.Silence) bool { return s.ID == id })
		if i < 0 {
			return fmt.Errorf("%w: no silence %q", api.ErrNotFound, id)
		}
		s, now := all[i], e.now()
		if !now.Before(s.EndsAt) {
			return nil
		}
		s.EndsAt = now
		if s.StartsAt.After(now) {
			s.StartsAt = now
		}
		err = e.store.SaveSilence(ctx, &s)
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err == nil {
			all[i] = s
			e.countActive(all)
		}
		return err
	}
	return fmt.Errorf("%w: silence %q keeps changing; try again", api.ErrConflict, id)
}

// Ack acknowledges a firing alert: no repeat notifications until it
// resolves, and the resolved notice names who acknowledged it.
func (e *Engine) Ack(ctx context.Context, location, rule string, req api.AckRequest) (api.Alert, error) {
	if err := req.Check(); err != nil {
		return api.Alert{}, err
	}
	r := e.ops.byName[rule]
	if r == nil {
		return api.Alert{}, fmt.Errorf("%w: no rule %q in alerts.rules", api.ErrNotFound, rule)
	}
	if err := e.init(ctx); err != nil {
		return api.Alert{}, err
	}
	for range 5 {
		a, ok, err := e.store.Get(ctx, location, rule)
		if err != nil {
			return api.Alert{}, err
		}
		if !ok || a.Phase != phaseFiring {
			return api.Alert{}, fmt.Errorf("%w: alert %s at %s is not firing", api.ErrNotFound, rule, location)
		}
		a.Ack = &state.Ack{By: req.By, Comment: req.Comment, At: e.now().UTC()}
		err = e.store.Save(ctx, &a)
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err != nil {
			return api.Alert{}, err
		}
		return e.view(a, r), nil
	}
	return api.Alert{}, fmt.Errorf("%w: alert %s at %s keeps changing; try again", api.ErrConflict, rule, location)
}

// latest is the time and values of the newest reading of a location this
// engine evaluated (zero when none).
func (e *Engine) latest(id string) (time.Time, map[string]float64) {
	e.mu.Lock()
	ls := e.locs[id]
	e.mu.Unlock()
	if ls == nil {
		return time.Time{}, nil
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.latest.at, ls.latest.valueMap()
}
