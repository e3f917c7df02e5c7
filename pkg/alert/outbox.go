package alert

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/backoff"
)

// ErrOutboxFull is returned by Observe when alerts.outbox.limit
// notifications are already waiting: the caller retries the batch later
// instead of checkpointing, so nothing is dropped.
var ErrOutboxFull = errors.New("alert outbox full")

// claimTTL is how long an engine owns an outbox entry it is delivering;
// another engine (or this one after a restart) takes it over after that.
const claimTTL = 2 * time.Minute

// maxEntriesPerAlert keeps one alert's stored item well under DynamoDB's
// 400 KB item limit while its channels are failing.
const maxEntriesPerAlert = 200

// wakeRun tells Run that there is something new to deliver.
func (e *Engine) wakeRun() {
	select {
	case e.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// dueEntry is an outbox entry picked for sending.
type dueEntry struct {
	rule string
	en   state.Entry
}

// due picks, under ls.mu, the entries of ls that may be sent now, claiming
// those this engine does not own yet.
func (e *Engine) due(ctx context.Context, ls *locState, failed map[string]bool) []dueEntry {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !hasOutbox(ls) {
		return nil // the usual case: nothing to sort and walk
	}
	var out []dueEntry
	for _, rule := range sortedRules(ls) {
		a := ls.alerts.Get(rule)
		ids := make([]string, 0, len(a.Outbox))
		for _, en := range a.Outbox {
			ids = append(ids, en.ID)
		}
		for _, id := range ids {
			a := ls.alerts.Get(rule)
			j := entryIndex(a.Outbox, id)
			if j < 0 || ctx.Err() != nil {
				continue
			}
			now := e.now()
			en := a.Outbox[j]
			if en.NotBefore.After(now) || en.NextAttempt.After(now) || failed[en.Channel] {
				continue
			}
			if en.Owner != e.owner || en.OwnedUntil.Before(now.Add(claimTTL/2)) {
				if en.Owner != e.owner && en.OwnedUntil.After(now) {
					continue // another engine is delivering it
				}
				if !e.claim(ctx, ls, rule, en.ID, now) {
					continue
				}
				en = ls.alerts.Get(rule).Outbox[entryIndex(ls.alerts.Get(rule).Outbox, id)]
			}
			out = append(out, dueEntry{rule: rule, en: en})
		}
	}
	return out
}

// hasOutbox reports whether any of the location's alerts has an entry.
func hasOutbox(ls *locState) bool {
	for _, a := range ls.alerts {
		if len(a.Outbox) > 0 {
			return true
		}
	}
	return false
}

// sortedRules returns the rules of the location's cached alerts, in order.
func sortedRules(ls *locState) []string {
	names := make([]string, 0, len(ls.alerts))
	for _, a := range ls.alerts {
		names = append(names, a.Rule)
	}
	return names
}

// withoutEntry returns outbox without entry j. The entry is cleared from
// the array and an emptied outbox is nil: an emptied outbox kept its array,
// and the last delivered notification's event in it, for as long as its
// alert lived (75 MB of the heap at 100,000 locations).
func withoutEntry(outbox []state.Entry, j int) []state.Entry {
	if outbox = slices.Delete(outbox, j, j+1); len(outbox) == 0 {
		return nil
	}
	return outbox
}

func entryIndex(outbox []state.Entry, id string) int {
	for i, en := range outbox {
		if en.ID == id {
			return i
		}
	}
	return -1
}

// claim makes this engine the owner of an entry for claimTTL; only the
// engine whose conditional write wins delivers it.
func (e *Engine) claim(ctx context.Context, ls *locState, rule, id string, now time.Time) bool {
	a := ls.alerts.Get(rule)
	j := entryIndex(a.Outbox, id)
	if j < 0 {
		return false
	}
	next := a.Clone()
	next.Outbox[j].Owner = e.owner
	next.Outbox[j].OwnedUntil = now.Add(claimTTL)
	if err := e.store.Save(ctx, &next); err != nil {
		if errors.Is(err, state.ErrConflict) {
			if fresh, ok, gerr := e.store.Get(ctx, a.Location, rule); gerr == nil && ok {
				e.setCached(ls, &fresh)
			}
		} else {
			e.log.Warn("claim notification failed", "id", id, "err", err)
		}
		return false
	}
	e.setCached(ls, &next)
	return true
}

// ack removes a delivered entry. If that write fails the entry stays and is
// sent again later: delivery is at least once, never lost.
func (e *Engine) ack(ctx context.Context, ls *locState, rule, id string) bool {
	for attempt := 0; attempt < 5; attempt++ {
		a := ls.alerts.Get(rule)
		j := entryIndex(a.Outbox, id)
		if j < 0 {
			return true
		}
		next := a.Clone()
		next.Outbox = withoutEntry(next.Outbox, j)
		err := e.store.Save(ctx, &next)
		if err == nil {
			e.setCached(ls, &next)
			if e.outboxLen.Load() < e.limit {
				e.full.Store(false)
			}
			return true
		}
		if !errors.Is(err, state.ErrConflict) {
			e.log.Error("notification sent but not marked sent; retrying the mark (a restart before it succeeds sends it again, with the same id)", "id", id, "err", err)
			return false
		}
		fresh, ok, gerr := e.store.Get(ctx, a.Location, rule)
		if gerr != nil || !ok {
			e.log.Error("notification sent but not marked sent; retrying the mark (a restart before it succeeds sends it again, with the same id)", "id", id, "err", gerr)
			return false
		}
		e.setCached(ls, &fresh)
	}
	return false
}

// backoff is when to retry a notification after its attempts-th failed
// one: from 1s, doubling up to outbox.max_backoff, jittered into [d/2, d).
func (e *Engine) backoff(attempts int) time.Duration {
	return backoff.Exponential{Base: time.Second, Max: e.maxBackoff}.Delay(attempts)
}
