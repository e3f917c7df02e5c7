// Package leader elects one leader among weatherd replicas with a lease item
// in DynamoDB, and runs a function (the poller) only while this instance
// holds it, so replicas sharing a stream do not each call the weather API.
//
// The lease is fenced by a counter bumped on every take, renew and release,
// and its expiry is timed on each instance's own monotonic clock (as the KCL
// does), so hosts' clocks need not agree: a follower takes the lease only
// after it has seen the same counter unchanged for the lease duration, and a
// leader that cannot renew steps down a safety margin before that can happen:
// a timer ends its term then, even while a DynamoDB call has not returned.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/ddbtable"
	"github.com/weatherd/weatherd/pkg/lease"
	"github.com/weatherd/weatherd/pkg/lifecycle"
)

// ErrStopped is returned by Await once the election has stopped.
var ErrStopped = errors.New("leader election stopped")

// releaseTimeout bounds the release write on a graceful stop.
const releaseTimeout = 2 * time.Second

// Config is the poller.leader section, and configures an Elector.
type Config struct {
	// Enabled makes replicas sharing Table and Name elect one leader; the
	// daemon polls (and compacts the lake) only while leading.
	Enabled bool `mapstructure:"enabled"`
	// Table is the DynamoDB table holding the leadership items (created
	// when missing).
	Table string `mapstructure:"table"`
	// Name is the leadership's item key: instances contending for the same
	// Name in the same Table elect one leader.
	Name string `mapstructure:"name"`
	// LeaseDuration is how long a lease may go unrenewed, timed on a
	// follower's own clock, before the follower may take it.
	LeaseDuration time.Duration `mapstructure:"lease_duration"`
	// RenewInterval is how often the leader renews and a follower looks;
	// less than half of LeaseDuration.
	RenewInterval time.Duration `mapstructure:"renew_interval"`
	// ID identifies this instance in the table (the consumer's worker id);
	// set by the daemon, not by the configuration.
	ID string `mapstructure:"-"`
}

// Validate reports every problem of the section at key; a disabled
// election is not checked.
func (c Config) Validate(key string, ps *check.Problems) {
	if c.Enabled {
		c.validate(key, ps)
	}
}

func (c Config) validate(key string, ps *check.Problems) {
	enabled := check.Key(key, "enabled")
	switch {
	case c.Table == "":
		ps.Add(check.Key(key, "table"), "required when %s is true", enabled)
	case !ddbtable.ValidName(c.Table):
		ps.Add(check.Key(key, "table"), "got %q, want %s", c.Table, ddbtable.NameRule)
	}
	switch {
	case c.Name == "":
		ps.Add(check.Key(key, "name"), "required when %s is true", enabled)
	case len(c.Name) > maxNameBytes:
		ps.Add(check.Key(key, "name"), "got %d bytes, want at most %d", len(c.Name), maxNameBytes)
	}
	if c.LeaseDuration < time.Second {
		ps.Add(check.Key(key, "lease_duration"), "got %s, want at least 1s", c.LeaseDuration)
	}
	if c.RenewInterval <= 0 || 2*c.RenewInterval >= c.LeaseDuration {
		ps.Add(check.Key(key, "renew_interval"), "got %s, want more than 0 and less than half of %s (%s)", c.RenewInterval, check.Key(key, "lease_duration"), c.LeaseDuration/2)
	}
}

// maxNameBytes is DynamoDB's limit on a hash key's size.
const maxNameBytes = 1024

