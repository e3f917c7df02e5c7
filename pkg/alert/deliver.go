package alert

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

// Run delivers what Observe could not: retries with backoff, notifications
// held for a delivery window, digests, and (with a shared store) entries left
// by engines that stopped. It returns nil when ctx ends, after one last
// delivery attempt bounded by a few seconds.
func (e *Engine) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		err := e.init(ctx)
		if err == nil {
			break
		}
		e.log.Warn("alert state store not ready; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	e.running.Store(true)
	defer e.running.Store(false)
	e.Tick(ctx)
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalBudget)
			e.deliverAll(fctx)
			cancel()
			if n := e.outboxLen.Load(); n > 0 && !e.shared {
				e.log.Warn("undelivered notifications are lost at exit with alerts.state.driver memory", "count", n)
			}
			return nil
		case <-t.C:
			e.Tick(ctx)
		}
	}
}

// Tick does one round of Run's background work at the engine's clock:
// adopt orphaned entries (shared store), queue due digests, deliver what is
// due. Run calls it every second; tests call it with an injected clock.
func (e *Engine) Tick(ctx context.Context) {
	if err := e.init(ctx); err != nil {
		e.log.Warn("alert state store not ready", "err", err)
		return
	}
	now := e.now()
	if e.shared && (e.lastScan.IsZero() || now.Sub(e.lastScan) >= scanInterval) {
		e.lastScan = now
		e.adopt(ctx)
	}
	for _, d := range e.dig.due(now) {
		e.queueDigest(ctx, d)
	}
	e.deliverAll(ctx)
}

// adopt loads, from the shared store, alerts with undelivered entries, so
// that entries whose owner stopped are delivered once their claim expires.
func (e *Engine) adopt(ctx context.Context) {
	pending, err := e.store.Pending(ctx)
	if err != nil {
		e.log.Warn("scan for undelivered notifications failed", "err", err)
		return
	}
	for _, a := range pending {
		ls := e.loc(a.Location)
		ls.mu.Lock()
		if c := ls.alerts[a.Rule]; c == nil || c.Version < a.Version {
			e.setCached(ls, a)
		}
		ls.mu.Unlock()
	}
}

func (e *Engine) deliverAll(ctx context.Context) {
	e.mu.Lock()
	ids := make([]string, 0, len(e.locs))
	for id := range e.locs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	locs := make([]*locState, len(ids))
	for i, id := range ids {
		locs[i] = e.locs[id]
	}
	e.mu.Unlock()
	held := 0
	now := e.now()
	for _, ls := range locs {
		ls.mu.Lock()
		e.deliver(ctx, ls)
		for _, a := range ls.alerts {
			for _, en := range a.Outbox {
				if en.NotBefore.After(now) {
					held++
				}
			}
		}
		ls.mu.Unlock()
	}
	e.m.held.Set(float64(held))
	e.m.pending.Set(float64(e.outboxLen.Load()))
}

func (e *Engine) queueDigest(ctx context.Context, d digestDue) {
	id := d.event.LocationID
	ls := e.loc(id)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err := e.refresh(ctx, id, ls); err != nil {
		e.log.Error("digest not queued", "channel", d.channel, "location", id, "err", err)
		e.m.notifications.WithLabelValues(d.channel, OutcomeFailed).Inc()
		return
	}
	now := e.now()
	entryID := fmt.Sprintf("%s/%s/%d/%s", id, digestRule, d.event.Digest.To.Unix(), d.channel)
	for attempt := 0; attempt < 3; attempt++ {
		cur := ls.alerts[digestRule]
		if cur == nil {
			cur = &state.Alert{Location: id, Rule: digestRule, Phase: Inactive}
		}
		next := cur.Clone()
		next.Seq++
		entry := state.Entry{ID: entryID, Channel: d.channel, Event: d.event, Owner: e.owner, OwnedUntil: now.Add(claimTTL)}
		entry.NotBefore = e.holdUntil(e.channels[d.channel], "info", id, now)
		next.Outbox = append(next.Outbox, entry)
		err := e.store.Save(ctx, &next)
		if errors.Is(err, state.ErrConflict) {
			if fresh, ok, gerr := e.store.Get(ctx, id, digestRule); gerr == nil && ok {
				e.setCached(ls, fresh)
			}
			continue
		}
		if err != nil {
			e.log.Error("digest not queued", "channel", d.channel, "location", id, "err", err)
			e.m.notifications.WithLabelValues(d.channel, OutcomeFailed).Inc()
			return
		}
		e.setCached(ls, next)
		if !entry.NotBefore.IsZero() {
			e.m.notifications.WithLabelValues(d.channel, OutcomeHeld).Inc()
		}
		return
	}
	e.log.Error("digest not queued: alert state keeps changing", "channel", d.channel, "location", id)
}

