package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	jittered "github.com/weatherd/weatherd/pkg/backoff"
	"github.com/weatherd/weatherd/pkg/check"
	fenced "github.com/weatherd/weatherd/pkg/lease"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/stream"
)

// Worker consumes a Kinesis stream together with the other workers that
// share its lease table: it keeps the table's leases in line with the
// stream's shards, holds its fair share of them and runs one shard consumer
// per lease held.
type Worker struct {
	cfg     Config
	stream  string
	kin     KinesisAPI
	table   *leaseTable
	newProc stream.ProcessorFactory
	m       *metrics
	log     *slog.Logger

	ready   atomic.Bool
	running atomic.Bool
	// listPageSize is the ListShards page size (0: the service's default);
	// tests shrink it to exercise pagination.
	listPageSize int32

	tracker *expiryTracker // used by the take loop only
	claim   *pendingClaim  // used by the take loop only
	// unknownLeases: the last scan found leases of shards the last shard
	// sync did not list (found by another worker, or trimmed); used by the
	// take loop only.
	unknownLeases bool
	shards        atomic.Pointer[map[string]shardInfo]

	mu       sync.Mutex
	held     map[string]*heldLease
	lastSync time.Time

	syncNow chan struct{}
	wg      sync.WaitGroup // shard goroutines
}

// pendingClaim is this worker's one outstanding steal.
type pendingClaim struct {
	shardID string
	owner   string
	since   time.Time
}

// heldLease is a lease this worker owns and the state of its shard consumer.
type heldLease struct {
	shardID string
	pos     stream.Position

	mu      sync.Mutex // serializes this lease's writes (renew, checkpoint, release)
	counter int64
	handTo  string // the worker that claimed the shard, once it asked
	done    bool   // released, handed over or lost: no more writes

	// expiry stops trusting the lease lease_duration - renew_interval after
	// the last successful ownership write was sent, and loses it then,
	// whether or not a call returned. It has its own lock, so that a write
	// hung under mu never delays the check before a batch is handed over.
	expiry   *fenced.Expiry
	renewing atomic.Bool // a renewal of this lease is in flight

	stopOnce sync.Once
	stop     chan struct{} // graceful stop requested
	lostOnce sync.Once
	lost     chan struct{} // lease lost
	cancel   context.CancelFunc
	finished chan struct{} // the shard goroutine has returned
}

func (hl *heldLease) isLost() bool {
	select {
	case <-hl.lost:
		return true
	default:
		return false
	}
}

// until returns when this worker stops trusting the lease.
func (hl *heldLease) until() time.Time { return hl.expiry.Until() }

// expired reports whether the lease's local validity has run out.
func (hl *heldLease) expired() bool { return hl.expiry.Expired() }

// validity is how long a lease is trusted after a successful ownership write
// was sent. Another worker may take it lease_duration after it last saw the
// lease change, which is after the write was sent; stopping a renew interval
// earlier leaves a margin for the scheduling of this worker's goroutines.
func (w *Worker) validity() time.Duration { return w.cfg.LeaseDuration - w.cfg.RenewInterval }

// expire stops hl's consumer because the lease was not renewed in time:
// other workers may consider it expired soon.
func (w *Worker) expire(hl *heldLease) {
	w.lose(hl, fmt.Sprintf("not renewed within %s (lease_duration - renew_interval) on this worker's clock", w.validity()))
}

// stopExpiry ends hl's expiry timer once its consumer has returned: the
// lease is let go (or already lost) and nothing is handed over any more.
func (hl *heldLease) stopExpiry() { hl.expiry.Stop() }

