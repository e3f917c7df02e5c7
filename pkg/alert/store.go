package alert

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/lifecycle"
)

// newStore opens the state store alerts.state selects; shared is true when
// other engines may write it too (dynamodb), so it is reloaded per batch.
func newStore(cfg StateConfig, deps Deps) (store state.Store, shared bool, err error) {
	switch cfg.Driver {
	case "dynamodb":
		if deps.DynamoDB == nil {
			return nil, false, fmt.Errorf("alerts.state.driver dynamodb needs a DynamoDB client")
		}
		return state.NewDynamoDB(deps.DynamoDB, cfg.Table), true, nil
	default:
		return state.NewMemory(), false, nil
	}
}

// refresh loads a location's alerts from the store: once for a private
// store, every batch for a shared one (another engine may have moved them).
// A cached alert at the stored version is kept: it may know newer readings.
func (e *Engine) refresh(ctx context.Context, id string, ls *locState) error {
	if ls.loaded && !e.shared {
		return nil
	}
	stored, err := e.store.Load(ctx, id)
	if err != nil {
		return fmt.Errorf("load alert state of %s: %w", id, err)
	}
	for _, s := range stored {
		if c := ls.alerts.Get(s.Rule); c != nil && c.Version == s.Version {
			continue
		}
		e.setCached(ls, &s)
	}
	ls.loaded = true
	return nil
}

// setCached replaces the cached alert, keeping the outbox gauge and the
// queued and live locations right. The cache keeps a itself, which nobody
// changes afterwards (a change is made on a Clone and cached in its turn):
// with the memory store it is the stored alert too. ls.mu is held.
func (e *Engine) setCached(ls *locState, a *state.Alert) {
	old := 0
	if c := ls.alerts.Get(a.Rule); c != nil {
		old = len(c.Outbox)
	}
	e.outboxLen.Add(int64(len(a.Outbox) - old))
	ls.alerts.Put(a)
	if len(a.Outbox) > 0 {
		e.queuedMu.Lock()
		e.queued[ls.id] = ls
		e.queuedMu.Unlock()
	}
	if active(a.Phase) {
		e.liveMu.Lock()
		e.live[ls.id] = ls
		e.liveMu.Unlock()
	}
}

// liveLocations returns the locations that had an active alert when it
// was last looked at (see Engine.live).
func (e *Engine) liveLocations() []*locState {
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	return slices.Collect(maps.Values(e.live))
}

// dropIfQuiet takes ls out of the live locations when none of its cached
// alerts is active. ls.mu is held, so no setCached can race it.
func (e *Engine) dropIfQuiet(ls *locState) {
	for _, a := range ls.alerts {
		if active(a.Phase) {
			return
		}
	}
	e.liveMu.Lock()
	delete(e.live, ls.id)
	e.liveMu.Unlock()
}

// healthStore reports every state store call to h: a conflict is an answer,
// so a success; a call cut short by its context says nothing.
type healthStore struct {
	state.Store
	h *lifecycle.Health
}

func (s healthStore) note(ctx context.Context, err error) error {
	switch {
	case err == nil || errors.Is(err, state.ErrConflict):
		s.h.OK()
	case ctx.Err() == nil:
		s.h.Fail(err)
	}
	return err
}

func (s healthStore) Init(ctx context.Context) error { return s.note(ctx, s.Store.Init(ctx)) }

func (s healthStore) Load(ctx context.Context, location string) ([]state.Alert, error) {
	as, err := s.Store.Load(ctx, location)
	return as, s.note(ctx, err)
}

func (s healthStore) Get(ctx context.Context, location, rule string) (state.Alert, bool, error) {
	a, ok, err := s.Store.Get(ctx, location, rule)
	return a, ok, s.note(ctx, err)
}

func (s healthStore) Save(ctx context.Context, a *state.Alert) error {
	return s.note(ctx, s.Store.Save(ctx, a))
}

func (s healthStore) Pending(ctx context.Context) ([]state.Alert, error) {
	as, err := s.Store.Pending(ctx)
	return as, s.note(ctx, err)
}