// Elector takes part in one leadership election. Run drives it; Await and
// Leading tell whether this instance leads.
type Elector struct {
	cfg    Config
	table  *table
	m      *Metrics
	log    *slog.Logger
	margin time.Duration // a leader that could not renew steps down this long before a follower may take over

	running atomic.Bool
	done    chan struct{} // closed when Run returns
	leading atomic.Bool

	mu      sync.Mutex
	term    context.Context // ends when the current leadership does; nil while following
	endTerm context.CancelFunc
	changed chan struct{} // closed and replaced at every transition
	// expiry ends a term a safety margin before a follower may take over,
	// on this instance's clock, unless a renewal succeeds first; even while
	// Run waits for a DynamoDB call that does not return.
	expiry *lease.Expiry

	// Run's own state.
	seen      *lease.Sightings // the owned item while following: when it last changed
	counter   int64            // the counter of our lease, while leading
	errStreak int              // DynamoDB calls failed in a row

	health lifecycle.Health // whether the lease table answers
}

// New returns an elector for cfg over ddb. Nothing runs until Run.
func New(cfg Config, ddb DynamoDBAPI, m *Metrics, log *slog.Logger) (*Elector, error) {
	var ps check.Problems
	cfg.validate("poller.leader", &ps)
	if cfg.ID == "" {
		ps.Add("id", "required")
	}
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("new leader elector: %w", err)
	}
	if ddb == nil || m == nil || log == nil {
		return nil, errors.New("new leader elector: dynamodb client, metrics and logger are required")
	}
	e := &Elector{
		cfg:     cfg,
		table:   &table{ddb: ddb, name: cfg.Table, key: cfg.Name},
		m:       m,
		log:     log.With("component", "leader", "worker", cfg.ID, "table", cfg.Table, "name", cfg.Name),
		margin:  cfg.LeaseDuration / 5,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		seen:    lease.NewSightings(cfg.LeaseDuration),
	}
	e.expiry = lease.NewExpiry(cfg.LeaseDuration-e.margin, func() {
		e.lose(fmt.Sprintf("not renewed within %s on this instance's clock", e.expiry.Validity()))
	})
	return e, nil
}

// Health is nil while the lease table answers, or an error once its calls
// have failed for longer than lifecycle.DefaultGrace without a success
// (DynamoDB unreachable): a readiness check of the instance, leader or
// follower.
func (e *Elector) Health() error { return e.health.Err() }

// ErrNotLeader is returned by SaveState when this instance does not own the
// leadership.
var ErrNotLeader = errors.New("not the leader")

// LoadState returns the state the leaders of this election last saved, or
// nil when none has been.
func (e *Elector) LoadState(ctx context.Context) ([]byte, error) {
	return e.table.loadState(ctx)
}

// SaveState keeps blob on the leadership item for the next leader. Only the
// owner can write it: otherwise it returns ErrNotLeader.
func (e *Elector) SaveState(ctx context.Context, blob []byte) error {
	if !e.Leading() {
		return ErrNotLeader
	}
	if err := e.table.saveState(ctx, e.cfg.ID, blob); err != nil {
		if errors.Is(err, lease.ErrLost) {
			return ErrNotLeader
		}
		return err
	}
	return nil
}

// ID is the id this instance writes as the lease owner.
func (e *Elector) ID() string { return e.cfg.ID }

// Leading reports whether this instance holds the leadership now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Await blocks until this instance leads and returns a context that ends
// when the leadership does (lost, or released at stop). It returns ctx's
// error when ctx ends first, and ErrStopped once Run has returned.
func (e *Elector) Await(ctx context.Context) (context.Context, error) {
	for {
		e.mu.Lock()
		term, changed := e.term, e.changed
		e.mu.Unlock()
		if term != nil && term.Err() == nil {
			return term, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-e.done:
			return nil, ErrStopped
		case <-changed:
		}
	}
}