// New returns a worker for streamName. cfg is validated; an empty WorkerID
// becomes the hostname plus a random suffix. Metrics are registered on reg.
func New(cfg Config, streamName string, kin KinesisAPI, ddb DynamoDBAPI, newProcessor stream.ProcessorFactory, reg prometheus.Registerer, log *slog.Logger) (*Worker, error) {
	var ps check.Problems
	cfg.Validate("consumer", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("consumer config: %w", err)
	}
	switch {
	case streamName == "":
		return nil, errors.New("new consumer: stream name is empty")
	case kin == nil || ddb == nil:
		return nil, errors.New("new consumer: kinesis and dynamodb clients are required")
	case newProcessor == nil:
		return nil, errors.New("new consumer: processor factory is nil")
	}
	if cfg.WorkerID == "" {
		id, err := lifecycle.InstanceID()
		if err != nil {
			return nil, err
		}
		cfg.WorkerID = id
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:     cfg,
		stream:  streamName,
		kin:     kin,
		newProc: newProcessor,
		m:       m,
		log:     log.With("component", "consumer", "worker", cfg.WorkerID, "table", cfg.ApplicationName),
		tracker: newExpiryTracker(cfg.LeaseDuration),
		held:    map[string]*heldLease{},
		syncNow: make(chan struct{}, 1),
	}
	w.table = &leaseTable{ddb: ddb, name: cfg.ApplicationName, calls: func(op string) { m.leaseCalls.WithLabelValues(op).Inc() }}
	empty := map[string]shardInfo{}
	w.shards.Store(&empty)
	return w, nil
}

// WorkerID is the id this worker writes into the lease table.
func (w *Worker) WorkerID() string { return w.cfg.WorkerID }

// Ready reports whether the lease table is reachable and the first shard sync
// is done.
func (w *Worker) Ready() bool { return w.ready.Load() }

// Run consumes until ctx ends, then stops gracefully: every shard processor
// gets Shutdown(Requested) (bounded by graceful_handoff_timeout) and writes
// its final checkpoint, and each lease is released, or handed to the worker
// that claimed it, so another worker takes it at once. It returns nil after a
// graceful stop and an error only when it cannot work at all (for example a
// lease table with the wrong key).
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("consumer: Run called twice")
	}
	if err := w.retry(ctx, "ensure lease table", w.table.ensure); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := w.retry(ctx, "sync shards", w.syncShards); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	w.ready.Store(true)
	w.log.Info("consumer started", "stream", w.stream)

	// Renewals outlive ctx: leases stay ours while processors flush.
	leaseCtx, cancelLeases := context.WithCancel(context.WithoutCancel(ctx))
	shardCtx, cancelShards := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelShards()
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		w.renewLoop(leaseCtx)
	}()

	w.takePass(ctx, shardCtx)
	take := time.NewTicker(w.cfg.TakeInterval)
	defer take.Stop()
	claimed := time.NewTicker(claimPollInterval(w.cfg.TakeInterval))
	defer claimed.Stop()
	sync := time.NewTicker(w.cfg.ShardSyncInterval)
	defer sync.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-claimed.C:
			// Nobody reads a claimed shard from the moment its owner hands
			// it over until this worker adopts it, so while a claim is
			// pending the table is read more often than take_interval.
			if w.claim != nil {
				w.takePass(ctx, shardCtx)
			}
		case <-take.C:
			w.takePass(ctx, shardCtx)
			w.mu.Lock()
			due := time.Since(w.lastSync) >= min(w.cfg.ShardSyncInterval, 10*time.Second)
			w.mu.Unlock()
			if w.unknownLeases && due {
				w.syncLogged(ctx)
			}
		case <-sync.C:
			w.syncLogged(ctx)
		case <-w.syncNow:
			w.syncLogged(ctx)
		}
	}
	w.ready.Store(false)
	w.log.Info("consumer stopping: shutting shard processors down and releasing leases")
	if c := w.claim; c != nil {
		// A shard handed over to a stopped worker would sit until it expires.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if err := w.table.unclaim(uctx, c.shardID, w.cfg.WorkerID); err != nil {
			w.log.Warn("withdraw claim failed", "shard", c.shardID, "err", err)
		}
		cancel()
		w.claim = nil
	}
	for _, hl := range w.heldSnapshot() {
		w.requestStop(hl)
	}
	waited := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(w.cfg.GracefulHandoffTimeout + 10*time.Second):
		w.log.Error("consumer stop: shard processors did not return in time; leases will expire instead of being released")
	}
	cancelLeases()
	<-renewDone
	w.log.Info("consumer stopped")
	return nil
}

// claimPollInterval is how often a worker waiting for a shard it claimed
// reads the lease table: a quarter of take_interval, at most 250ms. The
// extra scans last only as long as a steal (seconds, a few a day).
func claimPollInterval(take time.Duration) time.Duration {
	return max(min(take/4, 250*time.Millisecond), 10*time.Millisecond)
}

