package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Writer owns what all shards share: the store, the Parquet encoder, the
// metrics and the bound on buffered bytes. Each shard writes through its own
// ShardWriter.
type Writer struct {
	cfg   Config
	store Store
	log   *slog.Logger
	m     *metrics
	enc   *parquetEncoder
	now   func() time.Time
	// encoders bounds the objects being encoded at once by all shards (each
	// holds its rows and its output in memory) to the number of CPUs.
	encoders chan struct{}
	// pool holds the row chunks and bodies slices of flushed buffers.
	pool *recycler
	// rawSize is the raw objects' size per byte of bodies.
	rawSize sizeHint

	health lifecycle.Health // whether flushes reach the store
	lead   Leadership       // when set, only its holder compacts

	mu       sync.Mutex
	buffered int64         // bytes (see itemSize) held by all shard writers
	waiting  int           // Adds blocked on the budget
	freed    chan struct{} // closed (and replaced) whenever budget is released
}

// New returns a Writer for cfg writing to store.
func New(cfg Config, store Store, reg prometheus.Registerer, log *slog.Logger) (*Writer, error) {
	var ps check.Problems
	cfg.Validate("lake", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("lake config: %w", err)
	}
	enc, err := newParquetEncoder(cfg.Parquet)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register lake metrics: %w", err)
	}
	return &Writer{
		cfg: cfg, store: store, m: m, enc: enc, now: time.Now,
		log:      log.With("component", "lake", "store", store.String()),
		freed:    make(chan struct{}),
		encoders: make(chan struct{}, runtime.GOMAXPROCS(0)),
		// Half the buffer budget: the rows of about one flush of every shard.
		pool: newRecycler(cfg.MaxBufferedBytes / 2),
	}, nil
}

// Health is nil while flushes reach the store, or an error once they have
// failed for longer than lifecycle.DefaultGrace without one succeeding (the
// store is unreachable or refuses writes): the lake's readiness check. A
// checkpoint failure after the objects were written is the consumer's, not
// the lake's.
func (w *Writer) Health() error { return w.health.Err() }

// reserve takes n bytes of the buffer budget. When the budget is exhausted it
// returns false and a channel closed at the next release. A request is always
// admitted when nothing is buffered, so one oversize record cannot stall.
func (w *Writer) reserve(n int64) (bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buffered > 0 && w.buffered+n > w.cfg.MaxBufferedBytes {
		return false, w.freed
	}
	w.buffered += n
	w.m.buffered.Set(float64(w.buffered))
	return true, nil
}

func (w *Writer) release(n int64) {
	if n == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buffered -= n
	w.m.buffered.Set(float64(w.buffered))
	close(w.freed)
	w.freed = make(chan struct{})
}

func (w *Writer) wait(ctx context.Context, freed <-chan struct{}) error {
	w.mu.Lock()
	w.waiting++
	w.mu.Unlock()
	start := time.Now()
	defer func() {
		w.mu.Lock()
		w.waiting--
		w.mu.Unlock()
		w.m.backpressureSec.Add(time.Since(start).Seconds())
	}()
	select {
	case <-freed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// underPressure reports whether some shard is blocked on the budget, so idle
// shards flush early instead of holding budget until max_age.
func (w *Writer) underPressure() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting > 0
}

// BufferedBytes is the bytes (records plus their buffered rows, estimated)
// currently buffered by all shards.
func (w *Writer) BufferedBytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buffered
}

// Shard returns the writer for one shard of streamName. It must be used from
// one goroutine (the shard's processor).
func (w *Writer) Shard(streamName, shardID string) *ShardWriter {
	return &ShardWriter{
		w: w, stream: streamName, shard: shardID,
		log: w.log.With("stream", streamName, "shard", shardID),
		buf: newBuffer(),
	}
}

// ShardWriter buffers one shard's records per hour partition and writes them
// all at once when a flush trigger fires, then checkpoints. Every flush
// therefore covers the contiguous run of records right after the shard's
// last checkpoint, which is what makes the object names replay-safe.
//
// A flush the buffer's size triggers runs in the background while the shard
// goes on reading and buffering: the shard's next Add or Tick checkpoints it
// once its objects are written (one flush in flight per shard, checkpoints in
// order). Flushes on age, budget pressure, shutdown and shard end wait for
// their objects and the checkpoint before returning.
type ShardWriter struct {
	w             *Writer
	stream, shard string
	log           *slog.Logger

	buf     buffer
	job     *flushJob // the flush in flight, if any
	lastSeq string    // sequence number of the last record buffered (or flushed)
}

