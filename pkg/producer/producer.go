// Package producer puts reading events on a Kinesis stream: a bounded
// buffer that Put fills and Run drains in PutRecords batches, retrying only
// the entries Kinesis did not store, with jittered backoff.
//
// With a spool (WithSpool), Put first appends the record to the spool on
// local disk and Run acknowledges it there once Kinesis stored it, so a
// record held in memory at a crash is put by the next start: it queues the
// records the spool recovered ahead of any new one.
package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/backoff"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/spool"
	"github.com/weatherd/weatherd/pkg/stream"
)

// Kinesis limits and the producer's own bounds.
const (
	// maxBatchRecords and maxBatchBytes bound one PutRecords call.
	maxBatchRecords = 500
	maxBatchBytes   = 5 << 20
	// maxRecordBytes bounds one record, data plus partition key.
	maxRecordBytes = 1 << 20
	// maxPartitionKey is the longest partition key, in characters.
	maxPartitionKey = 256
	// maxBufferedBytes bounds the buffer's memory whatever BufferRecords says.
	maxBufferedBytes = 64 << 20
	// DrainTimeout is how long Run keeps delivering the buffer after its
	// context ends.
	DrainTimeout = 5 * time.Second
	// callTimeout bounds one PutRecords call.
	callTimeout = 10 * time.Second
	// minBackoff and maxBackoff bound the jittered exponential wait after a
	// failed call or failed entries.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// dropLogEvery rate-limits the log line about dropped records.
	dropLogEvery = 10 * time.Second
)

// Errors Put returns besides stream.ErrBufferFull.
var (
	// ErrRecordTooLarge: the record can never be put (over 1 MiB).
	ErrRecordTooLarge = errors.New("record too large for Kinesis")
	// ErrBadPartitionKey: the partition key is empty or over 256 characters.
	ErrBadPartitionKey = errors.New("bad partition key")
	// ErrClosed: Run has returned; nothing will deliver the record.
	ErrClosed = errors.New("producer stopped")
)

// putRecordsAPI is the part of the Kinesis client the producer uses.
type putRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

var _ putRecordsAPI = (*kinesis.Client)(nil)

// journal is the part of the spool the producer uses.
type journal interface {
	Append(key string, data []byte) (spool.ID, error)
	Ack(ids ...spool.ID)
	Sync() error
}

var _ journal = (*spool.Spool)(nil)

type entry struct {
	key     string
	data    []byte
	id      spool.ID // its record in the spool, when spooled
	spooled bool
}

func (e entry) size() int { return len(e.key) + len(e.data) }

// Producer is a stream.Producer for Kinesis.
type Producer struct {
	cfg stream.KinesisConfig
	api putRecordsAPI
	m   *metrics
	log *slog.Logger

	mu     sync.Mutex
	queue  []entry // oldest first; entries that failed stay at the head
	bytes  int
	closed bool
	wake   chan struct{}

	dropped      int // since the last drop log line
	lastDropLog  time.Time
	failedCalls  int // since the last failure log line
	lastFailLog  time.Time
	drainTimeout time.Duration
	sleep        func(ctx context.Context, d time.Duration) error

	health lifecycle.Health // whether PutRecords reaches Kinesis

	spool       journal // nil: records live in memory only
	recovered   int     // records the spool handed over at New
	lastSyncLog time.Time
}

// Option changes how New builds a producer.
type Option func(*Producer)

// WithSpool makes Put append every record to j before queueing it, and Run
// acknowledge it there once Kinesis stored it; recovered (what the spool's
// Open returned) is queued first, in order, ahead of any new record. The
// recovered records count against buffer_records like new ones, but are all
// queued even beyond it (they are in memory already, and dropping them would
// lose them): Put then reports stream.ErrBufferFull until the buffer drains
// below the bound. Records still buffered when Run returns stay in the spool
// for the next start instead of being dropped.
func WithSpool(j journal, recovered []spool.Entry) Option {
	return func(p *Producer) {
		p.spool = j
		for _, e := range recovered {
			// Put checked these before spooling them; a record Kinesis
			// would refuse would take its whole batch down with it.
			if n := utf8.RuneCountInString(e.Key); n == 0 || n > maxPartitionKey || len(e.Key)+len(e.Data) > maxRecordBytes {
				p.m.dropped.WithLabelValues("rejected").Inc()
				p.log.Error("spooled record Kinesis would refuse; dropped", "spool_id", e.ID.String(), "key_chars", n, "bytes", len(e.Key)+len(e.Data))
				j.Ack(e.ID)
				continue
			}
			p.queue = append(p.queue, entry{key: e.Key, data: e.Data, id: e.ID, spooled: true})
			p.bytes += len(e.Key) + len(e.Data)
			p.recovered++
		}
	}
}