// retry runs fn until it succeeds, ctx ends (nil) or the error is one that
// retrying cannot fix.
func (w *Worker) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrTableSchema) {
			return fmt.Errorf("consumer: %w", err)
		}
		w.log.Warn("consumer not ready: retrying", "step", what, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff(attempt, w.cfg.MaxBackoff)):
		}
	}
}

func (w *Worker) syncLogged(ctx context.Context) {
	if err := w.syncShards(ctx); err != nil && ctx.Err() == nil {
		w.log.Warn("shard sync failed", "err", err)
	}
}

// requestSync asks the take loop for a shard sync now (a shard ended, so its
// children may need leases).
func (w *Worker) requestSync() {
	select {
	case w.syncNow <- struct{}{}:
	default:
	}
}

// syncShards lists the stream's shards, creates a free lease for each shard
// the table does not have yet and deletes the leases of finished shards gone
// from the stream (deleteFinishedLeases).
//
// The table is scanned before the shards are listed: a shard missing from
// the scan but listed afterwards cannot have had its lease deleted by
// another worker, since that worker saw the shard unlisted earlier and a
// trimmed shard is never listed again. So a deleted lease is never
// re-created.
func (w *Worker) syncShards(ctx context.Context) error {
	leases, err := w.table.scan(ctx)
	if err != nil {
		return err
	}
	raw, err := listShards(ctx, w.kin, w.stream, w.listPageSize)
	if err != nil {
		return err
	}
	infos := shardInfos(raw)
	if gaps := hashGaps(raw); len(gaps) > 0 {
		w.log.Warn("open shards do not cover the whole hash-key range", "gaps", gaps)
	}
	have := make(map[string]bool, len(leases))
	for _, l := range leases {
		have[l.ShardID] = true
	}
	for _, s := range infos {
		if have[s.ID] {
			continue
		}
		if err := w.table.create(ctx, s); err != nil {
			return err
		}
		w.log.Info("lease created for new shard", "shard", s.ID, "parents", s.Parents)
	}
	w.shards.Store(&infos)
	w.mu.Lock()
	w.lastSync = time.Now()
	w.mu.Unlock()
	w.deleteFinishedLeases(ctx, leases, infos)
	return nil
}

func (w *Worker) heldSnapshot() []*heldLease {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*heldLease, 0, len(w.held))
	for _, hl := range w.held {
		out = append(out, hl)
	}
	return out
}

// takePass reads the table once, adopts leases handed to this worker, then
// takes free and expired leases up to its fair share or steals one.
func (w *Worker) takePass(ctx, shardCtx context.Context) {
	leases, err := w.table.scan(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("lease table scan failed", "err", err)
		}
		return
	}
	now := time.Now()
	w.tracker.observe(now, leases)
	shards := *w.shards.Load()
	byID := make(map[string]lease, len(leases))
	for _, l := range leases {
		byID[l.ShardID] = l
	}
	w.mu.Lock()
	held := make(map[string]bool, len(w.held))
	for id := range w.held {
		held[id] = true
	}
	w.mu.Unlock()

	var slots []slot
	w.unknownLeases = false
	for _, l := range leases {
		if _, ok := shards[l.ShardID]; !ok && !l.finished() {
			w.unknownLeases = true
		}
		if !eligible(l, byID, shards) {
			continue
		}
		owner := l.AssignedTo
		switch {
		case held[l.ShardID]:
			owner = w.cfg.WorkerID
		case owner == w.cfg.WorkerID:
			// Handed over to us (a steal completing) or left by an earlier
			// process with our id: adopt it.
			event := eventTake
			if w.claim != nil && w.claim.shardID == l.ShardID {
				event = eventSteal
			}
			if !w.takeAndStart(ctx, shardCtx, l, byID, shards, event) {
				owner = l.AssignedTo
			}
		case owner != "" && w.tracker.expired(now, l):
			owner = ""
		}
		slots = append(slots, slot{ShardID: l.ShardID, Owner: owner, Claimed: l.ClaimRequest != ""})
	}
	w.resolveClaim(ctx, now, byID)

	mathrand.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	p := planTakes(w.cfg.WorkerID, slots, w.cfg.MaxLeasesPerWorker, w.claim != nil)
	for _, id := range p.Take {
		if ctx.Err() != nil {
			return
		}
		w.takeAndStart(ctx, shardCtx, byID[id], byID, shards, eventTake)
	}
	if p.Steal != "" && ctx.Err() == nil {
		owner := byID[p.Steal].AssignedTo
		err := w.table.claim(ctx, p.Steal, owner, w.cfg.WorkerID)
		switch {
		case err == nil:
			w.claim = &pendingClaim{shardID: p.Steal, owner: owner, since: now}
			w.log.Info("asked to take over a shard for balance", "shard", p.Steal, "owner", owner, "target", p.Target)
		case errors.Is(err, fenced.ErrLost):
		default:
			w.log.Warn("claim failed", "shard", p.Steal, "err", err)
		}
	}
}

