// Package pipeline is the record processor each shard runs: it decodes stream
// records into readings, drops readings already seen on the shard (the same
// event_id put twice, e.g. by a poller killed before it saved its state),
// lets the alert engine see them, and hands the batch to the lake, which
// checkpoints once its objects are durable. The recent observations used to
// spot duplicates are saved with each checkpoint, so a replay after a crash
// or a lease change decides exactly as the first run did.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Observer evaluates alert rules. When Observe returns nil every notification
// the readings caused is published or durably queued.
type Observer interface {
	Observe(ctx context.Context, readings []weather.Reading) error
}

// ForecastObserver evaluates forecast rules. When ObserveForecast returns
// nil every notification the forecast caused is published or durably
// queued. A batch that fails is retried whole, so it may see the same
// forecast (same event_id) again, as Observe may see a reading again.
type ForecastObserver interface {
	ObserveForecast(ctx context.Context, f weather.Forecast) error
}

// ShardSink buffers one shard's records for the lake and checkpoints after
// writing them.
type ShardSink interface {
	Add(ctx context.Context, items []stream.Item, cp stream.Checkpointer) error
	Tick(ctx context.Context, cp stream.Checkpointer) error
	Flush(ctx context.Context, cp stream.Checkpointer) error
	Discard()
}

// Metrics are the pipeline's series, shared by every shard.
type Metrics struct {
	records    prometheus.Counter
	duplicates prometheus.Counter
}

// NewMetrics registers the pipeline's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_records_total",
			Help: "Stream records processed (alerts evaluated and handed to the lake).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_duplicates_total",
			Help: "Stream records dropped because the shard already processed their event_id (one of the last 8 observations of their location).",
		}),
	}
	reg.MustRegister(m.records, m.duplicates)
	return m
}

// Factory makes the processors of one stream.
type Factory struct {
	Stream string
	Alerts Observer
	// Forecasts sees every forecast event, in stream order with the
	// readings around it. Nil means Alerts when it is a ForecastObserver
	// too, else forecasts only reach the lake.
	Forecasts ForecastObserver
	Lake      func(stream, shard string) ShardSink
	Metrics   *Metrics
	Log       *slog.Logger
	// MaxClockSkew is how far a reading's observed_at may be ahead of its
	// record's arrival time (consumer.max_clock_skew, which Validate keeps
	// at 1s or more).
	MaxClockSkew time.Duration
}

// New returns a processor for one shard; it is a stream.ProcessorFactory.
func (f *Factory) New() stream.Processor {
	return &processor{f: f}
}

type processor struct {
	f     *Factory
	shard string
	sink  ShardSink
	log   *slog.Logger
	dedup *dedupe
	// buf is reused from batch to batch: neither the lake nor the alert
	// engine keeps its slices (they copy what they keep).
	buf batchBuf
}

// batchBuf holds one slice of a batch, recycled from slice to slice: its
// items for the lake and its readings for the alert engine. A reading's
// known values are inline (weather.Values), so decoding into the items
// allocates nothing for them.
type batchBuf struct {
	items    []stream.Item
	readings []weather.Reading
}

func (p *processor) Initialize(ctx context.Context, shardID string, from stream.Position) error {
	p.shard = shardID
	p.sink = p.f.Lake(p.f.Stream, shardID)
	p.log = p.f.Log.With("component", "pipeline", "shard", shardID)
	p.dedup = newDedupe()
	if len(from.State) == 0 && len(from.ParentStates) > 0 {
		if err := p.dedup.inherit(from.ParentStates); err != nil {
			p.log.Warn("ignoring a parent shard's dedupe state", "parents", len(from.ParentStates), "err", err)
		}
	} else if err := p.dedup.restore(from.State); err != nil {
		// Starting empty loses nothing; at worst a duplicate gets through.
		p.log.Warn("ignoring the saved dedupe state; starting without it", "err", err)
	}
	p.log.Info("shard processor started", "after", from.AfterSequence, "initial", from.Initial,
		"dedupe_locations", len(p.dedup.base), "parent_states", len(from.ParentStates))
	return nil
}

// stateCheckpointer is the Checkpointer the lake gets: it saves the dedupe
// set as of the checkpointed record with the checkpoint (when the stream
// driver can), then forgets the history up to it.
type stateCheckpointer struct {
	p  *processor
	cp stream.Checkpointer
}

