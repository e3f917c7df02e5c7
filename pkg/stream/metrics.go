package stream

import "github.com/prometheus/client_golang/prometheus"

// NewProducedCounter returns weatherd_readings_produced_total, registered
// with reg: the readings the stream accepted. Each driver's producer counts
// into it, so the series means the same whichever driver runs.
func NewProducedCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "weatherd_readings_produced_total",
		Help: "Readings the stream accepted (for Kinesis: records PutRecords stored).",
	})
	reg.MustRegister(c)
	return c
}
