package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/weather"
)

// digests accumulates, per channel with a digest schedule and per location,
// what happened since that channel's last digest. It lives in memory: a
// restart starts a new period.
type digests struct {
	mu       sync.Mutex
	channels map[string]*digestChannel
}

type digestChannel struct {
	sched cron.Schedule
	tz    *time.Location
	from  time.Time // start of the current period
	next  time.Time // when the next digest is due
	acc   map[string]*digestAcc
}

type digestAcc struct {
	name, tz string
	last     time.Time // observation time of the newest reading counted
	readings int
	minT     *float64
	maxT     *float64
	maxGust  *float64
	maxRain  *float64
	rainMM   float64
	rainRate float64 // mm/h at last
	hasRate  bool
	alerts   map[string]*state.DigestAlert
}

// maxRainGap is the longest gap between readings over which rain is integrated.
const maxRainGap = time.Hour

func newDigests(chans map[string]ChannelConfig, now time.Time) (*digests, error) {
	d := &digests{channels: map[string]*digestChannel{}}
	for name, c := range chans {
		if c.Digest.Schedule == "" {
			continue
		}
		s, err := cronParser.Parse(c.Digest.Schedule)
		if err != nil {
			return nil, err
		}
		tz := time.UTC
		if c.Digest.Timezone != "" {
			if tz, err = time.LoadLocation(c.Digest.Timezone); err != nil {
				return nil, err
			}
		}
		d.channels[name] = &digestChannel{sched: s, tz: tz, from: now, next: s.Next(now.In(tz)), acc: map[string]*digestAcc{}}
	}
	return d, nil
}

func (d *digests) acc(ch *digestChannel, loc weather.EventLocation, tz string) *digestAcc {
	a := ch.acc[loc.ID]
	if a == nil {
		a = &digestAcc{name: loc.Name, tz: tz, alerts: map[string]*state.DigestAlert{}}
		ch.acc[loc.ID] = a
	}
	return a
}

// observe counts a reading; replays and late readings are ignored.
func (d *digests) observe(r *weather.Reading, tz string) {
	if len(d.channels) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ch := range d.channels {
		a := d.acc(ch, r.Location, tz)
		if !r.ObservedAt.After(a.last) {
			continue
		}
		if a.hasRate && !a.last.IsZero() {
			if gap := r.ObservedAt.Sub(a.last); gap <= maxRainGap {
				a.rainMM += a.rainRate * gap.Hours()
			}
		}
		a.last = r.ObservedAt
		a.readings++
		if v, ok := r.Values.Get("temperature"); ok {
			a.minT = pick(a.minT, v, func(x, y float64) bool { return x < y })
			a.maxT = pick(a.maxT, v, func(x, y float64) bool { return x > y })
		}
		if v, ok := r.Values.Get("windGust"); ok {
			a.maxGust = pick(a.maxGust, v, func(x, y float64) bool { return x > y })
		}
		a.rainRate, a.hasRate = r.Values.Get("rainIntensity")
		if a.hasRate {
			a.maxRain = pick(a.maxRain, a.rainRate, func(x, y float64) bool { return x > y })
		}
	}
}

func pick(cur *float64, v float64, better func(x, y float64) bool) *float64 {
	if cur == nil || better(v, *cur) {
		return &v
	}
	return cur
}

// transition counts a firing or resolved transition.
func (d *digests) transition(loc weather.EventLocation, tz, rule, kind string) {
	if kind != kindFiring && kind != kindResolved {
		return
	}
	d.eachAlert(loc, tz, rule, func(da *state.DigestAlert) {
		if kind == kindFiring {
			da.Fired++
		} else {
			da.Resolved++
		}
	})
}

// acked notes who acknowledged rule at loc, for the next digest.
func (d *digests) acked(loc weather.EventLocation, tz, rule, by string) {
	d.eachAlert(loc, tz, rule, func(da *state.DigestAlert) { da.AckBy = by })
}

// eachAlert runs update on rule's entry at loc in every digest channel's
// period, adding the entry when missing.
func (d *digests) eachAlert(loc weather.EventLocation, tz, rule string, update func(*state.DigestAlert)) {
	if len(d.channels) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ch := range d.channels {
		a := d.acc(ch, loc, tz)
		da := a.alerts[rule]
		if da == nil {
			da = &state.DigestAlert{Rule: rule}
			a.alerts[rule] = da
		}
		update(da)
	}
}

