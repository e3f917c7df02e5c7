package spool

import "github.com/prometheus/client_golang/prometheus"

// errorOps are the values of the op label of weatherd_spool_errors_total.
var errorOps = []string{"append", "sync", "ack", "remove"}

type metrics struct {
	bytes     prometheus.Gauge
	records   prometheus.Gauge
	segments  prometheus.Gauge
	appended  prometheus.Counter
	recovered prometheus.Counter
	corrupt   prometheus.Counter
	errors    *prometheus.CounterVec
}

// newMetrics builds the spool's metrics.
func newMetrics() *metrics {
	m := &metrics{
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_spool_bytes",
			Help: "Bytes of spool files (segments and their acks) on disk.",
		}),
		records: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_spool_records",
			Help: "Records in the spool not yet acknowledged (not yet stored by Kinesis).",
		}),
		segments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_spool_segments",
			Help: "Spool segment files on disk.",
		}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_spool_appended_records_total",
			Help: "Records appended to the spool.",
		}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_spool_recovered_records_total",
			Help: "Unacknowledged records found in the spool at start, from an earlier run.",
		}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_spool_corrupt_frames_total",
			Help: "Torn or corrupt frames skipped while recovering the spool.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_spool_errors_total",
			Help: "Spool I/O errors after a successful open, by operation: append, sync, ack, remove.",
		}, []string{"op"}),
	}
	for _, op := range errorOps {
		m.errors.WithLabelValues(op)
	}
	return m
}

// register registers the metrics on reg, if any: only once Open succeeded,
// so a failed Open (a locked directory) can be retried on the same registry.
func (m *metrics) register(reg prometheus.Registerer) {
	if reg != nil {
		reg.MustRegister(m.bytes, m.records, m.segments, m.appended, m.recovered, m.corrupt, m.errors)
	}
}
