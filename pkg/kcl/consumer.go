package kcl

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/weatherd/weatherd/pkg/stream"
)

// Kinesis allows 5 GetRecords calls per second per shard.
const getRecordsInterval = 200 * time.Millisecond

// idleTick is how often an idle processor gets an empty batch (the
// stream.Processor contract asks for at least once a second).
const idleTick = 500 * time.Millisecond

// noRetry makes a call return its first error: the shard loops pace and back
// off themselves instead of drawing on the SDK's shared retry-token bucket.
func noRetry(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

// result is how a shard consumer ended.
type result int

const (
	resultStopped  result = iota + 1 // graceful stop requested (or process crash)
	resultLost                       // the lease was lost
	resultShardEnd                   // the shard was read to its end
)

// shardConsumer reads one shard and feeds its processor.
type shardConsumer struct {
	w    *Worker
	hl   *heldLease
	proc stream.Processor
	log  *slog.Logger

	initialized bool
	iterator    string
	lastSeq     string // sequence number of the last record processed
	lastGet     time.Time
	throttled   int // consecutive throttles
	failed      int // consecutive other errors
}

func (c *shardConsumer) run(ctx context.Context) result {
	res := c.read(ctx)
	if !c.initialized {
		return res
	}
	if res != resultLost && c.hl.expired() {
		// Stopped (or at the shard's end) just as the lease ran out: the
		// processor may no longer flush or checkpoint.
		c.w.expire(c.hl)
		res = resultLost
	}
	reason := map[result]stream.ShutdownReason{
		resultStopped: stream.Requested, resultShardEnd: stream.ShardEndReached, resultLost: stream.LeaseLost,
	}[res]
	sctx := ctx
	if res == resultLost {
		// ctx is already cancelled; give the processor its budget to drop
		// its buffers cleanly.
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), c.w.cfg.GracefulHandoffTimeout)
		defer cancel()
	}
	cp := checkpointer{w: c.w, hl: c.hl}
	if err := c.proc.Shutdown(sctx, reason, cp); err != nil {
		c.log.Warn("shard processor shutdown failed", "reason", reason, "err", err)
		if res == resultShardEnd {
			// Not flushed: leave SHARD_END unwritten so the shard is read
			// again from its last checkpoint instead of losing records.
			return resultStopped
		}
	}
	c.log.Info("shard processor shut down", "reason", reason)
	return res
}

// interrupted reports whether the consumer must stop reading, and why.
func (c *shardConsumer) interrupted(ctx context.Context) (result, bool) {
	select {
	case <-c.hl.lost:
		return resultLost, true
	default:
	}
	select {
	case <-c.hl.stop:
		return resultStopped, true
	case <-ctx.Done():
		return resultStopped, true
	default:
		return 0, false
	}
}

// sleep waits d unless the consumer is interrupted first (false).
func (c *shardConsumer) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-c.hl.stop:
	case <-c.hl.lost:
	}
	return false
}

// idle waits d while the shard has nothing to process, handing the processor
// an empty batch every idleTick so it can flush on age.
func (c *shardConsumer) idle(ctx context.Context, d time.Duration) bool {
	for d > 0 {
		step := min(d, idleTick)
		if !c.sleep(ctx, step) {
			return false
		}
		d -= step
		if !c.process(ctx, nil) {
			return false
		}
	}
	return true
}

func (c *shardConsumer) read(ctx context.Context) result {
	from := c.hl.pos
	for attempt := 0; ; attempt++ {
		if r, stop := c.interrupted(ctx); stop {
			return r
		}
		err := c.proc.Initialize(ctx, c.hl.shardID, from)
		if err == nil {
			break
		}
		c.log.Warn("shard processor initialize failed; retrying", "err", err)
		if !c.sleep(ctx, backoff(attempt, c.w.cfg.MaxBackoff)) {
			continue
		}
	}
	c.initialized = true
	c.log.Info("shard consumer started", "after", from.AfterSequence, "initial", from.Initial)
	for {
		if r, stop := c.interrupted(ctx); stop {
			return r
		}
		if c.iterator == "" {
			c.getIterator(ctx)
			continue
		}
		if wait := getRecordsInterval - time.Since(c.lastGet); wait > 0 && !c.sleep(ctx, wait) {
			continue
		}
		c.lastGet = time.Now()
		out, err := c.w.kin.GetRecords(ctx, &kinesis.GetRecordsInput{
			ShardIterator: aws.String(c.iterator),
			Limit:         aws.Int32(int32(c.w.cfg.MaxRecords)),
		}, noRetry)
		if err != nil {
			c.readFailed(ctx, err)
			continue
		}
		c.throttled, c.failed = 0, 0
		if out.MillisBehindLatest != nil {
			c.w.m.behind.WithLabelValues(c.hl.shardID).Set(float64(*out.MillisBehindLatest))
		}
		recs := make([]stream.Record, len(out.Records))
		size := 0
		for i, r := range out.Records {
			recs[i] = stream.Record{
				Data:           r.Data,
				PartitionKey:   aws.ToString(r.PartitionKey),
				SequenceNumber: aws.ToString(r.SequenceNumber),
				ArrivedAt:      aws.ToTime(r.ApproximateArrivalTimestamp),
			}
			size += len(r.Data)
		}
		if !c.process(ctx, recs) {
			continue
		}
		if n := len(recs); n > 0 {
			c.lastSeq = recs[n-1].SequenceNumber
			c.w.m.records.WithLabelValues(c.hl.shardID).Add(float64(n))
			c.w.m.bytes.WithLabelValues(c.hl.shardID).Add(float64(size))
		}
		if aws.ToString(out.NextShardIterator) == "" {
			return resultShardEnd
		}
		c.iterator = *out.NextShardIterator
		if len(recs) == 0 {
			c.idle(ctx, c.w.cfg.IdleTimeBetweenReads)
		}
	}
}

