package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/poller"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/openmeteo"
	"github.com/weatherd/weatherd/pkg/provider/simulated"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
	"github.com/weatherd/weatherd/pkg/stream"
)

// newProvider builds the weather provider poller.provider names, its
// readings checked against the contract the consumer applies, and its
// forecaster (the same client, so one rate-limit budget), forecasts
// checked likewise; the forecaster is nil when the provider does not
// forecast.
func newProvider(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (provider.Provider, provider.Forecaster, error) {
	prov, err := newSource(cfg, reg, log)
	if err != nil {
		return nil, nil, err
	}
	var fc provider.Forecaster
	if f, ok := prov.(provider.Forecaster); ok {
		fc = provider.CheckedForecaster(f, cfg.Consumer.MaxClockSkew, time.Now)
	}
	return provider.Checked(prov, cfg.Consumer.MaxClockSkew, time.Now), fc, nil
}

func newSource(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (provider.Provider, error) {
	p := cfg.Poller
	switch p.Provider {
	case simulated.Name:
		return simulated.New(p.Simulated, time.Now(), cfg.Locations, time.Now)
	case tomorrowio.Name:
		return tomorrowio.New(p.TomorrowIO, p.Timeout, reg, log)
	case openmeteo.Name:
		return openmeteo.New(p.OpenMeteo, p.Timeout, reg, log)
	}
	return nil, fmt.Errorf("unknown provider %q", p.Provider)
}

// withForecasts returns run and, with poller.forecast.enabled, the forecast
// poller running beside it (both stop when either fails or ctx ends).
func withForecasts(dp deps, run func(context.Context) error, fc provider.Forecaster, out stream.Producer, m *poller.Metrics) (func(context.Context) error, error) {
	cfg := dp.cfg
	if !cfg.Poller.Forecast.Enabled {
		return run, nil
	}
	if fc == nil {
		dp.log.Warn("poller.forecast.enabled is true but the provider does not forecast; no forecasts fetched", "provider", cfg.Poller.Provider)
		return run, nil
	}
	fp, err := poller.NewForecast(cfg.Poller.Config, cfg.Locations, fc, out, m, dp.log)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return run(ctx) })
		g.Go(func() error { return fp.Run(ctx) })
		return g.Wait()
	}, nil
}
