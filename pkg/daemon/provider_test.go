package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/weather"
)

// TestNewProvider_ChecksTheReadingContract: the provider the daemon builds
// refuses an observation dated two days ahead (here an Open-Meteo answer),
// as a bad response, before the poller can put it or remember its time.
func TestNewProvider_ChecksTheReadingContract(t *testing.T) {
	future := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"latitude":43.65,"longitude":-79.38,"utc_offset_seconds":0,"timezone":"GMT",`+
			`"current_units":{"time":"iso8601","interval":"seconds","temperature_2m":"°C","wind_gusts_10m":"m/s"},`+
			`"current":{"time":%q,"interval":900,"temperature_2m":1.6,"wind_gusts_10m":4.2}}`, future)
	}))
	defer srv.Close()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Poller.Provider = "openmeteo"
	cfg.Poller.OpenMeteo.BaseURL = srv.URL
	prov, _, err := newProvider(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, err = prov.Fetch(context.Background(), weather.Location{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38})
	if !errors.Is(err, provider.ErrBadResponse) || weather.InvalidCode(err) != weather.InvalidFuture || !strings.Contains(err.Error(), "(at most 1h0m0s allowed)") {
		t.Errorf("Fetch of a reading two days ahead: err = %v, want a bad response for a future observation", err)
	}
}
