package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/weather"
)

// This file decides whether a notification about to be queued is muted by
// a silence, an inhibition or an acknowledgement, and sends the one
// notification owed once an alert that still fires is no longer muted.

// Reasons a notification was not sent: the reason label of
// weatherd_alert_notifications_suppressed_total.
const (
	reasonSilenced     = "silenced"
	reasonInhibited    = "inhibited"
	reasonAcknowledged = "acknowledged"
)

// kindReleased records the firing notification sent late, once a silence or
// an inhibition that muted it ended while the alert still fires.
const kindReleased = "released"

// sweepInterval is how often Tick looks for muted firing alerts to release
// without waiting for their next reading.
const sweepInterval = 5 * time.Second

// operator holds the engine's side of the operator API: inhibition rules,
// suppression metrics, and what the API shows about locations.
type operator struct {
	inhibit   []inhibitRule
	byName    map[string]*compiledRule
	locations []weather.Location

	suppressed     *prometheus.CounterVec
	silencesActive prometheus.Gauge

	lastSweep time.Time // Run's goroutine only
	// tick counts Run's ticks: the coarse clock of latestReading.
	tick atomic.Int64
}

func newOperator(cfg Config, rules []*compiledRule, locations []weather.Location, reg prometheus.Registerer) *operator {
	o := &operator{
		inhibit:   compileInhibit(cfg.Inhibit),
		byName:    map[string]*compiledRule{},
		locations: locations,
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_alert_notifications_suppressed_total",
			Help: "Alert notifications not sent, by reason (silenced, inhibited, acknowledged); one per transition, whatever the number of channels.",
		}, []string{"reason"}),
		silencesActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_alert_silences_active",
			Help: "Silences in force, as of the last time this instance read them from the alert state store.",
		}),
	}
	for _, r := range rules {
		o.byName[r.Name] = r
	}
	for _, reason := range []string{reasonSilenced, reasonInhibited, reasonAcknowledged} {
		o.suppressed.WithLabelValues(reason)
	}
	reg.MustRegister(o.suppressed, o.silencesActive)
	return o
}

// sourcesFirst orders a location's rules so inhibition sources come first,
// keeping configuration order otherwise.
func (o *operator) sourcesFirst(rules []*compiledRule) []*compiledRule {
	if len(o.inhibit) == 0 {
		return rules
	}
	out := make([]*compiledRule, 0, len(rules))
	for _, pass := range []bool{true, false} {
		for _, r := range rules {
			if o.isSource(r) == pass {
				out = append(out, r)
			}
		}
	}
	return out
}

// latestReading is a location's newest reading for the API. Its values must
// be copied (the consumer's readings and their values are not this engine's
// to keep), and copying them, or even reading the clock, for every reading
// costs the consumer's path a tenth of its time when it catches up on a
// backlog. So they are copied at most once per tick of Run (a second): at a
// polling pace they are the newest reading's; while catching up, at most a
// second older.
type latestReading struct {
	at         time.Time
	copied     bool
	copiedTick int64 // operator.tick of the last copy
	// The numbers of the known slots (bit i of set for slot i), in slot
	// order, then those of other names: as name and number pairs they were
	// 37 MB of the heap at 100,000 locations.
	set   uint64
	nums  []float64
	extra []namedValue
}

type namedValue struct {
	name string
	v    float64
}

func (l *latestReading) keep(r *weather.Reading, tick int64) {
	if !r.ObservedAt.After(l.at) {
		return
	}
	l.at = r.ObservedAt
	if l.copied && l.copiedTick == tick {
		return
	}
	l.copied, l.copiedTick = true, tick
	set, known := r.Values.Numbers()
	l.set, l.nums = set, l.nums[:0]
	for m := set; m != 0; m &= m - 1 {
		l.nums = append(l.nums, known[bits.TrailingZeros64(m)])
	}
	l.extra = l.extra[:0]
	if r.Values.Len() == bits.OnesCount64(r.Values.Present()) {
		return // no names outside the known slots
	}
	for name, v := range r.Values.All() {
		if _, ok := weather.KnownIndex(name); !ok && v != nil {
			l.extra = append(l.extra, namedValue{name, *v})
		}
	}
}

func (l *latestReading) valueMap() map[string]float64 {
	if l.at.IsZero() {
		return nil
	}
	m := make(map[string]float64, len(l.nums)+len(l.extra))
	for j, set := 0, l.set; set != 0; j, set = j+1, set&(set-1) {
		m[weather.KnownName(bits.TrailingZeros64(set))] = l.nums[j]
	}
	for _, nv := range l.extra {
		m[nv.name] = nv.v
	}
	return m
}

// opsMemo is what one batch of a location read from the store for muting
// decisions: silences and, for inhibition across locations, every alert.
// Reading them per batch, not caching them longer, makes a silence created
// through another replica hold from the next batch on.
type opsMemo struct {
	silences     []state.Silence
	silencesRead bool
	all          []state.Alert
	allRead      bool
}

