package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/backoff"
	"github.com/weatherd/weatherd/pkg/lifecycle"
)

// Run delivers what Observe could not: retries with backoff, notifications
// held for a delivery window, digests, and (with a shared store) entries left
// by engines that stopped. It returns nil when ctx ends, after one last
// delivery attempt bounded by FinalDeliveryBudget and by what is left of the
// shutdown budget.
func (e *Engine) Run(ctx context.Context) error {
	wait := time.Second
	for {
		err := e.init(ctx)
		if err == nil {
			break
		}
		e.log.Warn("alert state store not ready; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
	e.running.Store(true)
	defer e.running.Store(false)
	e.Tick(ctx)
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-e.wake:
			e.deliverAll(ctx)
		case <-ctx.Done():
			fctx, cancel := lifecycle.StopContext(ctx, FinalDeliveryBudget)
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

// deliverAll sends every due entry of every location, one location after
// the other. It runs on Run's goroutine, never on a shard's: Observe only
// queues. A channel whose send fails is not tried again in the same round,
// so a black-holed endpoint costs one send timeout per round, not one per
// waiting notification.
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
	failed := map[string]bool{}
	for _, ls := range locs {
		e.deliver(ctx, ls, failed)
	}
	held := 0
	now := e.now()
	for _, ls := range locs {
		ls.mu.Lock()
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

// deliver sends the due entries of a location's alerts, skipping channels
// in failed (and adding those that fail). ls.mu is held to pick and claim the
// entries and to record each outcome, never during a send: Observe of the
// same location goes on while an endpoint hangs. Failures stay in the outbox
// with a backoff; they are never dropped.
func (e *Engine) deliver(ctx context.Context, ls *locState, failed map[string]bool) {
	for _, d := range e.due(ctx, ls, failed) {
		if failed[d.en.Channel] || ctx.Err() != nil {
			continue // stays due: next round
		}
		err := e.send(ctx, d.en)
		ls.mu.Lock()
		if err == nil && e.ack(ctx, ls, d.rule, d.en.ID) {
			ls.mu.Unlock()
			continue
		}
		if err != nil {
			failed[d.en.Channel] = true
		}
		// Keep it with a backoff; the cache holds the retry bookkeeping.
		if a := ls.alerts[d.rule]; a != nil {
			if j := entryIndex(a.Outbox, d.en.ID); j >= 0 {
				next := a.Clone()
				en := &next.Outbox[j]
				en.Attempts++
				en.NextAttempt = e.now().Add(e.backoff(en.Attempts))
				var ra *notify.RetryAfterError
				if errors.As(err, &ra) && ra.At.After(en.NextAttempt) {
					en.NextAttempt = ra.At // the receiver asked (capped by max_retry_after)
				}
				e.setCached(ls, next)
			}
		}
		ls.mu.Unlock()
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
		a := ls.alerts[rule]
		ids := make([]string, 0, len(a.Outbox))
		for _, en := range a.Outbox {
			ids = append(ids, en.ID)
		}
		for _, id := range ids {
			a := ls.alerts[rule]
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
				en = ls.alerts[rule].Outbox[entryIndex(ls.alerts[rule].Outbox, id)]
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

// backoff is when to retry a notification after its attempts-th failed
// one: from 1s, doubling up to outbox.max_backoff, jittered into [d/2, d).
func (e *Engine) backoff(attempts int) time.Duration {
	return backoff.Exponential{Base: time.Second, Max: e.maxBackoff}.Delay(attempts)
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

// send renders en and sends it within alerts.outbox.send_timeout; nil means
// delivered.
func (e *Engine) send(ctx context.Context, en state.Entry) error {
	ch := e.channels[en.Channel]
	if ch == nil {
		// The channel left the configuration since the entry was queued.
		e.log.Error("notification for an unknown channel kept in the outbox", "id", en.ID, "channel", en.Channel)
		return fmt.Errorf("unknown channel %q", en.Channel)
	}
	msg, err := ch.tmpl.render(en)
	if err != nil {
		e.log.Warn("channel template failed; using the default templates", "channel", ch.name, "err", err)
		if msg, err = ch.fallback.render(en); err != nil {
			e.log.Error("render notification", "id", en.ID, "err", err)
			e.m.notifications.WithLabelValues(en.Channel, OutcomeFailed).Inc()
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, e.sendTimeout)
	defer cancel()
	if err := ch.sender.Send(sctx, msg); err != nil {
		if ctx.Err() == nil {
			ch.health.Fail(err)
		}
		e.m.notifications.WithLabelValues(en.Channel, OutcomeFailed).Inc()
		e.log.Warn("notification not delivered; kept for retry", "id", en.ID, "channel", en.Channel, "attempt", en.Attempts+1, "err", err)
		return err
	}
	ch.health.OK()
	e.m.notifications.WithLabelValues(en.Channel, OutcomeSent).Inc()
	return nil
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
			if e.outboxLen.Load() < e.limit {
				e.full.Store(false)
			}
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