// buffer is what a shard holds between two flushes.
type buffer struct {
	gold    map[int64]*goldPart // by partition hour (unix seconds)
	errs    map[int64]*errPart
	fcast   map[int64]*forecastPart // by issued_at hour
	last    string                  // sequence number of the last record in the buffer
	records int
	bytes   int64
	since   time.Time // when the oldest record was added
}

func newBuffer() buffer {
	return buffer{gold: map[int64]*goldPart{}, errs: map[int64]*errPart{}, fcast: map[int64]*forecastPart{}}
}

// prepend puts a, a buffer whose flush failed, in front of b, which holds
// the records that came after it: the result is what one buffer holding
// both would be, so its flush writes the object names a's would have.
func (b *buffer) prepend(a buffer) {
	for h, pa := range a.gold {
		if pb := b.gold[h]; pb != nil {
			pa.bodies = append(pa.bodies, pb.bodies...)
			pa.rows = append(pa.rows, pb.rows...)
			pa.n += pb.n
			pa.unknown += pb.unknown
		}
		b.gold[h] = pa
	}
	for h, pa := range a.errs {
		if pb := b.errs[h]; pb != nil {
			pa.recs = append(pa.recs, pb.recs...)
		}
		b.errs[h] = pa
	}
	for h, pa := range a.fcast {
		if pb := b.fcast[h]; pb != nil {
			pa.bodies = append(pa.bodies, pb.bodies...)
			pa.steps = append(pa.steps, pb.steps...)
			pa.n += pb.n
		}
		b.fcast[h] = pa
	}
	if b.records == 0 {
		b.last = a.last
	}
	if a.records > 0 {
		b.since = a.since
	}
	b.records += a.records
	b.bytes += a.bytes
}

// flushJob is a flush running in the background.
type flushJob struct {
	buf    buffer
	why    string
	cancel context.CancelFunc
	done   chan struct{} // closed when the objects are written or failed
	err    error
	took   time.Duration
}

// goldPart is one hour partition of a shard's buffer: the record bodies for
// raw/ and their gold rows. Readings are turned into compact rows as they
// arrive (see bufRow), so the buffer does not hold decoded readings with
// their value maps, and rows are kept in chunks so it grows without copying.
type goldPart struct {
	hour     time.Time
	firstSeq string
	bodies   [][]byte
	rows     [][]bufRow
	n        int // rows in all chunks
	unknown  int // values with no gold column (kept in raw/ only)
}

func (p *goldPart) addRow(r *weather.Reading, pool *recycler) {
	p.rows = growChunks(p.rows, pool.chunk)
	c := &p.rows[len(p.rows)-1]
	*c = append(*c, bufRow{})
	p.unknown += (*c)[len(*c)-1].set(r)
	p.n++
}

// growChunks returns chunks with room for one more element in its last
// chunk: a new chunk from alloc when the last is full, minRowChunk long at
// first, then twice the last one's length up to maxRowChunk. A part with a
// few rows stays small, and a large one grows without copying.
func growChunks[T any](chunks [][]T, alloc func(size int) []T) [][]T {
	if len(chunks) > 0 && len(chunks[len(chunks)-1]) < cap(chunks[len(chunks)-1]) {
		return chunks
	}
	size := minRowChunk
	if len(chunks) > 0 {
		size = min(2*cap(chunks[len(chunks)-1]), maxRowChunk)
	}
	return append(chunks, alloc(size))
}

type errPart struct {
	hour     time.Time
	firstSeq string
	recs     []ErrorRecord
}

