package daemon

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/openmeteo"
	"github.com/weatherd/weatherd/pkg/provider/simulated"
	"github.com/weatherd/weatherd/pkg/provider/tomorrowio"
)

// newProvider builds the weather provider poller.provider names, its
// readings checked by weather.Reading.CheckContract as the consumer checks them, and its
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
