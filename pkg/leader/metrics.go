package leader

import "github.com/prometheus/client_golang/prometheus"

// Transition events counted in weatherd_poller_leader_transitions_total.
const (
	eventAcquired = "acquired"
	eventLost     = "lost"
	eventReleased = "released"
)

// DynamoDB operations counted in weatherd_poller_leader_errors_total.
const (
	opEnsure  = "ensure"
	opRead    = "read"
	opTake    = "take"
	opRenew   = "renew"
	opRelease = "release"
)

// Metrics are the poller leadership's Prometheus series.
type Metrics struct {
	leader      prometheus.Gauge
	transitions *prometheus.CounterVec
	errors      *prometheus.CounterVec
}

// NewMetrics registers the leadership series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_poller_leader",
			Help: "1 while this instance holds the poller leadership (and may poll the weather API), else 0.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_poller_leader_transitions_total",
			Help: "Poller leadership changes of this instance, by event (acquired, lost, released).",
		}, []string{"event"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_poller_leader_errors_total",
			Help: "Failed DynamoDB calls of the poller leadership, by operation (ensure, read, take, renew, release).",
		}, []string{"op"}),
	}
	for _, e := range []string{eventAcquired, eventLost, eventReleased} {
		m.transitions.WithLabelValues(e)
	}
	for _, op := range []string{opEnsure, opRead, opTake, opRenew, opRelease} {
		m.errors.WithLabelValues(op)
	}
	reg.MustRegister(m.leader, m.transitions, m.errors)
	return m
}