// resolveClaim forgets the pending steal once it is settled, and withdraws it
// when the owner has not handed the shard over in time.
func (w *Worker) resolveClaim(ctx context.Context, now time.Time, byID map[string]lease) {
	c := w.claim
	if c == nil {
		return
	}
	l, ok := byID[c.shardID]
	switch {
	case !ok, l.AssignedTo == w.cfg.WorkerID, l.ClaimRequest != w.cfg.WorkerID:
		w.claim = nil
	case now.Sub(c.since) > w.cfg.GracefulHandoffTimeout+w.cfg.LeaseDuration:
		w.log.Warn("owner did not hand the claimed shard over in time; withdrawing the claim", "shard", c.shardID, "owner", c.owner)
		if err := w.table.unclaim(ctx, c.shardID, w.cfg.WorkerID); err != nil {
			w.log.Warn("withdraw claim failed", "shard", c.shardID, "err", err)
			return
		}
		w.claim = nil
	}
}

// takeAndStart takes l and starts its shard consumer.
func (w *Worker) takeAndStart(ctx, shardCtx context.Context, l lease, byID map[string]lease, shards map[string]shardInfo, event string) bool {
	sent := time.Now()
	// A take answered after the validity would be lost on arrival.
	tctx, tcancel := context.WithTimeout(ctx, w.validity())
	got, err := w.table.take(tctx, l, w.cfg.WorkerID, w.cfg.LeaseDuration)
	tcancel()
	if err != nil {
		if !errors.Is(err, fenced.ErrLost) && ctx.Err() == nil {
			w.log.Warn("take lease failed", "shard", l.ShardID, "err", err)
		}
		return false
	}
	w.m.leaseEvents.WithLabelValues(event).Inc()
	hl := &heldLease{
		shardID:  l.ShardID,
		pos:      startPosition(got, byID, shards, w.cfg),
		counter:  got.Counter,
		stop:     make(chan struct{}),
		lost:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	hl.expiry = fenced.NewExpiry(w.validity(), func() { w.expire(hl) })
	sctx, cancel := context.WithCancel(shardCtx)
	hl.cancel = cancel
	hl.mu.Lock()
	hl.expiry.Extend(sent) // before the renew loop can see it
	hl.mu.Unlock()
	w.mu.Lock()
	w.held[hl.shardID] = hl
	w.mu.Unlock()
	w.setLeasesHeld()
	w.log.Info("lease taken", "shard", l.ShardID, "event", event, "from", l.AssignedTo, "checkpoint", got.Checkpoint)
	if !realCheckpoint(got.Checkpoint) {
		for _, p := range orphanedParents(got, byID, shards) {
			w.m.orphanedParents.Inc()
			w.log.Warn("starting a child shard without its parent: the parent's lease was never read to SHARD_END and the stream no longer lists the parent (trimmed); its unread records are lost",
				"shard", l.ShardID, "parent", p, "parent_checkpoint", byID[p].Checkpoint, "parent_owner", byID[p].AssignedTo)
		}
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		w.runShard(sctx, hl)
	}()
	return true
}

// renewLoop renews every held lease each renew interval until ctx ends.
// Each renewal runs on its own, so one that hangs delays no other lease; a
// lease whose last renewal has not answered yet is skipped.
func (w *Worker) renewLoop(ctx context.Context) {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	t := time.NewTicker(w.cfg.RenewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, hl := range w.heldSnapshot() {
			if !hl.renewing.CompareAndSwap(false, true) {
				continue
			}
			inflight.Go(func() {
				defer hl.renewing.Store(false)
				w.renew(ctx, hl)
			})
		}
	}
}

func (w *Worker) renew(ctx context.Context, hl *heldLease) {
	hl.mu.Lock()
	defer hl.mu.Unlock()
	if hl.done || hl.isLost() {
		return
	}
	// The renewal may not outlive the lease's validity: the expiry timer
	// stops the shard then anyway, and an answer after it is of no use.
	rctx, cancel := context.WithDeadline(ctx, hl.until())
	defer cancel()
	sent := time.Now()
	got, err := w.table.renew(rctx, hl.shardID, w.cfg.WorkerID, hl.counter, w.cfg.LeaseDuration)
	switch {
	case errors.Is(err, fenced.ErrLost):
		hl.done = true
		w.lose(hl, "another worker owns the lease now")
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		w.m.leaseEvents.WithLabelValues(eventRenewFail).Inc()
		w.log.Warn("renew lease failed", "shard", hl.shardID, "err", err)
		// Others may take the lease LeaseDuration after they last saw it
		// change; stop before that rather than process a shard twice.
		if hl.expired() {
			hl.done = true
			w.expire(hl)
		}
	case hl.isLost():
		// Renewed, but only after the lease expired here: the shard has
		// stopped. The lease is ours in the table; the take loop adopts it.
	default:
		hl.counter = got.Counter
		hl.expiry.Extend(sent)
		if got.ClaimRequest != "" && got.ClaimRequest != w.cfg.WorkerID && hl.handTo == "" {
			hl.handTo = got.ClaimRequest
			w.log.Info("another worker asked for the shard: finishing the batch, then handing over", "shard", hl.shardID, "to", got.ClaimRequest)
			w.requestStop(hl)
		}
	}
}

// lose stops hl's consumer at once: the lease belongs to another worker, or
// soon may.
func (w *Worker) lose(hl *heldLease, why string) {
	hl.lostOnce.Do(func() {
		close(hl.lost)
		hl.cancel()
		w.setLeasesHeld()
		w.m.leaseEvents.WithLabelValues(eventLose).Inc()
		w.log.Warn("lease lost; stopping the shard's processor", "shard", hl.shardID, "why", why)
	})
}

// setLeasesHeld sets weatherd_leases_held to the leases held and not lost
// (a lost lease's consumer may take a moment to return).
func (w *Worker) setLeasesHeld() {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, hl := range w.held {
		if !hl.isLost() {
			n++
		}
	}
	w.m.leasesHeld.Set(float64(n))
}

// requestStop asks hl's consumer to finish its batch and shut down, and
// bounds how long that may take.
func (w *Worker) requestStop(hl *heldLease) {
	hl.stopOnce.Do(func() {
		close(hl.stop)
		go func() {
			t := time.NewTimer(w.cfg.GracefulHandoffTimeout)
			defer t.Stop()
			select {
			case <-hl.finished:
			case <-t.C:
				w.log.Warn("shard processor did not shut down within the handoff timeout; cancelling it", "shard", hl.shardID, "timeout", w.cfg.GracefulHandoffTimeout)
				hl.cancel()
			}
		}()
	})
}

// runShard runs hl's consumer, then releases, hands over or finishes the lease.
func (w *Worker) runShard(ctx context.Context, hl *heldLease) {
	defer close(hl.finished)
	defer func() {
		w.mu.Lock()
		delete(w.held, hl.shardID)
		w.mu.Unlock()
		w.setLeasesHeld()
		w.m.forgetShard(hl.shardID)
	}()
	c := &shardConsumer{w: w, hl: hl, proc: w.newProc(), log: w.log.With("shard", hl.shardID)}
	res := c.run(ctx)
	hl.stopExpiry()
	if res == resultLost {
		return
	}
	// The lease must be let go even when ctx was cancelled by the timeout.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for attempt := 0; attempt < 5; attempt++ {
		err := w.letGo(wctx, hl, res)
		if err == nil || errors.Is(err, fenced.ErrLost) || wctx.Err() != nil {
			return
		}
		w.log.Warn("letting the lease go failed; retrying", "shard", hl.shardID, "err", err)
		select {
		case <-wctx.Done():
			return
		case <-time.After(backoff(attempt, time.Second)):
		}
	}
}