// memo returns this batch's opsMemo. ls.mu is held.
func (ls *locState) memo() *opsMemo {
	if ls.ops == nil {
		ls.ops = &opsMemo{}
	}
	return ls.ops
}

// endBatch drops what the batch read. ls.mu is held.
func (ls *locState) endBatch() { ls.ops = nil }

// muted is a muting decision: the transition to record (a transition kind,
// kindReleased, or "" for nothing) and why its notification is not sent.
type muted struct {
	kind     string
	reason   string   // "" when the notification goes out
	silences []string // ids of the silences that muted it
	by       string   // the inhibiting alert
}

// mute decides, for an alert d that just made transition kind ("" for none)
// at observation time t, whether its notification is muted, and updates d's
// operator fields. It reads the store only when a notification is at stake.
func (e *Engine) mute(ctx context.Context, ls *locState, rule *compiledRule, d *state.Alert, kind string, values *weather.Values) (muted, error) {
	m := muted{kind: kind}
	switch kind {
	case kindFiring:
		d.Ack, d.Suppressed, d.Unsent = nil, 0, false
		d.Values = usedValues(rule, values)
	case kindRepeat:
		d.Values = usedValues(rule, values)
	case kindResolved:
		if d.Unsent {
			// Nobody heard of this firing, so no all-clear either.
			d.Unsent = false
			m.reason = "unsent"
			return m, nil
		}
	case "":
		if d.Phase != phaseFiring || !d.Unsent {
			return m, nil
		}
	default:
		return m, nil
	}
	if kind == kindRepeat && d.Ack != nil {
		m.reason = reasonAcknowledged
	} else if err := e.mutedBy(ctx, ls, rule, d.Location, &m); err != nil {
		return m, err
	}
	switch {
	case kind == "" && m.reason == "":
		m.kind = kindReleased
		d.Unsent = false
	case kind == "":
		m.kind, m.reason = "", "" // still muted: nothing to record
	case m.reason != "":
		d.Suppressed++
		if kind == kindFiring {
			d.Unsent = true
		}
	}
	return m, nil
}

// mutedBy sets m's reason when a silence in force or an inhibition mutes
// rule at loc.
func (e *Engine) mutedBy(ctx context.Context, ls *locState, rule *compiledRule, loc string, m *muted) error {
	ids, err := e.silencedBy(ctx, ls, rule, loc)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		m.reason, m.silences = reasonSilenced, ids
		return nil
	}
	if m.by, err = e.inhibitedBy(ctx, ls, rule, loc); err != nil {
		return err
	}
	if m.by != "" {
		m.reason = reasonInhibited
	}
	return nil
}

// muteNotice decides whether a forecast rule's notice of transition kind
// is muted by a silence or an inhibition, and updates d's operator fields.
// A muted prediction is owed: the first update heard afterwards is sent as
// a prediction, and its cancellation is not sent at all. m.kind is the kind
// to notify as.
func (e *Engine) muteNotice(ctx context.Context, ls *locState, rule *compiledRule, d *state.Alert, kind string) (muted, error) {
	m := muted{kind: kind}
	if !notifies(kind) {
		return m, nil
	}
	if kind == kindForecastCancelled && d.Unsent {
		d.Unsent = false
		m.reason = "unsent" // nobody heard of the prediction
		return m, nil
	}
	if err := e.mutedBy(ctx, ls, rule, d.Location, &m); err != nil {
		return m, err
	}
	if kind == kindPredicted { // a new prediction: nothing owed yet
		d.Suppressed, d.Unsent = 0, false
	}
	switch {
	case m.reason != "":
		d.Suppressed++
		if kind == kindPredicted {
			d.Unsent = true
		}
	case d.Unsent && kind == kindUpdated:
		m.kind, d.Unsent = kindPredicted, false
	}
	return m, nil
}