func (c stateCheckpointer) Checkpoint(ctx context.Context, seq string) error {
	recent := c.p.dedup.at(seq)
	if sc, ok := c.cp.(stream.StateCheckpointer); ok {
		state, err := encodeState(recent)
		if err != nil {
			return err
		}
		if err := sc.CheckpointWithState(ctx, seq, state); err != nil {
			return err
		}
	} else if err := c.cp.Checkpoint(ctx, seq); err != nil {
		return err
	}
	c.p.dedup.commit(seq, recent)
	return nil
}

// subBatch bounds the records decoded and held at once: a large GetRecords
// batch goes through alerts and the lake in slices of this many, so only
// one slice of decoded readings (with their value maps) is alive at a time,
// and each is used while it is still in the CPU cache. Slicing is safe: if
// a later slice fails, the consumer retries the whole batch; the lake skips
// records it already holds and the alert engine readings it already judged.
// (Handing a slice to the lake in the background while the next is decoded
// was measured too: no faster on two cores, and twice the memory.) A slice
// also ends before subBatchBytes of record data: 4,096 readings are about
// 2.5 MB, but a forecast is about 32 KiB and decodes to four times that.
const (
	subBatch      = 4096
	subBatchBytes = 4 << 20
)

// subBatchEnd returns where the slice of records that starts at lo ends:
// after subBatch records, or before the record that would take its data
// past subBatchBytes (a slice holds at least one record).
func subBatchEnd(records []stream.Record, lo int) int {
	hi, size := lo, 0
	for hi < len(records) && hi-lo < subBatch {
		size += len(records[hi].Data)
		if hi > lo && size > subBatchBytes {
			break
		}
		hi++
	}
	return hi
}

func (p *processor) ProcessRecords(ctx context.Context, records []stream.Record, cp stream.Checkpointer) error {
	cp = stateCheckpointer{p, cp}
	if len(records) == 0 {
		return p.sink.Tick(ctx, cp)
	}
	defer p.buf.release()
	for lo, hi := 0, 0; lo < len(records); lo = hi {
		hi = subBatchEnd(records, lo)
		items, err := p.prepare(ctx, records[lo:hi], &p.buf)
		if err != nil {
			return err
		}
		if err := p.sink.Add(ctx, items, cp); err != nil {
			return fmt.Errorf("lake: %w", err)
		}
	}
	p.f.Metrics.records.Add(float64(len(records)))
	return nil
}

// prepare decodes records into b and lets the alert engine see the
// readings; it returns the items for the lake.
func (p *processor) prepare(ctx context.Context, records []stream.Record, b *batchBuf) ([]stream.Item, error) {
	items, readings := b.sized(len(records))
	decodeAll(records, items, b)
	kept := items[:0]
	// forecasts holds each kept forecast with the number of readings kept
	// before it, so the alert engine sees events in stream order.
	var forecasts []forecastAt
	for i := range items {
		it := &items[i]
		if it.Err == nil {
			// An event from the future would silence its location's later
			// ones (duplicates, stale for alerts) until the clock caught up.
			if it.Forecast != nil {
				it.Err = weather.CheckIssuedAt(it.Forecast.IssuedAt, it.Record.ArrivedAt, p.f.MaxClockSkew)
			} else {
				it.Err = weather.CheckObservedAt(it.Reading.ObservedAt, it.Record.ArrivedAt, p.f.MaxClockSkew)
			}
		}
		if err := it.Err; err != nil {
			rec := &records[i]
			p.log.Warn("invalid record sent to the lake's errors/", "sequence", rec.SequenceNumber, "partition_key", rec.PartitionKey, "err", err)
			it.Forecast = nil
			kept = keep(kept, items, i)
			continue
		}
		if f := it.Forecast; f != nil {
			if p.dedup.duplicate(forecastDedupeKey(f.Location.ID), f.IssuedAt.Unix(), it.Record.SequenceNumber) {
				p.f.Metrics.duplicates.Inc()
				p.log.Debug("duplicate forecast dropped", "event_id", f.EventID, "sequence", it.Record.SequenceNumber)
				continue
			}
			kept = keep(kept, items, i)
			forecasts = append(forecasts, forecastAt{f, len(readings)})
			continue
		}
		if r := &it.Reading; !r.ObservedAt.IsZero() && p.dedup.duplicate(r.Location.ID, r.ObservedAt.Unix(), it.Record.SequenceNumber) {
			p.f.Metrics.duplicates.Inc()
			p.log.Debug("duplicate reading dropped", "event_id", r.EventID, "sequence", it.Record.SequenceNumber)
			continue
		}
		kept = keep(kept, items, i)
		readings = append(readings, it.Reading)
	}
	items = kept
	b.readings = readings
	if err := p.observe(ctx, readings, forecasts); err != nil {
		return nil, err
	}
	return items, nil
}