// getIterator positions the shard: after the last processed record, else
// after the checkpoint, else at the start position.
func (c *shardConsumer) getIterator(ctx context.Context) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(c.w.stream), ShardId: aws.String(c.hl.shardID)}
	from := c.hl.pos
	switch {
	case c.lastSeq != "":
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(c.lastSeq)
	case from.AfterSequence != "":
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(from.AfterSequence)
	case from.Initial == AtTimestamp:
		in.ShardIteratorType, in.Timestamp = types.ShardIteratorTypeAtTimestamp, aws.Time(from.At)
	default:
		in.ShardIteratorType = types.ShardIteratorType(from.Initial)
	}
	out, err := c.w.kin.GetShardIterator(ctx, in, noRetry)
	if err != nil {
		c.readFailed(ctx, err)
		return
	}
	c.throttled, c.failed = 0, 0
	c.iterator = aws.ToString(out.ShardIterator)
	if c.iterator == "" {
		c.log.Warn("GetShardIterator returned no iterator; retrying")
		c.sleep(ctx, backoff(0, c.w.cfg.MaxBackoff))
	}
}

// readFailed counts a failed Kinesis read and waits before the next one.
func (c *shardConsumer) readFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	var (
		pte     *types.ProvisionedThroughputExceededException
		limit   *types.LimitExceededException
		expired *types.ExpiredIteratorException
	)
	switch {
	case errors.As(err, &expired):
		c.log.Info("shard iterator expired; getting a new one after the last processed record")
		c.iterator = ""
	case errors.As(err, &pte), errors.As(err, &limit):
		c.w.m.throttles.Inc()
		c.throttled++
		c.idle(ctx, backoff(c.throttled, c.w.cfg.MaxBackoff))
	default:
		c.w.m.getErrors.Inc()
		c.failed++
		var (
			notFound *types.ResourceNotFoundException
			invalid  *types.InvalidArgumentException
		)
		if c.iterator != "" && (c.failed >= refreshAfterFailures || errors.As(err, &notFound) || errors.As(err, &invalid)) {
			// The iterator itself may be what is wrong: read again from a
			// fresh one after the last processed record (or the checkpoint).
			c.log.Warn("kinesis read failed; backing off, then getting a new shard iterator", "failures", c.failed, "err", err)
			c.iterator = ""
		} else {
			c.log.Warn("kinesis read failed; backing off", "failures", c.failed, "err", err)
		}
		c.idle(ctx, backoff(c.failed, c.w.cfg.MaxBackoff))
	}
}

// refreshAfterFailures is how many consecutive failed reads make the
// consumer drop its shard iterator and get a new one.
const refreshAfterFailures = 3

// process hands records to the processor, retrying the same records after a
// backoff until they are accepted; it never skips them. It returns false when
// the consumer was interrupted before they were accepted.
func (c *shardConsumer) process(ctx context.Context, recs []stream.Record) bool {
	cp := checkpointer{w: c.w, hl: c.hl}
	for attempt := 0; ; attempt++ {
		// The expiry timer may not have fired yet (a busy process): check
		// the clock itself, so that nothing, not even an empty batch that
		// lets the processor flush, is handed over once the lease may be
		// another worker's.
		if c.hl.expired() {
			c.w.expire(c.hl)
			return false
		}
		err := c.proc.ProcessRecords(ctx, recs, cp)
		switch {
		case err == nil:
			return true
		case errors.Is(err, stream.ErrLeaseLost):
			c.w.lose(c.hl, "the processor's checkpoint was refused")
			return false
		case ctx.Err() != nil:
			return false
		case len(recs) == 0:
			c.log.Warn("shard processor failed on an empty batch", "err", err)
			return true
		}
		c.log.Warn("shard processor failed; retrying the same records", "records", len(recs), "first", recs[0].SequenceNumber, "attempt", attempt+1, "err", err)
		if !c.sleep(ctx, backoff(attempt, c.w.cfg.MaxBackoff)) {
			return false
		}
	}
}