// letGo writes the end of this worker's ownership: SHARD_END plus release
// for a finished shard, a handover to a claimer, or a plain release.
func (w *Worker) letGo(ctx context.Context, hl *heldLease, res result) error {
	hl.mu.Lock()
	defer hl.mu.Unlock()
	if hl.done || hl.isLost() {
		return nil
	}
	var err error
	switch {
	case res == resultShardEnd:
		err = w.table.release(ctx, hl.shardID, w.cfg.WorkerID, hl.counter, true)
		if err == nil {
			w.log.Info("shard read to its end: SHARD_END written", "shard", hl.shardID)
			w.requestSync()
		}
	case hl.handTo != "":
		err = w.table.handOver(ctx, hl.shardID, w.cfg.WorkerID, hl.counter, hl.handTo, w.cfg.LeaseDuration)
		if errors.Is(err, fenced.ErrLost) {
			// The claim was withdrawn: release instead.
			err = w.table.release(ctx, hl.shardID, w.cfg.WorkerID, hl.counter, false)
		}
		if err == nil {
			w.log.Info("lease handed over", "shard", hl.shardID, "to", hl.handTo)
		}
	default:
		err = w.table.release(ctx, hl.shardID, w.cfg.WorkerID, hl.counter, false)
		if err == nil {
			w.log.Info("lease released", "shard", hl.shardID)
		}
	}
	switch {
	case err == nil:
		hl.done = true
		w.m.leaseEvents.WithLabelValues(eventRelease).Inc()
	case errors.Is(err, fenced.ErrLost):
		hl.done = true
		w.lose(hl, "another worker owned the lease when it was let go")
	}
	return err
}