// Add buffers items and flushes when the shard's buffer reaches
// lake.flush.max_bytes (record bytes plus the buffered rows' estimated
// size, see itemSize) or max_records (in the background) or its oldest
// record max_age; a flush writes every object and then checkpoints the last
// record it holds. Records at or before the last one already buffered are
// skipped, so the consumer may retry a batch after an error. While the
// Writer's buffered bytes are over lake.max_buffered_bytes, Add first
// finishes or makes its own shard's flush, then blocks until budget is freed
// or ctx ends. An error may be a background flush's: the next Add, Tick or
// Flush retries it (see join).
func (s *ShardWriter) Add(ctx context.Context, items []stream.Item, cp stream.Checkpointer) error {
	for i := range items {
		it := &items[i]
		seq := it.Record.SequenceNumber
		if seq == "" {
			return fmt.Errorf("lake shard %s: record without a sequence number", s.shard)
		}
		if s.lastSeq != "" && !stream.SeqLess(s.lastSeq, seq) {
			continue
		}
		n := itemSize(it)
		for {
			ok, freed := s.w.reserve(n)
			if ok {
				break
			}
			if s.job != nil {
				if err := s.join(ctx, cp, true); err != nil {
					return err
				}
				continue
			}
			if s.buf.records > 0 {
				if err := s.flush(ctx, cp, "buffer budget"); err != nil {
					return err
				}
				continue
			}
			if err := s.w.wait(ctx, freed); err != nil {
				return fmt.Errorf("lake shard %s: wait for buffer budget: %w", s.shard, err)
			}
		}
		s.append(it, n)
		if s.buf.bytes >= s.w.cfg.Flush.MaxBytes || s.buf.records >= s.w.cfg.Flush.MaxRecords {
			if err := s.start(ctx, cp, "size"); err != nil {
				return err
			}
		}
	}
	return s.Tick(ctx, cp)
}

// Tick checkpoints a background flush that has finished (waiting for it
// when another shard is blocked on the buffer budget), and flushes when the
// oldest buffered record is lake.flush.max_age old, or early when another
// shard is blocked on the buffer budget. The processor calls it for empty
// batches.
func (s *ShardWriter) Tick(ctx context.Context, cp stream.Checkpointer) error {
	pressure := s.w.underPressure()
	if err := s.join(ctx, cp, pressure); err != nil {
		return err
	}
	if s.buf.records == 0 {
		return nil
	}
	if s.w.now().Sub(s.buf.since) >= s.w.cfg.Flush.MaxAge {
		return s.flush(ctx, cp, "age")
	}
	if pressure {
		return s.flush(ctx, cp, "buffer budget")
	}
	return nil
}

// Flush writes everything buffered and checkpoints it (shutdown, shard end).
func (s *ShardWriter) Flush(ctx context.Context, cp stream.Checkpointer) error {
	return s.flush(ctx, cp, "shutdown")
}

// Discard drops the buffer without writing it (after the flush in flight,
// if any, has stopped) and frees its budget: the lease is lost and the new
// owner replays from the last checkpoint.
func (s *ShardWriter) Discard() {
	if j := s.job; j != nil {
		j.cancel()
		<-j.done
		s.job = nil
		s.w.pool.recycle(&j.buf)
		s.w.release(j.buf.bytes)
		s.log.Info("dropping a lake flush in flight: lease lost, the new owner replays it", "records", j.buf.records)
	}
	if s.buf.records > 0 {
		s.log.Info("dropping lake buffer: lease lost, the new owner replays it", "records", s.buf.records, "bytes", s.buf.bytes)
	}
	s.w.pool.recycle(&s.buf)
	s.w.release(s.buf.bytes)
	s.buf = newBuffer()
	s.lastSeq = ""
}

func (s *ShardWriter) append(it *stream.Item, n int64) {
	seq := it.Record.SequenceNumber
	b := &s.buf
	if it.Err == nil && it.Forecast != nil {
		b.addForecast(it.Record, it.Forecast)
	} else if it.Err == nil && !it.Reading.ObservedAt.IsZero() {
		hour := it.Reading.ObservedAt.UTC().Truncate(time.Hour)
		p := b.gold[hour.Unix()]
		if p == nil {
			p = &goldPart{hour: hour, firstSeq: seq, bodies: s.w.pool.body()}
			b.gold[hour.Unix()] = p
		}
		p.bodies = append(p.bodies, it.Record.Data)
		p.addRow(&it.Reading, s.w.pool)
	} else {
		reason := "decoded reading has no observed_at"
		if it.Err != nil {
			reason = it.Err.Error()
		}
		hour := s.errorHour(it)
		p := b.errs[hour.Unix()]
		if p == nil {
			p = &errPart{hour: hour, firstSeq: seq}
			b.errs[hour.Unix()] = p
		}
		p.recs = append(p.recs, ErrorRecord{
			Reason: reason, Stream: s.stream, Shard: s.shard, SequenceNumber: seq,
			PartitionKey: it.Record.PartitionKey, ArrivedAt: it.Record.ArrivedAt.UTC(), Data: it.Record.Data,
		})
		s.w.m.poison.WithLabelValues(weather.InvalidCode(it.Err)).Inc()
	}
	if b.records == 0 {
		b.since = s.w.now()
	}
	s.lastSeq = seq
	b.last = seq
	b.records++
	b.bytes += n
}

