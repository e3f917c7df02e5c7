package poller

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the poller's Prometheus series.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	ticks        prometheus.Counter
	ticksSkipped prometheus.Counter
	forecasts    *prometheus.CounterVec
	fSkipped     prometheus.Counter
}

// NewMetrics registers the poller's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_poll_requests_total",
			Help: "Weather API fetches by provider and outcome (ok, duplicate, buffer_full, unauthorized, rate_limited, bad_response, unavailable, timeout, error).",
		}, []string{"provider", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weatherd_poll_duration_seconds",
			Help:    "Time to fetch one location from the weather API, retries included.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider"}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_poll_ticks_total",
			Help: "Schedule ticks run.",
		}),
		ticksSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_poll_ticks_skipped_total",
			Help: "Schedule ticks skipped because the previous tick was still running.",
		}),
		forecasts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weatherd_forecast_requests_total",
			Help: "Weather API forecast fetches by provider and outcome (ok, buffer_full, unauthorized, rate_limited, bad_response, unavailable, timeout, error); they share the provider's rate-limit budget with the realtime fetches.",
		}, []string{"provider", "outcome"}),
		fSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weatherd_forecast_ticks_skipped_total",
			Help: "Forecast schedule ticks skipped because the previous forecast tick was still running.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.ticks, m.ticksSkipped, m.forecasts, m.fSkipped)
	return m
}

type forecastMetrics struct {
	requests     *prometheus.CounterVec // curried with the provider
	ticksSkipped prometheus.Counter
}

func (m *Metrics) forForecasts(name string) *forecastMetrics {
	return &forecastMetrics{
		requests:     m.forecasts.MustCurryWith(prometheus.Labels{"provider": name}),
		ticksSkipped: m.fSkipped,
	}
}

type metrics struct {
	requests     *prometheus.CounterVec // curried with the provider
	duration     prometheus.Observer
	ticks        prometheus.Counter
	ticksSkipped prometheus.Counter
}

func (m *Metrics) forProvider(name string) *metrics {
	return &metrics{
		requests:     m.requests.MustCurryWith(prometheus.Labels{"provider": name}),
		duration:     m.duration.WithLabelValues(name),
		ticks:        m.ticks,
		ticksSkipped: m.ticksSkipped,
	}
}