// Run takes part in the election until ctx ends: it creates the table when
// missing, takes the lease when it is free or expired, renews it while
// leading, and steps down at once when a renewal is refused (another
// instance took over) or when DynamoDB has failed for nearly a lease
// duration. When ctx ends it releases a held lease, so another instance
// takes over at its next look. DynamoDB errors are retried, never returned;
// Run returns an error only when it cannot work at all (a table with the
// wrong key).
func (e *Elector) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("leader: Run called twice")
	}
	defer close(e.done)
	if err := e.ensure(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	e.log.Info("poller leadership election started", "lease_duration", e.cfg.LeaseDuration.String(), "renew_interval", e.cfg.RenewInterval.String())
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			e.stop(ctx)
			return nil
		case <-timer.C:
		}
		var next time.Duration
		if e.Leading() {
			next = e.renewStep(ctx)
		} else {
			next = e.followStep(ctx)
		}
		timer.Reset(next)
	}
}

// ensure creates the table, retrying every failure but a wrong key schema.
func (e *Elector) ensure(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := EnsureTable(ctx, e.table.ddb, e.cfg.Table)
		if err == nil || ctx.Err() != nil {
			e.succeeded()
			return nil
		}
		if errors.Is(err, ErrTableSchema) {
			return fmt.Errorf("leader: %w", err)
		}
		e.failed(opEnsure, err)
		wait := min(time.Duration(1<<min(attempt, 6))*250*time.Millisecond, 15*time.Second)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// followStep reads the item and takes the lease when it is free or has not
// changed for a lease duration. It returns the wait before the next step.
func (e *Elector) followStep(ctx context.Context) time.Duration {
	cctx, cancel := context.WithTimeout(ctx, e.cfg.RenewInterval)
	defer cancel()
	r, err := e.table.read(cctx)
	if err != nil {
		if ctx.Err() == nil {
			e.failed(opRead, err)
		}
		return e.cfg.RenewInterval
	}
	e.succeeded()
	if r.exists && r.owner != "" {
		now := time.Now()
		e.seen.Observe(now, e.cfg.Name, r.version())
		if !e.seen.Expired(now, e.cfg.Name, r.version()) {
			return e.cfg.RenewInterval
		}
	}
	sent := time.Now()
	counter, err := e.table.take(cctx, r, e.cfg.ID, e.cfg.LeaseDuration)
	switch {
	case errors.Is(err, lease.ErrLost):
		e.forgetSeen() // another instance moved first
	case err != nil:
		if ctx.Err() == nil {
			e.failed(opTake, err)
		}
	default:
		e.succeeded()
		e.acquire(r, counter, sent)
	}
	return e.cfg.RenewInterval
}

// renewStep renews the lease, or steps down when that is refused or has
// failed for too long. It returns the wait before the next step.
func (e *Elector) renewStep(ctx context.Context) time.Duration {
	if e.expiry.Expired() {
		e.lose("the lease could not be renewed in time")
		return e.cfg.RenewInterval
	}
	// The call may not outlive the lease: a leader stuck in a slow call
	// steps down on time.
	cctx, cancel := context.WithDeadline(ctx, e.expiry.Until())
	defer cancel()
	sent := time.Now()
	err := e.table.renew(cctx, e.cfg.ID, e.counter, e.cfg.LeaseDuration)
	if errors.Is(err, lease.ErrLost) && e.confirm(cctx, e.counter+1) {
		err = nil // our write landed; only its answer was lost
	}
	switch {
	case err == nil:
		e.succeeded()
		e.counter++
		e.mu.Lock()
		if e.leading.Load() { // not when the expiry timer ended the term meanwhile
			e.expiry.Extend(sent)
		}
		e.mu.Unlock()
		return e.cfg.RenewInterval
	case ctx.Err() != nil:
		return 0 // stopping
	case errors.Is(err, lease.ErrLost):
		e.lose("another instance took the leadership")
		return e.cfg.RenewInterval
	}
	e.failed(opRenew, err)
	left := time.Until(e.expiry.Until())
	if left <= 0 {
		e.lose("the lease could not be renewed in time")
		return e.cfg.RenewInterval
	}
	return min(e.cfg.RenewInterval/2, left)
}

// confirm reports whether the item shows this instance owning it at counter
// (a conditional write whose first attempt landed is refused when the SDK
// retries it).
func (e *Elector) confirm(ctx context.Context, counter int64) bool {
	r, err := e.table.read(ctx)
	return err == nil && r.owner == e.cfg.ID && r.counter == counter
}

// stop ends a held leadership when ctx has ended: it releases the lease so
// that another instance takes over at once.
func (e *Elector) stop(ctx context.Context) {
	if !e.endLeadership() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := e.table.release(rctx, e.cfg.ID, e.counter)
	if errors.Is(err, lease.ErrLost) && e.confirm(rctx, e.counter+1) {
		// A renewal cut short by the stop landed after all.
		e.counter++
		err = e.table.release(rctx, e.cfg.ID, e.counter)
	}
	if err != nil {
		if !errors.Is(err, lease.ErrLost) {
			e.m.errors.WithLabelValues(opRelease).Inc()
		}
		e.m.transitions.WithLabelValues(eventLost).Inc()
		e.log.Warn("poller leadership ended at stop but the lease was not released; another instance takes over once it expires", "lease_duration", e.cfg.LeaseDuration.String(), "err", err)
		return
	}
	e.m.transitions.WithLabelValues(eventReleased).Inc()
	e.log.Info("poller leadership released", "counter", e.counter+1)
}

// acquire records a taken lease and starts a leadership term.
func (e *Elector) acquire(old record, counter int64, sent time.Time) {
	e.counter = counter
	e.forgetSeen()
	term, end := context.WithCancel(context.Background())
	e.mu.Lock()
	e.term, e.endTerm = term, end
	close(e.changed)
	e.changed = make(chan struct{})
	e.leading.Store(true)
	e.m.leader.Set(1)
	e.expiry.Extend(sent)
	e.mu.Unlock()
	e.m.transitions.WithLabelValues(eventAcquired).Inc()
	from := "none"
	switch {
	case old.owner != "":
		from = old.owner + " (expired)"
	case old.exists:
		from = "released"
	}
	e.log.Info("poller leadership acquired", "counter", counter, "previous", from)
}

// lose ends the leadership because it can no longer be trusted. It may run
// on the expiry timer's goroutine, so it reads no state of Run's.
func (e *Elector) lose(reason string) {
	if !e.endLeadership() {
		return // the expiry timer or Run ended it first
	}
	e.m.transitions.WithLabelValues(eventLost).Inc()
	e.log.Warn("poller leadership lost", "reason", reason)
}

// endLeadership ends the current term; false when there was none.
func (e *Elector) endLeadership() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading.Load() {
		return false
	}
	e.leading.Store(false)
	e.m.leader.Set(0)
	if e.endTerm != nil {
		e.endTerm()
	}
	e.expiry.Stop()
	e.term, e.endTerm = nil, nil
	close(e.changed)
	e.changed = make(chan struct{})
	return true
}

// forgetSeen restarts the clock of the item seen while following from its
// next read.
func (e *Elector) forgetSeen() { e.seen.Forget(func(string) bool { return false }) }

// failed counts a failed DynamoDB call; the first of a streak is logged at
// warn, the rest at debug, so an outage does not flood the log.
func (e *Elector) failed(op string, err error) {
	e.health.Fail(fmt.Errorf("%s: %w", op, err))
	e.m.errors.WithLabelValues(op).Inc()
	e.errStreak++
	if e.errStreak == 1 {
		e.log.Warn("poller leadership: DynamoDB call failed; retrying", "op", op, "err", err)
		return
	}
	e.log.Debug("poller leadership: DynamoDB call failed again", "op", op, "failures", e.errStreak, "err", err)
}

// succeeded ends a streak of failures.
func (e *Elector) succeeded() {
	e.health.OK()
	if e.errStreak > 0 {
		e.log.Info("poller leadership: DynamoDB calls succeed again", "failures", e.errStreak)
		e.errStreak = 0
	}
}
