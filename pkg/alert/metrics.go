package alert

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Notification outcomes, the outcome label of weatherd_notifications_total.
const (
	outcomeSent       = "sent"               // delivered
	outcomeFailed     = "failed"             // a delivery attempt failed; it stays queued
	outcomeHeld       = "held"               // queued until the channel's window opens
	outcomeSuperseded = "dropped_superseded" // a higher tier of its group replaced it
	outcomeSummarized = "summarized"         // merged into a held notification of the same alert
	outcomeFiltered   = "filtered"           // below the channel's min_severity
)

type metrics struct {
	transitions   *prometheus.CounterVec
	notifications *prometheus.CounterVec
	held          prometheus.Gauge
	pending       prometheus.Gauge
	outboxFull    prometheus.Counter
	evaluation    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_alert_transitions_total",
			Help: "Alert state transitions recorded, by rule and new state (pending, inactive, firing, repeat, resolved; forecast rules: predicted, updated, cancelled, occurred, handover).",
		}, []string{"rule", "state"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_notifications_total",
			Help: "Notifications by channel and outcome (sent, failed, held, dropped_superseded, summarized, filtered).",
		}, []string{"channel", "outcome"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_alert_held_notifications",
			Help: "Notifications held until their channel's delivery window opens.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weatherd_alert_outbox_pending",
			Help: "Notifications in the outbox: held, awaiting retry or being delivered.",
		}),
		outboxFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_alert_outbox_full_total",
			Help: "Transitions refused because alerts.outbox.limit notifications were waiting; their batch is retried, not checkpointed (backpressure).",
		}),
		evaluation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weatherd_alert_evaluation_duration_seconds",
			Help:    "Time to evaluate the rules for one batch of readings, including state writes (delivery is Run's, off the shard).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
	}
	reg.MustRegister(m.transitions, m.notifications, m.held, m.pending, m.outboxFull, m.evaluation)
	return m
}
