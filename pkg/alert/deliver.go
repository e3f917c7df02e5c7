package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/lifecycle"
)

// finalDeliveryBudget bounds the last delivery attempt when Run stops (a
// step of the stop sequence that shutdown_timeout must hold).
const finalDeliveryBudget = 5 * time.Second

const (
	// scanInterval is how often Run looks in a shared store for entries left
	// by engines that stopped.
	scanInterval = 30 * time.Second
	tickInterval = time.Second
)

// Run delivers what Observe could not: retries with backoff, notifications
// held for a delivery window, digests, and (with a shared store) entries left
// by engines that stopped. It returns nil when ctx ends, after one last
// delivery attempt bounded by finalDeliveryBudget and by what is left of the
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
			fctx, cancel := lifecycle.StopContext(ctx, finalDeliveryBudget)
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
	e.expireForecasts(ctx, now)
	e.sweep(ctx, now)
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
		if c := ls.alerts.Get(a.Rule); c == nil || c.Version < a.Version {
			e.setCached(ls, &a)
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
	e.queuedMu.Lock()
	ids := make([]string, 0, len(e.queued))
	for id := range e.queued {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	locs := make([]*locState, len(ids))
	for i, id := range ids {
		locs[i] = e.queued[id]
	}
	e.queuedMu.Unlock()
	failed := map[string]bool{}
	for _, ls := range locs {
		e.deliver(ctx, ls, failed)
	}
	held := 0
	now := e.now()
	for i, ls := range locs {
		ls.mu.Lock()
		for _, a := range ls.alerts {
			for _, en := range a.Outbox {
				if en.NotBefore.After(now) {
					held++
				}
			}
		}
		forgetRemoved(ls)
		if !hasOutbox(ls) {
			// Under ls.mu, as setCached queues it: an entry added since
			// is not lost.
			e.queuedMu.Lock()
			delete(e.queued, ids[i])
			e.queuedMu.Unlock()
		}
		ls.mu.Unlock()
	}
	e.m.held.Set(float64(held))
	e.m.pending.Set(float64(e.outboxLen.Load()))
}

// deliver sends the due entries of a location's alerts, skipping channels
// in failed (and adding those that fail). ls.mu is held to pick and claim the
// entries and to record each outcome, never during a send: Observe of the
// same location goes on while an endpoint hangs. Failures stay in the outbox
// with a backoff; they are never dropped. An entry published whose removal
// the store refused is not published again by this engine; another engine,
// or this one after a restart, may send it once more with the same id.
func (e *Engine) deliver(ctx context.Context, ls *locState, failed map[string]bool) {
	for _, d := range e.due(ctx, ls, failed) {
		if failed[d.en.Channel] || ctx.Err() != nil {
			continue // stays due: next round
		}
		ls.mu.Lock()
		published := ls.sent[d.en.ID]
		ls.mu.Unlock()
		var err error
		if !published {
			err = e.send(ctx, d.en)
		}
		ls.mu.Lock()
		if err == nil {
			if e.ack(ctx, ls, d.rule, d.en.ID) {
				delete(ls.sent, d.en.ID)
				ls.mu.Unlock()
				continue
			}
			// Published, but the store did not take its removal: retry
			// only that, or subscribers would get it once per round while
			// the store is down.
			if ls.sent == nil {
				ls.sent = map[string]bool{}
			}
			ls.sent[d.en.ID] = true
		} else {
			failed[d.en.Channel] = true
		}
		// Keep it with a backoff; the cache holds the retry bookkeeping.
		if a := ls.alerts.Get(d.rule); a != nil {
			if j := entryIndex(a.Outbox, d.en.ID); j >= 0 {
				next := a.Clone()
				en := &next.Outbox[j]
				en.Attempts++
				en.NextAttempt = e.now().Add(e.backoff(en.Attempts))
				var ra *notify.RetryAfterError
				if errors.As(err, &ra) && ra.At.After(en.NextAttempt) {
					en.NextAttempt = ra.At // the receiver asked (capped by max_retry_after)
				}
				e.setCached(ls, &next)
			}
		}
		ls.mu.Unlock()
	}
}

// forgetRemoved drops from ls.sent the entries no longer in an outbox
// (another engine removed them). ls.mu is held.
func forgetRemoved(ls *locState) {
	if len(ls.sent) == 0 {
		return
	}
	for id := range ls.sent {
		found := false
		for _, a := range ls.alerts {
			if entryIndex(a.Outbox, id) >= 0 {
				found = true
				break
			}
		}
		if !found {
			delete(ls.sent, id)
		}
	}
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
	msg, err := ch.tmpl.render(en, ch.units, e.now())
	if err != nil {
		e.log.Warn("channel template failed; using the default templates", "channel", ch.name, "err", err)
		if msg, err = ch.fallback.render(en, ch.units, e.now()); err != nil {
			e.log.Error("render notification", "id", en.ID, "err", err)
			e.m.notifications.WithLabelValues(en.Channel, outcomeFailed).Inc()
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, e.sendTimeout)
	defer cancel()
	if err := ch.sender.Send(sctx, msg); err != nil {
		if ctx.Err() == nil {
			ch.health.Fail(err)
		}
		e.m.notifications.WithLabelValues(en.Channel, outcomeFailed).Inc()
		e.log.Warn("notification not delivered; kept for retry", "id", en.ID, "channel", en.Channel, "attempt", en.Attempts+1, "err", err)
		return err
	}
	ch.health.OK()
	e.m.notifications.WithLabelValues(en.Channel, outcomeSent).Inc()
	return nil
}
