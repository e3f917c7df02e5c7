package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Deps are the engine's outside dependencies. SNS and DynamoDB may be nil
// when the configuration uses no sns channel or the memory state driver.
type Deps struct {
	SNS        notify.SNSAPI
	DynamoDB   state.DynamoDBAPI
	HTTPClient *http.Client
	Now        func() time.Time
}

// Engine evaluates rules and delivers notifications.
type Engine struct {
	rules       []*compiledRule
	groups      map[string][]*compiledRule
	channels    map[string]*channel
	zones       map[string]*time.Location
	names       map[string]string
	store       state.Store
	shared      bool // the store is shared with other engines: reload per batch
	now         func() time.Time
	owner       string
	log         *slog.Logger
	m           *metrics
	dig         *digests
	limit       int64
	maxBackoff  time.Duration
	sendTimeout time.Duration
	// wake tells Run that Observe queued notifications (capacity 1: one
	// pending wake-up covers any number of them).
	wake chan struct{}
	// full is set while the outbox refuses transitions (ErrOutboxFull), and
	// cleared once a delivery makes room.
	full atomic.Bool

	mu   sync.Mutex
	locs map[string]*locState

	outboxLen atomic.Int64
	// queued holds the locations whose cached alerts have outbox entries:
	// setCached adds them, deliverAll drops them once empty, so a delivery
	// round walks those, not every location (at 100,000 locations walking
	// and sorting them all, every second and after every batch that queued
	// a notification, was a quarter of the process's CPU).
	queuedMu sync.Mutex
	queued   map[string]*locState
	// live holds the locations whose cached alerts include an active one
	// (firing, predicted or updated): setCached adds them, and the
	// once-a-second expiry of forecast alerts and sweep of muted ones walk
	// them and drop those with none left (walking every location was a
	// tenth of the process's CPU at 100,000 locations).
	liveMu  sync.Mutex
	live    map[string]*locState
	initMu  sync.Mutex
	inited  bool
	running atomic.Bool
	// storeHealth follows the state store's calls (see healthStore).
	storeHealth lifecycle.Health
	lastScan    time.Time // used by Run's goroutine only
	// ops is the operator side: inhibition, silences, acks (silence.go).
	ops *operator
}

// locState caches the alerts of one location; its mutex serialises work on
// the location (evaluation, delivery), so tiers see each other consistently.
type locState struct {
	id     string // the location's
	mu     sync.Mutex
	loaded bool
	alerts state.Set
	// rules are the rules that match the location, in configuration order
	// (rules and locations do not change after New).
	rules []*compiledRule
	// ops is what this batch read for muting decisions (silence.go),
	// allocated at the first read and dropped when the batch ends (it may
	// hold every stored alert).
	ops *opsMemo
	// latest is the newest reading evaluated, for the API (silence.go).
	latest latestReading
	// sent holds the ids of entries this engine published whose removal
	// from the outbox the store has not taken yet (deliver): only the
	// removal is retried, the notification is not published again.
	sent map[string]bool
	// quiet is the newest reading's observed_at every rule judged, and
	// quietIssued the newest forecast's issued_at: nothing older is judged
	// again. A rule that has recorded nothing at the location has no cached
	// alert, and is judged as an inactive one last evaluated then (at
	// 100,000 locations inactive alerts per rule were a fifth of the heap);
	// a cached alert's LastEval is its last transition's, and the alert is
	// never changed in place (so the memory store can keep the same one).
	quiet, quietIssued time.Time
}

