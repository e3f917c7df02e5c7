package pipeline

import "github.com/weatherd/weatherd/pkg/weather"

// A forecast record is dispatched by its schema: it is deduplicated,
// spooled through the lake and checkpointed exactly as a reading is, and
// handed to the alert engine's ForecastObserver in stream order.

// forecastAt is a kept forecast and the number of readings of its slice
// kept before it.
type forecastAt struct {
	f        *weather.Forecast
	readings int
}

// forecastDedupeKey is the key a location's forecasts are deduplicated
// under: their issue times are remembered apart from the location's
// observation times (a forecast issued at 12:00 is not the 12:00 reading).
// The "/" keeps it apart from every location id.
func forecastDedupeKey(locationID string) string { return "forecast/" + locationID }

// decodeForecast decodes a forecast record into storage of its own: the
// lake keeps nothing of it after Add, but the alert engine may keep it.
func decodeForecast(data []byte) (*weather.Forecast, error) {
	f, err := weather.DecodeForecast(data)
	if err != nil {
		return nil, err
	}
	return &f, nil
}