var _ stream.Producer = (*Producer)(nil)

// New returns a producer for the stream cfg.Name, with cfg as
// stream.Config.Validate accepted it. Run must run for records to be
// delivered.
func New(cfg stream.KinesisConfig, api putRecordsAPI, reg prometheus.Registerer, log *slog.Logger, opts ...Option) *Producer {
	p := &Producer{
		cfg:          cfg,
		api:          api,
		m:            newMetrics(reg),
		log:          log.With("component", "producer", "stream", cfg.Name),
		wake:         make(chan struct{}, 1),
		drainTimeout: DrainTimeout,
		sleep:        lifecycle.Sleep,
	}
	for _, o := range opts {
		o(p)
	}
	p.gaugesLocked()
	return p
}

// Put enqueues one record; it never blocks on Kinesis. The producer keeps
// data: the caller must not change it afterwards. A full buffer returns
// stream.ErrBufferFull (the record is counted as dropped). With a spool the
// record is appended to it first; if that fails Put returns the error, which
// names the spool file, and the record is not queued.
func (p *Producer) Put(ctx context.Context, partitionKey string, data []byte) error {
	if n := utf8.RuneCountInString(partitionKey); n == 0 || n > maxPartitionKey {
		return fmt.Errorf("%w: %d characters, want 1 to %d", ErrBadPartitionKey, n, maxPartitionKey)
	}
	e := entry{key: partitionKey, data: data}
	if e.size() > maxRecordBytes {
		p.m.dropped.WithLabelValues("too_large").Inc()
		return fmt.Errorf("%w: record for partition key %q is %d bytes (data + key), over the 1 MiB limit", ErrRecordTooLarge, partitionKey, e.size())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if len(p.queue) >= p.cfg.BufferRecords || p.bytes+e.size() > maxBufferedBytes {
		p.noteDropLocked()
		p.mu.Unlock()
		return stream.ErrBufferFull
	}
	if p.spool != nil {
		// Under p.mu, so the spool holds the records in queue order.
		id, err := p.spool.Append(partitionKey, data)
		if err != nil {
			p.mu.Unlock()
			p.m.dropped.WithLabelValues("spool_error").Inc()
			return fmt.Errorf("spool record: %w", err)
		}
		e.id, e.spooled = id, true
	}
	p.queue = append(p.queue, e)
	p.bytes += e.size()
	p.gaugesLocked()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// noteDropLocked counts a buffer-full drop and logs at most once per
// dropLogEvery, with the number dropped since the last line.
func (p *Producer) noteDropLocked() {
	p.m.dropped.WithLabelValues("buffer_full").Inc()
	p.dropped++
	now := time.Now()
	if now.Sub(p.lastDropLog) < dropLogEvery {
		return
	}
	p.log.Warn("producer buffer full: Kinesis is slow or down, readings dropped",
		"dropped", p.dropped, "buffered", len(p.queue), "buffer_records", p.cfg.BufferRecords)
	p.dropped, p.lastDropLog = 0, now
}

func (p *Producer) gaugesLocked() {
	p.m.buffered.Set(float64(len(p.queue)))
	p.m.bufferedBytes.Set(float64(p.bytes))
}

// Health is nil while records reach Kinesis, or an error once PutRecords
// calls have failed for longer than lifecycle.DefaultGrace without a success
// (stream unreachable or missing): the readiness check of the producer.
func (p *Producer) Health() error { return p.health.Err() }

// Buffered is the number of records waiting to be delivered.
func (p *Producer) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Run delivers buffered records until ctx ends, then keeps delivering for up
// to DrainTimeout, logs how many records were left undelivered and returns
// nil. Put fails with ErrClosed afterwards.
func (p *Producer) Run(ctx context.Context) error {
	p.log.Info("producer started", "buffer_records", p.cfg.BufferRecords, "linger", p.cfg.Linger,
		"spool", p.spool != nil, "recovered", p.recovered)
	failures := 0
	for p.waitForRecords(ctx) {
		p.linger(ctx)
		if ctx.Err() != nil {
			break // the drain sends it, with its own deadline
		}
		failures = p.sendAndBackoff(ctx, failures)
	}

	dctx, cancel := context.WithTimeout(context.Background(), p.drainTimeout)
	defer cancel()
	failures = 0
	for p.Buffered() > 0 && dctx.Err() == nil {
		failures = p.sendAndBackoff(dctx, failures)
	}

	p.mu.Lock()
	p.closed = true
	left, spooled := len(p.queue), 0
	for _, e := range p.queue {
		if e.spooled {
			spooled++
		}
	}
	p.queue, p.bytes = nil, 0
	p.gaugesLocked()
	p.mu.Unlock()
	if spooled > 0 {
		p.log.Warn("producer stopped with readings undelivered; they stay in the spool for the next start", "undelivered", spooled, "drain_timeout", p.drainTimeout)
	}
	if lost := left - spooled; lost > 0 {
		p.m.dropped.WithLabelValues("shutdown").Add(float64(lost))
		p.log.Error("producer stopped with readings undelivered", "undelivered", lost, "drain_timeout", p.drainTimeout)
	} else if left == 0 {
		p.log.Info("producer stopped, buffer delivered")
	}
	return nil
}

// waitForRecords returns true once records are buffered, false when ctx ends.
func (p *Producer) waitForRecords(ctx context.Context) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		if p.Buffered() > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.wake:
		}
	}
}