// checkpointer is the fenced Checkpointer given to a shard's processor.
type checkpointer struct {
	w  *Worker
	hl *heldLease
}

// Checkpoint records seq for the shard, provided this worker still owns the
// lease; otherwise it returns an error wrapping stream.ErrLeaseLost.
func (c checkpointer) Checkpoint(ctx context.Context, seq string) error {
	return c.write(ctx, seq, nil, false)
}

// CheckpointWithState records seq and the processor's state at seq in one
// fenced write; the next owner of the shard gets state in Position.State.
func (c checkpointer) CheckpointWithState(ctx context.Context, seq string, state []byte) error {
	return c.write(ctx, seq, state, true)
}

var _ stream.StateCheckpointer = checkpointer{}

func (c checkpointer) write(ctx context.Context, seq string, state []byte, withState bool) error {
	hl := c.hl
	if seq == "" {
		return fmt.Errorf("checkpoint %s: empty sequence number", hl.shardID)
	}
	if seq == stream.ShardEnd {
		return fmt.Errorf("checkpoint %s: %s is written by the consumer after Shutdown(%s)", hl.shardID, stream.ShardEnd, stream.ShardEndReached)
	}
	hl.mu.Lock()
	defer hl.mu.Unlock()
	if !hl.done && !hl.isLost() && hl.expired() {
		c.w.expire(hl)
	}
	if hl.done || hl.isLost() {
		return fmt.Errorf("checkpoint %s at %s: %w", hl.shardID, seq, stream.ErrLeaseLost)
	}
	// Like a renewal, a checkpoint may not outlive the lease's validity.
	ctx, cancel := context.WithDeadline(ctx, hl.until())
	defer cancel()
	err := c.w.table.checkpoint(ctx, hl.shardID, c.w.cfg.WorkerID, hl.counter, seq, state, withState)
	if errors.Is(err, fenced.ErrLost) {
		hl.done = true
		c.w.lose(hl, "checkpoint refused: another worker owns the lease")
		return fmt.Errorf("checkpoint %s at %s: %w", hl.shardID, seq, stream.ErrLeaseLost)
	}
	return err
}

// backoff is the wait before retry attempt (0-based): exponential from
// 100ms, capped, with jitter so shards and workers do not retry in step.
func backoff(attempt int, limit time.Duration) time.Duration {
	return jittered.Exponential{Base: 100 * time.Millisecond, Max: limit}.Delay(attempt + 1)
}
