package alert_test

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/provider/simulated"
	"github.com/weatherd/weatherd/pkg/weather"
)

// TestDefaultConfig_SimulatedWeather runs the embedded default's alerts on
// five minutes of the simulated provider's weather, polled every 5 seconds:
// both default rules fire and resolve, and each is logged.
func TestDefaultConfig_SimulatedWeather(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	sim, err := simulated.New(cfg.Poller.Simulated, epoch, cfg.Locations, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	reg := prometheus.NewRegistry()
	e, err := alert.New(cfg.Alerts, cfg.Locations, alert.Deps{Now: func() time.Time { return epoch }}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	for at := epoch; at.Before(epoch.Add(5 * time.Minute)); at = at.Add(5 * time.Second) {
		var batch []weather.Reading
		for _, l := range cfg.Locations {
			batch = append(batch, weather.NewReading(l, simulated.Name, at, at, sim.Values(l, at)))
		}
		if err := e.Observe(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		e.Tick(context.Background())
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "weatherd_alert_transitions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var rule, st string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "rule":
					rule = lp.GetValue()
				case "state":
					st = lp.GetValue()
				}
			}
			counts[rule+"/"+st] = m.GetCounter().GetValue()
		}
	}
	for _, k := range []string{"strong-wind/firing", "strong-wind/resolved", "heavy-rain/firing", "heavy-rain/resolved"} {
		if counts[k] < 1 {
			t.Errorf("%s = %v in the first 5 minutes, want >= 1 (all: %v)", k, counts[k], counts)
		}
	}
	for _, want := range []string{"msg=\"alert notification\" component=alerts channel=log id=sao-paulo/strong-wind/1/log state=firing", "state=firing rule=strong-wind", "state=resolved rule=heavy-rain"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	t.Logf("transitions in 5 simulated minutes: %v", counts)
}

// TestDefaultRules_MatchConfig keeps the benchmark's copy of the default
// rules equal to config.yaml's.
func TestDefaultRules_MatchConfig(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := alert.DefaultRules(), cfg.Alerts.Rules; !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultRules() = %+v\nconfig.yaml alerts.rules = %+v", got, want)
	}
}