// itemSize estimates the memory one buffered item holds, which is what the
// byte triggers and the budget count: the record bytes plus what the buffer
// keeps beside them — the gold row (bufRow, its values inline) with its
// strings for a reading, the error record and its reason for a poison one —
// rounded up to 512 bytes, the allocation overhead included.
func itemSize(it *stream.Item) int64 {
	n := int64(len(it.Record.Data)) + 512
	if it.Err == nil && it.Forecast != nil {
		n += int64(len(it.Forecast.Steps)) * forecastRowSize
	} else if it.Err == nil {
		r := &it.Reading
		n += int64(len(r.EventID) + len(r.Location.ID) + len(r.Location.Name) + len(r.Provider))
	} else {
		n += int64(len(it.Err.Error()))
	}
	return n
}

// errorHour partitions a poison record by its observed_at when the bytes
// still carry a parsable one that is not too far ahead, else by the
// stream's arrival time. Both come from the record itself, so a replay puts
// it in the same partition.
func (s *ShardWriter) errorHour(it *stream.Item) time.Time {
	if weather.InvalidCode(it.Err) == weather.InvalidFuture && !it.Record.ArrivedAt.IsZero() {
		// Its observed_at is the lie: file it with what arrived then.
		return it.Record.ArrivedAt.UTC().Truncate(time.Hour)
	}
	var probe struct {
		ObservedAt string `json:"observed_at"`
	}
	if json.Unmarshal(it.Record.Data, &probe) == nil && probe.ObservedAt != "" {
		if t, err := time.Parse(time.RFC3339Nano, probe.ObservedAt); err == nil {
			return t.UTC().Truncate(time.Hour)
		}
	}
	if !it.Record.ArrivedAt.IsZero() {
		return it.Record.ArrivedAt.UTC().Truncate(time.Hour)
	}
	return s.w.now().UTC().Truncate(time.Hour)
}

// flush writes the buffer and checkpoints it before returning.
func (s *ShardWriter) flush(ctx context.Context, cp stream.Checkpointer, why string) error {
	if err := s.start(ctx, cp, why); err != nil {
		return err
	}
	return s.join(ctx, cp, true)
}