// linger waits up to cfg.Linger for a full batch, so a tick's readings go
// out in one call.
func (p *Producer) linger(ctx context.Context) {
	if p.cfg.Linger <= 0 {
		return
	}
	t := time.NewTimer(p.cfg.Linger)
	defer t.Stop()
	for p.Buffered() < maxBatchRecords {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-p.wake:
		}
	}
}

// sendAndBackoff sends one batch and, when anything failed, waits a jittered
// backoff that grows with the consecutive failures it returns.
func (p *Producer) sendAndBackoff(ctx context.Context, failures int) int {
	if p.send(ctx) {
		return 0
	}
	failures++
	d := sendBackoff.Delay(failures)
	p.log.Debug("backing off", "failures", failures, "backoff", d)
	_ = p.sleep(ctx, d)
	return failures
}

// sendBackoff is the wait after failed sends: from minBackoff, doubling up
// to maxBackoff, jittered into [d/2, d).
var sendBackoff = backoff.Exponential{Base: minBackoff, Max: maxBackoff}

// batch returns the oldest records that fit one PutRecords call.
func (p *Producer) batch() []entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, size := 0, 0
	for n < len(p.queue) && n < maxBatchRecords && size+p.queue[n].size() <= maxBatchBytes {
		size += p.queue[n].size()
		n++
	}
	return append([]entry(nil), p.queue[:n]...)
}