// silencedBy returns the ids of the silences in force now that match rule at
// loc, reading them from the store once per batch.
func (e *Engine) silencedBy(ctx context.Context, ls *locState, rule *compiledRule, loc string) ([]string, error) {
	if ops := ls.memo(); !ops.silencesRead {
		s, err := e.store.Silences(ctx)
		if err != nil {
			return nil, fmt.Errorf("read silences: %w", err)
		}
		ops.silences, ops.silencesRead = s, true
		e.countActive(s)
	}
	now := e.now()
	var ids []string
	for _, s := range ls.ops.silences {
		if s.ActiveAt(now) && s.Matchers.Match(rule.Name, loc, rule.Severity) {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}

func (e *Engine) countActive(silences []state.Silence) {
	now, n := e.now(), 0
	for _, s := range silences {
		if s.ActiveAt(now) {
			n++
		}
	}
	e.ops.silencesActive.Set(float64(n))
}

// mutedRecorded follows a recorded muting decision: metrics, the silences'
// counters and a log line.
func (e *Engine) mutedRecorded(ctx context.Context, rule *compiledRule, a *state.Alert, m muted) {
	if a.Ack != nil {
		e.dig.acked(weather.EventLocation{ID: a.Location, Name: e.names[a.Location]}, e.zoneName(a.Location), rule.Name, a.Ack.By)
	}
	switch m.reason {
	case "", "unsent":
		if m.kind == kindReleased {
			e.log.Info("alert no longer muted; its firing notification is sent", "rule", rule.Name, "location", a.Location)
		}
		return
	}
	e.ops.suppressed.WithLabelValues(m.reason).Inc()
	e.log.Info("alert notification suppressed", "rule", rule.Name, "location", a.Location, "reason", m.reason,
		"silences", m.silences, "inhibited_by", m.by, "suppressed", a.Suppressed)
	for _, id := range m.silences {
		if err := e.countSilence(ctx, id); err != nil {
			e.log.Warn("could not count a suppressed notification on its silence", "silence", id, "err", err)
		}
	}
}

// countSilence adds one to a silence's suppressed count.
func (e *Engine) countSilence(ctx context.Context, id string) error {
	for range 5 {
		all, err := e.store.Silences(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(s state.Silence) bool { return s.ID == id })
		if i < 0 {
			return nil
		}
		s := all[i]
		s.Suppressed++
		if err := e.store.SaveSilence(ctx, &s); !errors.Is(err, state.ErrConflict) {
			return err
		}
	}
	return state.ErrConflict
}

// sweep releases, without waiting for a new reading, the firing alerts this
// engine holds whose notification was muted and no longer is (a silence
// ended or was expired, an inhibiting alert resolved).
func (e *Engine) sweep(ctx context.Context, now time.Time) {
	e.ops.tick.Add(1)
	if !e.ops.lastSweep.IsZero() && now.Sub(e.ops.lastSweep) < sweepInterval {
		return
	}
	e.ops.lastSweep = now
	for _, ls := range e.liveLocations() {
		e.sweepLocation(ctx, ls)
	}
}

func (e *Engine) sweepLocation(ctx context.Context, ls *locState) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	defer ls.endBatch()
	for _, rule := range ls.rules {
		a := ls.alerts.Get(rule.Name)
		if a == nil || a.Phase != phaseFiring || !a.Unsent {
			continue
		}
		// Decide on the stored alert: another engine may have moved it.
		cur, ok, err := e.store.Get(ctx, a.Location, rule.Name)
		if err != nil {
			e.log.Warn("sweep: reload alert", "rule", rule.Name, "location", a.Location, "err", err)
			return
		}
		if !ok {
			continue
		}
		if cur.Version != a.Version {
			// Like refresh: a cached alert at the stored version is kept, it
			// may know newer readings.
			e.setCached(ls, &cur)
		}
		next := ls.alerts.Get(rule.Name).Clone()
		m, err := e.mute(ctx, ls, rule, &next, "", nil)
		if err != nil {
			e.log.Warn("sweep: muting decision", "rule", rule.Name, "location", a.Location, "err", err)
			return
		}
		if m.kind != kindReleased {
			continue
		}
		next.Seq++
		r := weather.Reading{
			Location:   weather.EventLocation{ID: next.Location, Name: e.names[next.Location]},
			ObservedAt: next.LastEval, // the newest reading judged
		}
		if ls.quiet.After(r.ObservedAt) {
			r.ObservedAt = ls.quiet
		}
		outcomes := e.notifications(ls, rule, &next, kindFiring, r)
		for i := range next.Outbox {
			if next.Outbox[i].Event.Values == nil && next.Outbox[i].ID == fmt.Sprintf("%s/%s/%d/%s", next.Location, rule.Name, next.Seq, next.Outbox[i].Channel) {
				next.Outbox[i].Event.Values = next.Values
			}
		}
		if err := e.store.Save(ctx, &next); err != nil {
			// A conflict: the owner of the alert decides on its next reading.
			e.log.Log(ctx, logLevel(err), "sweep: record release", "rule", rule.Name, "location", a.Location, "err", err)
			continue
		}
		e.setCached(ls, &next)
		e.wakeRun()
		e.recorded(ctx, ls, rule, r.Location, r.ObservedAt, kindReleased, outcomes)
		e.mutedRecorded(ctx, rule, &next, m)
	}
}

func logLevel(err error) slog.Level {
	if errors.Is(err, state.ErrConflict) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// ackOf gives the event fields that say who acknowledged an alert.
func ackOf(a *state.Alert) (by, comment string) {
	if a.Ack == nil {
		return "", ""
	}
	return a.Ack.By, a.Ack.Comment
}

// notifyKind is the event kind a recorded transition notifies as: a release
// is the firing notice subscribers have not had.
func notifyKind(kind string) string {
	if kind == kindReleased {
		return kindFiring
	}
	return kind
}