// start hands the buffer to a background flush, once the flush in flight
// (if any) is done and checkpointed.
func (s *ShardWriter) start(ctx context.Context, cp stream.Checkpointer, why string) error {
	if err := s.join(ctx, cp, true); err != nil {
		return err
	}
	if s.buf.records == 0 {
		return nil
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &flushJob{buf: s.buf, why: why, cancel: cancel, done: make(chan struct{})}
	s.buf = newBuffer()
	s.job = j
	go func() {
		defer close(j.done)
		defer cancel()
		start := time.Now()
		j.err = s.write(jctx, &j.buf)
		j.took = time.Since(start)
		if j.err == nil {
			s.w.health.OK()
		} else if jctx.Err() == nil {
			s.w.health.Fail(fmt.Errorf("flush lake shard %s: %w", s.shard, j.err))
		}
	}()
	return nil
}

// join finishes the flush in flight when it is done, or waits for it when
// wait is set (until ctx ends, which stops it): once its objects are written
// it checkpoints the flush's last record and frees its budget.
//
// When writing failed, the checkpoint has not moved: the records go back in
// front of the buffer, so the next flush starts at the same checkpoint and
// rewrites the same object names with a superset of these records.
//
// When only the checkpoint failed, it may still have been stored (the write
// reached DynamoDB, its answer did not come back in time). A replay would
// then start after the flush's last record, so the flush's objects must
// keep exactly these records: the job stays, and the next join retries the
// same checkpoint before any other flush may start.
func (s *ShardWriter) join(ctx context.Context, cp stream.Checkpointer, wait bool) error {
	j := s.job
	if j == nil {
		return nil
	}
	select {
	case <-j.done:
	default:
		if !wait {
			return nil
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			j.cancel()
			<-j.done
		}
	}
	if err := j.err; err != nil {
		s.job = nil
		s.buf.prepend(j.buf)
		s.w.m.flushFailures.Inc()
		return fmt.Errorf("flush lake shard %s: %w", s.shard, err)
	}
	if err := cp.Checkpoint(ctx, j.buf.last); err != nil {
		s.w.m.flushFailures.Inc()
		return fmt.Errorf("flush lake shard %s: checkpoint %s: %w", s.shard, j.buf.last, err)
	}
	s.job = nil
	s.w.m.flushDuration.Observe(j.took.Seconds())
	s.log.Debug("lake flush", "reason", j.why, "records", j.buf.records, "bytes", j.buf.bytes,
		"partitions", len(j.buf.gold), "error_partitions", len(j.buf.errs), "checkpoint", j.buf.last,
		"took", j.took)
	s.w.pool.recycle(&j.buf)
	s.w.release(j.buf.bytes)
	return nil
}

// write puts every object of the buffer, spreading the encoding over the
// CPUs. A failure on a raw/ or gold/ object fails the flush; a failure on an
// errors/ object is logged with the records' sequence numbers and counted,
// so a broken errors/ prefix never holds back good readings.
func (s *ShardWriter) write(ctx context.Context, b *buffer) error {
	var g errgroup.Group
	g.SetLimit(maxPuts)
	hours := make([]int64, 0, len(b.gold))
	for h := range b.gold {
		hours = append(hours, h)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i] < hours[j] })
	for _, h := range hours {
		p := b.gold[h]
		name := objectName(s.stream, s.shard, p.firstSeq)
		g.Go(func() error {
			data, err := s.w.encode(func() ([]byte, error) { return encodeRaw(p.bodies, &s.w.rawSize) })
			if err != nil {
				return fmt.Errorf("encode %s: %w", objectKey(kindRaw, p.hour, name), err)
			}
			return s.put(ctx, kindRaw, objectKey(kindRaw, p.hour, name), data)
		})
		g.Go(func() error {
			data, err := s.w.encode(func() ([]byte, error) {
				s.w.m.unknownValues.Add(float64(p.unknown))
				return s.w.enc.encodeBuffered(p.rows, p.n)
			})
			if err != nil {
				return fmt.Errorf("encode %s: %w", objectKey(kindGold, p.hour, name), err)
			}
			return s.put(ctx, kindGold, objectKey(kindGold, p.hour, name), data)
		})
	}
	s.writeForecasts(ctx, &g, b)
	for _, p := range b.errs {
		key := objectKey(kindErrors, p.hour, objectName(s.stream, s.shard, p.firstSeq))
		g.Go(func() error {
			data, err := s.w.encode(func() ([]byte, error) { return encodeErrors(p.recs) })
			if err == nil {
				err = s.put(ctx, kindErrors, key, data)
			}
			if err != nil {
				seqs := make([]string, len(p.recs))
				for i := range p.recs {
					seqs[i] = p.recs[i].SequenceNumber
				}
				s.w.m.errorsDropped.Add(float64(len(p.recs)))
				s.log.Error("could not write poison records to errors/; they are skipped (still in the stream until its retention ends)",
					"key", key, "sequence_numbers", seqs, "err", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// maxPuts bounds the objects one flush uploads at once.
const maxPuts = 16

// encode runs f holding one of the encoder slots shared by all shards, so at
// most one object per CPU is being encoded (rows and output in memory) at a
// time; uploads happen outside the slot.
func (w *Writer) encode(f func() ([]byte, error)) ([]byte, error) {
	w.encoders <- struct{}{}
	defer func() { <-w.encoders }()
	return f()
}

func (s *ShardWriter) put(ctx context.Context, kind, key string, data []byte) error {
	if err := s.w.store.Put(ctx, key, data); err != nil {
		return err
	}
	s.w.m.objects.WithLabelValues(kind).Inc()
	s.w.m.bytes.WithLabelValues(kind).Add(float64(len(data)))
	return nil
}
