// Package pipeline is the record processor each shard runs: it decodes stream
// records into readings, lets the alert engine see them, and hands the batch to
// the lake, which checkpoints once its objects are durable.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/lake"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Observer evaluates alert rules. When Observe returns nil every notification
// the readings caused is published or durably queued.
type Observer interface {
	Observe(ctx context.Context, readings []weather.Reading) error
}

// ShardSink buffers one shard's records for the lake and checkpoints after
// writing them.
type ShardSink interface {
	Add(ctx context.Context, items []lake.Item, cp stream.Checkpointer) error
	Tick(ctx context.Context, cp stream.Checkpointer) error
	Flush(ctx context.Context, cp stream.Checkpointer) error
	Discard()
}

// Metrics are the pipeline's series, shared by every shard.
type Metrics struct {
	records prometheus.Counter
}

// NewMetrics registers the pipeline's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_consumer_records_total",
			Help: "Stream records processed (alerts evaluated and handed to the lake).",
		}),
	}
	reg.MustRegister(m.records)
	return m
}

// Factory makes the processors of one stream.
type Factory struct {
	Stream  string
	Alerts  Observer
	Lake    func(stream, shard string) ShardSink
	Metrics *Metrics
	Log     *slog.Logger
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
}

func (p *processor) Initialize(ctx context.Context, shardID string, from stream.Position) error {
	p.shard = shardID
	p.sink = p.f.Lake(p.f.Stream, shardID)
	p.log = p.f.Log.With("component", "pipeline", "shard", shardID)
	p.log.Info("shard processor started", "after", from.AfterSequence, "initial", from.Initial)
	return nil
}

func (p *processor) ProcessRecords(ctx context.Context, records []stream.Record, cp stream.Checkpointer) error {
	if len(records) == 0 {
		return p.sink.Tick(ctx, cp)
	}
	items := make([]lake.Item, len(records))
	readings := make([]weather.Reading, 0, len(records))
	for i, rec := range records {
		items[i].Record = rec
		r, err := weather.Decode(rec.Data)
		if err != nil {
			items[i].Err = err
			p.log.Warn("invalid record sent to the lake's errors/", "sequence", rec.SequenceNumber, "partition_key", rec.PartitionKey, "err", err)
			continue
		}
		items[i].Reading = r
		readings = append(readings, r)
	}
	if len(readings) > 0 {
		if err := p.f.Alerts.Observe(ctx, readings); err != nil {
			return fmt.Errorf("evaluate alerts: %w", err)
		}
	}
	if err := p.sink.Add(ctx, items, cp); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	p.f.Metrics.records.Add(float64(len(records)))
	return nil
}

func (p *processor) Shutdown(ctx context.Context, reason stream.ShutdownReason, cp stream.Checkpointer) error {
	p.log.Info("shard processor stopping", "reason", reason.String())
	if reason == stream.LeaseLost {
		p.sink.Discard()
		return nil
	}
	if err := p.sink.Flush(ctx, cp); err != nil {
		return fmt.Errorf("final lake flush: %w", err)
	}
	return nil
}
