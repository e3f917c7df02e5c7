package httpx

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the HTTP-level metrics of the provider clients.
type httpMetrics struct {
	remaining *prometheus.GaugeVec
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// newHTTPMetrics registers the metrics with reg; when another client already
// registered them, that client's collectors are shared.
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	remaining := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "weatherd_poll_ratelimit_remaining",
		Help: "Calls left in the API plan's window (second, minute, hour, day): the API's X-RateLimit-Remaining when it sends one, else the local count against poller.<provider>.limits.",
	}, []string{"provider", "window"})
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weatherd_poll_http_requests_total",
		Help: "HTTP requests sent to the weather API, by status class (2xx, 3xx, 4xx, 429, 5xx, error for no answer).",
	}, []string{"provider", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "weatherd_poll_http_request_duration_seconds",
		Help:    "Duration of one HTTP request to the weather API, body read included.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"provider"})
	m := &httpMetrics{}
	var err error
	if m.remaining, err = register(reg, remaining); err != nil {
		return nil, err
	}
	if m.requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