// deliver sends every due entry of a location's alerts; ls.mu is held.
// Failures stay in the outbox with a backoff; they are never dropped.
func (e *Engine) deliver(ctx context.Context, ls *locState) {
	if !hasOutbox(ls) {
		return // the usual case: nothing to sort and walk
	}
	for _, rule := range sortedRules(ls) {
		for i := 0; ; i++ {
			a := ls.alerts[rule]
			if a == nil || i >= len(a.Outbox) {
				break
			}
			now := e.now()
			en := a.Outbox[i]
			if en.NotBefore.After(now) || en.NextAttempt.After(now) {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			if en.Owner != e.owner || en.OwnedUntil.Before(now.Add(claimTTL/2)) {
				if en.Owner != e.owner && en.OwnedUntil.After(now) {
					continue // another engine is delivering it
				}
				if !e.claim(ctx, ls, rule, en.ID, now) {
					continue
				}
			}
			sent := e.send(ctx, en)
			if sent && e.ack(ctx, ls, rule, en.ID) {
				i-- // the entry left the outbox
				continue
			}
			// Keep it with a backoff; the cache holds the retry bookkeeping.
			a = ls.alerts[rule]
			if j := entryIndex(a.Outbox, en.ID); j >= 0 {
				next := a.Clone()
				next.Outbox[j].Attempts++
				next.Outbox[j].NextAttempt = now.Add(e.backoff(next.Outbox[j].Attempts))
				e.setCached(ls, next)
			}
		}
	}
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

func (e *Engine) backoff(attempts int) time.Duration {
	d := time.Second << min(attempts-1, 20)
	d = min(d, e.maxBackoff)
	return d/2 + rand.N(d/2+1)
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
	a := ls.alerts[rule]
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
				e.setCached(ls, fresh)
			}
		} else {
			e.log.Warn("claim notification failed", "id", id, "err", err)
		}
		return false
	}
	e.setCached(ls, next)
	return true
}

func (e *Engine) send(ctx context.Context, en state.Entry) bool {
	ch := e.channels[en.Channel]
	if ch == nil {
		// The channel left the configuration since the entry was queued.
		e.log.Error("notification for an unknown channel kept in the outbox", "id", en.ID, "channel", en.Channel)
		return false
	}
	msg, err := ch.tmpl.render(en)
	if err != nil {
		e.log.Warn("channel template failed; using the default templates", "channel", ch.name, "err", err)
		if msg, err = ch.fallback.render(en); err != nil {
			e.log.Error("render notification", "id", en.ID, "err", err)
			e.m.notifications.WithLabelValues(en.Channel, OutcomeFailed).Inc()
			return false
		}
	}
	if err := ch.sender.Send(ctx, msg); err != nil {
		if ctx.Err() == nil {
			ch.health.Fail(err)
		}
		e.m.notifications.WithLabelValues(en.Channel, OutcomeFailed).Inc()
		e.log.Warn("notification not delivered; kept for retry", "id", en.ID, "channel", en.Channel, "attempt", en.Attempts+1, "err", err)
		return false
	}
	ch.health.OK()
	e.m.notifications.WithLabelValues(en.Channel, OutcomeSent).Inc()
	return true
}

// ack removes a delivered entry. If that write fails the entry stays and is
// sent again later: delivery is at least once, never lost.
func (e *Engine) ack(ctx context.Context, ls *locState, rule, id string) bool {
	for attempt := 0; attempt < 5; attempt++ {
		a := ls.alerts[rule]
		j := entryIndex(a.Outbox, id)
		if j < 0 {
			return true
		}
		next := a.Clone()
		next.Outbox = append(next.Outbox[:j], next.Outbox[j+1:]...)
		err := e.store.Save(ctx, &next)
		if err == nil {
			e.setCached(ls, next)
			return true
		}
		if !errors.Is(err, state.ErrConflict) {
			e.log.Error("notification sent but not marked sent; it may be sent again", "id", id, "err", err)
			return false
		}
		fresh, ok, gerr := e.store.Get(ctx, a.Location, rule)
		if gerr != nil || !ok {
			e.log.Error("notification sent but not marked sent; it may be sent again", "id", id, "err", gerr)
			return false
		}
		e.setCached(ls, fresh)
	}
	return false
}