// observe lets the alert engine see the readings and forecasts of a slice
// in stream order: the readings before each forecast as one batch, then the
// forecast.
func (p *processor) observe(ctx context.Context, readings []weather.Reading, forecasts []forecastAt) error {
	done := 0
	batch := func(upTo int) error {
		if upTo > done {
			if err := p.f.Alerts.Observe(ctx, readings[done:upTo]); err != nil {
				return fmt.Errorf("evaluate alerts: %w", err)
			}
			done = upTo
		}
		return nil
	}
	fo := p.f.forecastObserver()
	for _, fa := range forecasts {
		if fo == nil {
			break
		}
		if err := batch(fa.readings); err != nil {
			return err
		}
		if err := fo.ObserveForecast(ctx, *fa.f); err != nil {
			return fmt.Errorf("evaluate forecast alerts: %w", err)
		}
	}
	return batch(len(readings))
}

// keep appends items[i] to kept, a prefix of items: in place, without
// copying the item (about 600 bytes) onto itself, while nothing before it
// was dropped.
func keep(kept, items []stream.Item, i int) []stream.Item {
	if n := len(kept); n == i {
		return kept[:n+1]
	}
	return append(kept, items[i])
}

// forecastObserver is Forecasts, or Alerts when it observes forecasts too.
func (f *Factory) forecastObserver() ForecastObserver {
	if f.Forecasts != nil {
		return f.Forecasts
	}
	fo, _ := f.Alerts.(ForecastObserver)
	return fo
}

// decodeChunk is how many records one goroutine decodes at a time.
const decodeChunk = 1024

// decodeAll decodes records into items (Record and Reading or Err). A large
// batch is decoded by up to GOMAXPROCS goroutines, so decoding also uses a
// core another shard leaves idle while it waits on a flush.
func decodeAll(records []stream.Record, items []stream.Item, b *batchBuf) {
	decode := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			it := &items[i]
			it.Record = records[i]
			it.Forecast = nil
			data := records[i].Data
			if weather.LooksLikeForecast(data) {
				// weatherd's own forecasts (32 KiB or so) are decoded once,
				// not first tried as readings.
				it.Reading = weather.Reading{}
				it.Forecast, it.Err = decodeForecast(data)
				continue
			}
			it.Err = weather.DecodeInto(&it.Reading, data)
			if it.Err != nil && weather.IsForecast(data) {
				// A forecast in another field order: tried as a reading
				// first, so readings pay nothing.
				it.Forecast, it.Err = decodeForecast(data)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(records)/decodeChunk)
	if workers < 2 {
		decode(0, len(records))
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(decodeChunk)) - decodeChunk
				if lo >= len(records) {
					return
				}
				decode(lo, min(lo+decodeChunk, len(records)))
			}
		}()
	}
	wg.Wait()
}

// sized returns b's buffers sized for n records.
func (b *batchBuf) sized(n int) ([]stream.Item, []weather.Reading) {
	if cap(b.items) < n {
		b.items = make([]stream.Item, n)
		b.readings = make([]weather.Reading, 0, n)
	}
	return b.items[:n], b.readings[:0]
}

// release clears the items and readings, so a slice's records are not
// kept alive by them until the next batch overwrites them.
func (b *batchBuf) release() {
	clear(b.items[:cap(b.items)])
	clear(b.readings[:cap(b.readings)])
}

func (p *processor) Shutdown(ctx context.Context, reason stream.ShutdownReason, cp stream.Checkpointer) error {
	p.log.Info("shard processor stopping", "reason", reason.String())
	if reason == stream.LeaseLost {
		p.sink.Discard()
		return nil
	}
	if err := p.sink.Flush(ctx, stateCheckpointer{p, cp}); err != nil {
		return fmt.Errorf("final lake flush: %w", err)
	}
	return nil
}
