package lake

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/weather"
)

type metrics struct {
	objects         *prometheus.CounterVec
	bytes           *prometheus.CounterVec
	flushDuration   prometheus.Histogram
	buffered        prometheus.Gauge
	poison          *prometheus.CounterVec
	flushFailures   prometheus.Counter
	errorsDropped   prometheus.Counter
	unknownValues   prometheus.Counter
	compactionRuns  *prometheus.CounterVec
	backpressureSec prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_lake_objects_written_total",
			Help: "Lake objects written, by kind (raw, gold, errors, compacted, forecast_raw, forecast_gold).",
		}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_lake_bytes_written_total",
			Help: "Bytes of lake objects written, by kind (raw, gold, errors, compacted, forecast_raw, forecast_gold).",
		}, []string{"kind"}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weatherd_lake_flush_duration_seconds",
			Help:    "Time to write one shard flush (every object, then the checkpoint).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_lake_buffered_bytes",
			Help: "Bytes (records plus their buffered rows, estimated) buffered by all shards, not yet written to the lake.",
		}),
		poison: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_poison_records_total",
			Help: "Stream records that are not usable readings, by the part of the reading contract they break (malformed, too_large, location_id, name, values, future); they go to the lake's errors/ prefix.",
		}, []string{"reason"}),
		flushFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_lake_flush_failures_total",
			Help: "Flushes that failed (an object write or the checkpoint); the buffer is kept and retried.",
		}),
		errorsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_lake_errors_dropped_total",
			Help: "Poison records whose errors/ object could not be written; logged with their sequence numbers instead.",
		}),
		unknownValues: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_lake_unknown_values_total",
			Help: "Reading values with no gold column (kept in raw/ only).",
		}),
		compactionRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_lake_compaction_runs_total",
			Help: "Compaction runs, by outcome (ok, error, not_leader: skipped because another replica holds the leader lease).",
		}, []string{"outcome"}),
		backpressureSec: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_lake_backpressure_seconds_total",
			Help: "Time shard writers spent blocked waiting for lake buffer budget.",
		}),
	}
	for _, c := range []prometheus.Collector{m.objects, m.bytes, m.flushDuration, m.buffered, m.poison,
		m.flushFailures, m.errorsDropped, m.unknownValues, m.compactionRuns, m.backpressureSec} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{kindRaw, kindGold, kindErrors, kindCompacted, kindForecastRaw, kindForecastGold} {
		m.objects.WithLabelValues(k)
		m.bytes.WithLabelValues(k)
	}
	for _, r := range weather.InvalidCodes {
		m.poison.WithLabelValues(r)
	}
	m.compactionRuns.WithLabelValues("ok")
	m.compactionRuns.WithLabelValues("error")
	m.compactionRuns.WithLabelValues("not_leader")
	return m, nil
}