// send puts the oldest batch and removes what Kinesis stored; failed
// entries stay at the head of the buffer, in order, ahead of newer records.
// It returns false when anything failed.
func (p *Producer) send(ctx context.Context) bool {
	b := p.batch()
	if len(b) == 0 {
		return true
	}
	p.syncSpool()
	in := &kinesis.PutRecordsInput{StreamName: aws.String(p.cfg.Name), Records: make([]types.PutRecordsRequestEntry, len(b))}
	for i, e := range b {
		in.Records[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(e.key), Data: e.data}
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	start := time.Now()
	out, err := p.api.PutRecords(cctx, in)
	cancel()
	p.m.duration.Observe(time.Since(start).Seconds())

	if err != nil {
		if ctx.Err() != nil {
			// Stopping: the records stay buffered for the drain.
			return false
		}
		reason := callFailure(err)
		p.m.failures.WithLabelValues(reason).Add(float64(len(b)))
		if reason != "rejected" {
			p.health.Fail(fmt.Errorf("put records: %w", err))
		}
		if reason == "rejected" {
			// Kinesis refuses the request itself; resending it cannot help.
			p.remove(len(b), nil)
			p.ack(b, nil)
			p.m.dropped.WithLabelValues("rejected").Add(float64(len(b)))
			p.log.Error("put records rejected; records dropped", "records", len(b), "err", err)
			return false
		}
		p.failedCalls++
		if now := time.Now(); now.Sub(p.lastFailLog) >= dropLogEvery {
			p.log.Warn("put records failed; retrying with backoff", "records", len(b), "reason", reason,
				"failed_calls", p.failedCalls, "buffered", p.Buffered(), "err", err)
			p.failedCalls, p.lastFailLog = 0, now
		}
		return false
	}
	p.health.OK()
	if len(out.Records) != len(b) {
		p.m.failures.WithLabelValues("unavailable").Add(float64(len(b)))
		p.log.Error("put records answered with a different number of entries; will retry", "sent", len(b), "answered", len(out.Records))
		return false
	}
	var failed []entry
	codes := map[string]int{}
	for i, r := range out.Records {
		if r.ErrorCode == nil {
			continue
		}
		failed = append(failed, b[i])
		reason := entryFailure(*r.ErrorCode)
		codes[*r.ErrorCode]++
		p.m.failures.WithLabelValues(reason).Inc()
	}
	p.remove(len(b), failed)
	p.ack(b, out.Records)
	p.m.produced.Add(float64(len(b) - len(failed)))
	if len(failed) > 0 {
		p.log.Debug("put records partly failed; retrying the failed entries", "records", len(b), "failed", len(failed), "codes", codes)
		return false
	}
	return true
}

// syncSpool makes the spooled records survive a power loss before they are
// sent, so what a power loss can lose is bounded by one batch. A failure is
// logged (at most once per dropLogEvery) and sending goes on: the records
// are still in the page cache, safe from a crash of the process.
func (p *Producer) syncSpool() {
	if p.spool == nil {
		return
	}
	if err := p.spool.Sync(); err != nil {
		if now := time.Now(); now.Sub(p.lastSyncLog) >= dropLogEvery {
			p.log.Warn("spool fsync failed; a power loss could lose the readings not yet delivered", "err", err)
			p.lastSyncLog = now
		}
	}
}

// ack acknowledges in the spool the entries of b Kinesis stored: those whose
// result has no error code, or all of them when results is nil (dropped).
func (p *Producer) ack(b []entry, results []types.PutRecordsResultEntry) {
	if p.spool == nil {
		return
	}
	ids := make([]spool.ID, 0, len(b))
	for i, e := range b {
		if e.spooled && (results == nil || results[i].ErrorCode == nil) {
			ids = append(ids, e.id)
		}
	}
	if len(ids) > 0 {
		p.spool.Ack(ids...)
	}
}

// remove replaces the first n buffered records by keep.
func (p *Producer) remove(n int, keep []entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := make([]entry, 0, len(keep)+len(p.queue)-n)
	q = append(q, keep...)
	q = append(q, p.queue[n:]...)
	p.queue = q
	p.bytes = 0
	for _, e := range q {
		p.bytes += e.size()
	}
	p.gaugesLocked()
}

// callFailure is the put_failures reason for a failed PutRecords call.
func callFailure(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
			"KMSThrottlingException":
			return "throttled"
		case "InvalidArgumentException", "ValidationException", "SerializationException":
			return "rejected"
		case "ResourceNotFoundException":
			return "not_found"
		}
	}
	return "unavailable"
}

// entryFailure is the put_failures reason for an entry PutRecords did not store.
func entryFailure(code string) string {
	switch code {
	case "ProvisionedThroughputExceededException", "KMSThrottlingException":
		return "throttled"
	case "InternalFailure":
		return "internal_failure"
	}
	return "unavailable"
}