// digestDue is one digest to queue.
type digestDue struct {
	channel string
	event   state.Event
}

// due returns the digests whose schedule has come, one per location with
// readings or alerts in the period, and starts the next period.
func (d *digests) due(now time.Time) []digestDue {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []digestDue
	names := make([]string, 0, len(d.channels))
	for n := range d.channels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ch := d.channels[name]
		if ch.next.IsZero() || now.Before(ch.next) {
			continue
		}
		to := ch.next.UTC()
		locs := make([]string, 0, len(ch.acc))
		for id := range ch.acc {
			locs = append(locs, id)
		}
		sort.Strings(locs)
		for _, id := range locs {
			a := ch.acc[id]
			if a.readings == 0 && len(a.alerts) == 0 {
				continue
			}
			dg := &state.Digest{
				From: ch.from.UTC(), To: to, Readings: a.readings,
				MinTemperature: a.minT, MaxTemperature: a.maxT, MaxGust: a.maxGust, MaxRain: a.maxRain,
				RainMM: a.rainMM,
			}
			rules := make([]string, 0, len(a.alerts))
			for r := range a.alerts {
				rules = append(rules, r)
			}
			sort.Strings(rules)
			for _, r := range rules {
				dg.Alerts = append(dg.Alerts, *a.alerts[r])
			}
			out = append(out, digestDue{channel: name, event: state.Event{
				Kind: kindDigest, Severity: "info", LocationID: id, LocationName: a.name,
				Timezone: a.tz, ObservedAt: to, Digest: dg,
			}})
		}
		// A new period; keep the last reading time so replays stay ignored.
		for id, a := range ch.acc {
			ch.acc[id] = &digestAcc{name: a.name, tz: a.tz, last: a.last, rainRate: a.rainRate, hasRate: a.hasRate, alerts: map[string]*state.DigestAlert{}}
		}
		ch.from = to
		ch.next = ch.sched.Next(now.In(ch.tz))
	}
	return out
}

// digestRule is the pseudo-rule whose outbox holds a location's digests;
// rule names cannot contain '~'.
const digestRule = "~digest"

func (e *Engine) queueDigest(ctx context.Context, d digestDue) {
	id := d.event.LocationID
	ls := e.loc(id)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err := e.refresh(ctx, id, ls); err != nil {
		e.log.Error("digest not queued", "channel", d.channel, "location", id, "err", err)
		e.m.notifications.WithLabelValues(d.channel, outcomeFailed).Inc()
		return
	}
	now := e.now()
	d.event.Digest.Expected = e.expected(ls, now)
	entryID := fmt.Sprintf("%s/%s/%d/%s", id, digestRule, d.event.Digest.To.Unix(), d.channel)
	for attempt := 0; attempt < 3; attempt++ {
		cur := ls.alerts.Get(digestRule)
		if cur == nil {
			cur = &state.Alert{Location: id, Rule: digestRule, Phase: phaseInactive}
		}
		next := cur.Clone()
		next.Seq++
		entry := state.Entry{ID: entryID, Channel: d.channel, Event: d.event, Owner: e.owner, OwnedUntil: now.Add(claimTTL)}
		entry.NotBefore = e.holdUntil(e.channels[d.channel], "info", id, now)
		next.Outbox = append(next.Outbox, entry)
		err := e.store.Save(ctx, &next)
		if errors.Is(err, state.ErrConflict) {
			if fresh, ok, gerr := e.store.Get(ctx, id, digestRule); gerr == nil && ok {
				e.setCached(ls, &fresh)
			}
			continue
		}
		if err != nil {
			e.log.Error("digest not queued", "channel", d.channel, "location", id, "err", err)
			e.m.notifications.WithLabelValues(d.channel, outcomeFailed).Inc()
			return
		}
		e.setCached(ls, &next)
		if !entry.NotBefore.IsZero() {
			e.m.notifications.WithLabelValues(d.channel, outcomeHeld).Inc()
		}
		return
	}
	e.log.Error("digest not queued: alert state keeps changing", "channel", d.channel, "location", id)
}