// New builds an engine from a validated configuration. locations gives
// names and time zones (for local-time windows and messages).
func New(cfg Config, locations []weather.Location, deps Deps, reg prometheus.Registerer, log *slog.Logger) (*Engine, error) {
	var ps check.Problems
	cfg.Validate("alerts", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("alerts config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "alerts")
	if deps.Now == nil {
		deps.Now = time.Now
	}
	e := &Engine{
		groups:      map[string][]*compiledRule{},
		channels:    map[string]*channel{},
		zones:       map[string]*time.Location{},
		names:       map[string]string{},
		now:         deps.Now,
		owner:       randomID(),
		log:         log,
		locs:        map[string]*locState{},
		queued:      map[string]*locState{},
		live:        map[string]*locState{},
		limit:       int64(cfg.Outbox.Limit),
		maxBackoff:  cfg.Outbox.MaxBackoff,
		sendTimeout: cfg.Outbox.SendTimeout,
		wake:        make(chan struct{}, 1),
	}
	// Locations share one *time.Location per zone name: each load is a
	// few KiB of transition tables, 270 MiB at 100,000 locations.
	byName := map[string]*time.Location{}
	for _, l := range locations {
		e.names[l.ID] = l.Name
		if l.Timezone == "" {
			continue
		}
		z, ok := byName[l.Timezone]
		if !ok {
			z, _ = time.LoadLocation(l.Timezone)
			byName[l.Timezone] = z
		}
		if z != nil {
			e.zones[l.ID] = z
		}
	}
	for i, rc := range cfg.Rules {
		r, err := compileRule(i, rc)
		if err != nil {
			return nil, err
		}
		e.rules = append(e.rules, r)
		if r.Group != "" {
			e.groups[r.Group] = append(e.groups[r.Group], r)
		}
		if len(locations) > 0 && !matchesAny(r, locations) {
			log.Warn("alert rule matches no configured location", "rule", r.Name, "locations", r.Locations)
		}
	}
	fallback, err := parseTemplates(TemplateConfig{})
	if err != nil {
		return nil, err
	}
	for name, cc := range cfg.Channels {
		if e.channels[name], err = newChannel(name, cc, fallback, deps, log); err != nil {
			return nil, err
		}
	}
	e.store, e.shared, err = newStore(cfg.State, deps)
	if err != nil {
		return nil, err
	}
	e.store = healthStore{Store: e.store, h: &e.storeHealth}
	if e.dig, err = newDigests(cfg.Channels, e.now()); err != nil {
		return nil, err
	}
	e.m = newMetrics(reg)
	e.ops = newOperator(cfg, e.rules, locations, reg)
	return e, nil
}

// Observe evaluates the rules for a batch of readings, in stream order. When
// it returns nil every notification the batch caused is queued in the outbox
// (durably with the dynamodb state driver; in memory, lost on a crash, with
// the memory driver); Run delivers it. Observe never waits for a channel, so
// a slow or dead endpoint does not slow the shard. An error means nothing was
// lost but the batch must be observed again (readings already evaluated are
// ignored); ErrOutboxFull is the outbox's backpressure.
func (e *Engine) Observe(ctx context.Context, readings []weather.Reading) error {
	if len(readings) == 0 {
		return nil
	}
	if err := e.init(ctx); err != nil {
		return err
	}
	start := time.Now()
	defer func() { e.m.evaluation.Observe(time.Since(start).Seconds()) }()
	g := groupings.Get().(*grouping)
	defer g.release()
	ids, idx, starts := g.group(readings)
	ev := newEvaluator()
	var errs []error
	for k, id := range ids {
		if err := e.observeLocation(ctx, id, readings, idx[starts[k]:starts[k+1]], ev); err != nil {
			errs = append(errs, err)
		}
	}
	e.m.pending.Set(float64(e.outboxLen.Load()))
	return errors.Join(errs...)
}

// observeLocation evaluates readings[i] for every i in idx (one location's,
// in stream order).
func (e *Engine) observeLocation(ctx context.Context, id string, readings []weather.Reading, idx []int32, ev *evaluator) error {
	ls := e.loc(id)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err := e.refresh(ctx, id, ls); err != nil {
		return err
	}
	defer ls.endBatch()
	tz := e.zoneName(id)
	for _, i := range idx {
		r := &readings[i]
		e.dig.observe(r, tz)
		for _, rule := range ls.rules {
			if err := e.evaluate(ctx, ls, rule, r, ev); err != nil {
				return err
			}
		}
		if r.ObservedAt.After(ls.quiet) {
			ls.quiet = r.ObservedAt
		}
		ls.latest.keep(r, e.ops.tick.Load()) // evaluated and recorded: the API may say so
	}
	return nil
}

// evaluate takes one reading through one rule, stage by stage: evaluate
// (Rule.judge, eval.go), transition (step, transition.go), route
// (notifications, route.go) and outbox (the alert and its new entries saved
// by a conditional write; on a conflict the decision is made again on the
// stored state). A reading no newer than the alert's last transition or
// than the newest reading judged (locState.quiet) is ignored.
func (e *Engine) evaluate(ctx context.Context, ls *locState, rule *compiledRule, r *weather.Reading, ev *evaluator) error {
	if rule.isForecast() {
		return nil // judges forecasts (ObserveForecast), not readings
	}
	id := r.Location.ID
	var uncached state.Alert // the alert of a rule with none cached (locState.quiet)
	for attempt := 0; ; attempt++ {
		a := ls.alerts.Get(rule.Name)
		if a == nil {
			uncached = state.Alert{Location: id, Rule: rule.Name, Phase: phaseInactive}
			a = &uncached
		}
		if !r.ObservedAt.After(a.LastEval) || !r.ObservedAt.After(ls.quiet) {
			return nil // a replay, or older than what was already judged
		}
		// 1. Evaluate: what the reading says about the rule.
		v, err := rule.judge(&r.Values, ev)
		if err != nil {
			e.log.Warn("alert rule evaluation failed; reading skipped for it", "rule", rule.Name, "event_id", r.EventID, "err", err)
			return nil
		}
		// 2. Transition: the alert's state machine.
		// A shallow copy is enough to decide: step changes scalar fields only.
		decided := *a
		decided.LastEval = r.ObservedAt
		var kind string
		if v != unknown {
			kind = step(&decided, rule, v, r.ObservedAt)
		}
		// Silences, inhibition and acks (silence.go): may mute the
		// notification, or release one owed since a firing was muted.
		mute, err := e.mute(ctx, ls, rule, &decided, kind, &r.Values)
		if err != nil {
			return fmt.Errorf("decide muting of %s at %s: %w", rule.Name, id, err)
		}
		kind = mute.kind
		if kind == "" {
			// Nothing to record: the store keeps the last transition, and a
			// replay from there reaches the same state. The cached alert is
			// not changed: ls.quiet, set once every rule judged the reading,
			// keeps the rule from judging it or anything older again.
			return nil
		}
		// 3. Route: the transition's notifications, one entry per channel.
		// A transition adds to the outbox: work on a deep copy, so the cached
		// alert stays as it is until the store has the new one.
		next := decided.Clone()
		next.Seq++
		var outcomes []outcome
		if mute.reason == "" {
			outcomes = e.notifications(ls, rule, &next, notifyKind(kind), *r)
		}
		// 4. Outbox: record the alert with its entries, within the limits.
		retry, err := e.commit(ctx, ls, rule, a, &next, kind, attempt)
		if retry {
			continue
		}
		if err != nil {
			return err
		}
		e.recorded(ctx, ls, rule, r.Location, r.ObservedAt, kind, outcomes)
		e.mutedRecorded(ctx, rule, &next, mute)
		return nil
	}
}

// commit records next, a transition of the cached alert a with its new
// outbox entries, by a conditional write within the outbox limits. retry is
// true when another engine wrote first: the cache then holds the stored
// alert, for the caller to decide again on.
func (e *Engine) commit(ctx context.Context, ls *locState, rule *compiledRule, a, next *state.Alert, kind string, attempt int) (retry bool, err error) {
	id := a.Location
	if grow := int64(len(next.Outbox) - len(a.Outbox)); grow > 0 && (e.outboxLen.Load()+grow > e.limit || len(next.Outbox) > maxEntriesPerAlert) {
		e.full.Store(true)
		e.m.outboxFull.Inc()
		return false, fmt.Errorf("record %s %s at %s: %w (%d notifications waiting; see alerts.outbox.limit)", rule.Name, kind, id, ErrOutboxFull, e.outboxLen.Load())
	}
	err = e.store.Save(ctx, next)
	if errors.Is(err, state.ErrConflict) && attempt < 3 {
		// Another engine recorded something: decide again on its state.
		cur, ok, gerr := e.store.Get(ctx, id, rule.Name)
		if gerr != nil {
			return false, fmt.Errorf("reload alert %s at %s: %w", rule.Name, id, gerr)
		}
		if !ok {
			cur = state.Alert{Location: id, Rule: rule.Name, Phase: phaseInactive}
		}
		e.setCached(ls, &cur)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("record %s %s at %s: %w", rule.Name, kind, id, err)
	}
	e.setCached(ls, next)
	if len(next.Outbox) > len(a.Outbox) {
		e.wakeRun()
	}
	return false, nil
}

// recorded follows a transition the store has: it counts the transition and
// its notification outcomes, tells the digests, logs it, for a firing or
// predicted tier of a group drops the lower tiers' undelivered
// notifications, and for a firing ends the forecast alerts linked to the
// rule (handOver).
func (e *Engine) recorded(ctx context.Context, ls *locState, rule *compiledRule, loc weather.EventLocation, at time.Time, kind string, outcomes []outcome) {
	id := loc.ID
	e.m.transitions.WithLabelValues(rule.Name, kind).Inc()
	for _, o := range outcomes {
		e.m.notifications.WithLabelValues(o.channel, o.outcome).Inc()
	}
	e.dig.transition(loc, e.zoneName(id), rule.Name, kind)
	lvl := slog.LevelDebug
	if notifies(kind) && kind != kindRepeat {
		lvl = slog.LevelInfo
	}
	timeKey := "observed_at"
	if rule.isForecast() {
		timeKey = "issued_at"
	}
	e.log.Log(ctx, lvl, "alert transition", "rule", rule.Name, "location", id, "state", kind,
		"severity", rule.Severity, timeKey, at)
	if (kind == kindFiring || kind == kindPredicted || kind == kindUpdated) && rule.Group != "" {
		e.supersede(ctx, ls, rule)
	}
	if kind == kindFiring {
		e.handOver(ctx, ls, rule, at)
	}
}

// Ready reports whether Run has started and the state store is usable.
func (e *Engine) Ready() bool { return e.running.Load() }

// Health is nil while the state store and every channel work, or says which
// do not: the state store once its calls have failed, and a channel once its
// deliveries have failed, for longer than lifecycle.DefaultGrace without a
// success. A failing channel recovers at its next successful delivery, which
// the outbox backoff (alerts.outbox.max_backoff) may delay. A full outbox is
// reported at once: the consumer is held back until deliveries make room.
func (e *Engine) Health() error {
	var why []string
	if e.full.Load() {
		why = append(why, fmt.Sprintf("outbox full: %d notifications waiting (alerts.outbox.limit %d); readings are not checkpointed until deliveries make room", e.outboxLen.Load(), e.limit))
	}
	if err := e.storeHealth.Err(); err != nil {
		why = append(why, "state store: "+err.Error())
	}
	names := make([]string, 0, len(e.channels))
	for name := range e.channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := e.channels[name].health.Err(); err != nil {
			why = append(why, "channel "+name+": "+err.Error())
		}
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}

func (e *Engine) init(ctx context.Context) error {
	e.initMu.Lock()
	defer e.initMu.Unlock()
	if e.inited {
		return nil
	}
	if err := e.store.Init(ctx); err != nil {
		return fmt.Errorf("alert state store: %w", err)
	}
	e.inited = true
	return nil
}

func (e *Engine) loc(id string) *locState {
	e.mu.Lock()
	defer e.mu.Unlock()
	ls := e.locs[id]
	if ls == nil {
		ls = &locState{id: id}
		for _, r := range e.rules {
			if r.matches(id) {
				ls.rules = append(ls.rules, r)
			}
		}
		ls.rules = e.ops.sourcesFirst(ls.rules)
		e.locs[id] = ls
	}
	return ls
}

func (e *Engine) zone(id string) *time.Location {
	if z := e.zones[id]; z != nil {
		return z
	}
	return time.UTC
}

func (e *Engine) zoneName(id string) string {
	if z := e.zones[id]; z != nil {
		return z.String()
	}
	return ""
}

// groupByLocation orders the readings by location without copying them:
// ids are the locations in order of first appearance, and
// idx[starts[k]:starts[k+1]] the indexes of ids[k]'s readings, in stream order.
func groupByLocation(readings []weather.Reading) (ids []string, idx, starts []int32) {
	return new(grouping).group(readings)
}

// grouping is groupByLocation's storage, kept between batches (groupings)
// so a batch of a few hundred locations allocates no map and no slices.
type grouping struct {
	index                   map[string]int32
	ids                     []string
	counts, of, idx, starts []int32
}

var groupings = sync.Pool{New: func() any { return new(grouping) }}

// release clears what refers to the batch's strings and returns g to
// groupings.
func (g *grouping) release() {
	clear(g.index)
	clear(g.ids[:cap(g.ids)])
	groupings.Put(g)
}

func (g *grouping) group(readings []weather.Reading) (ids []string, idx, starts []int32) {
	if g.index == nil {
		// Sized for a batch of distinct locations (capped: a large batch
		// usually holds few), so that it rarely grows.
		g.index = make(map[string]int32, min(len(readings), 256))
	}
	ids, counts := g.ids[:0], g.counts[:0]
	of := slices.Grow(g.of[:0], len(readings))[:len(readings)]
	for i := range readings {
		id := readings[i].Location.ID
		k, ok := g.index[id]
		if !ok {
			k = int32(len(ids))
			g.index[id] = k
			ids = append(ids, id)
			counts = append(counts, 0)
		}
		of[i] = k
		counts[k]++
	}
	starts = slices.Grow(g.starts[:0], len(ids)+1)[:len(ids)+1]
	starts[0] = 0
	for k, c := range counts {
		starts[k+1] = starts[k] + c
	}
	next := counts // reused as each group's next free slot
	copy(next, starts)
	idx = slices.Grow(g.idx[:0], len(readings))[:len(readings)]
	for i, k := range of {
		idx[next[k]] = int32(i)
		next[k]++
	}
	g.ids, g.counts, g.of, g.starts, g.idx = ids, counts, of, starts, idx
	return ids, idx, starts
}

func matchesAny(r *compiledRule, locs []weather.Location) bool {
	for _, l := range locs {
		if r.matches(l.ID) {
			return true
		}
	}
	return false
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
