package producer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/weatherd/weatherd/pkg/stream"
)

type metrics struct {
	produced      prometheus.Counter
	failures      *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	buffered      prometheus.Gauge
	bufferedBytes prometheus.Gauge
	duration      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		produced: stream.NewProducedCounter(reg),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_producer_put_failures_total",
			Help: "Records a PutRecords call did not store (they are retried), by reason: throttled, internal_failure, not_found, rejected, unavailable.",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_producer_dropped_total",
			Help: "Records given up on, by reason: buffer_full, too_large, rejected, spool_error (the spool write failed), shutdown (left after the drain, without a spool).",
		}, []string{"reason"}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_producer_buffered_records",
			Help: "Records waiting to be delivered to Kinesis.",
		}),
		bufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_producer_buffered_bytes",
			Help: "Bytes (data + partition keys) waiting to be delivered to Kinesis.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weatherd_producer_put_duration_seconds",
			Help:    "Duration of one PutRecords call.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	for _, r := range []string{"throttled", "internal_failure", "not_found", "rejected", "unavailable"} {
		m.failures.WithLabelValues(r)
	}
	for _, r := range []string{"buffer_full", "too_large", "rejected", "spool_error", "shutdown"} {
		m.dropped.WithLabelValues(r)
	}
	reg.MustRegister(m.failures, m.dropped, m.buffered, m.bufferedBytes, m.duration)
	return m
}
