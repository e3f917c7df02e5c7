package weather

import "time"

// Forecast and ForecastStep: the forecast event's shape as agreed with the
// forecast-fetching branch, until it is merged (its pkg/weather/forecast.go
// replaces this file).
type Forecast struct {
	Schema     string         `json:"schema"`
	EventID    string         `json:"event_id"`
	Location   EventLocation  `json:"location"`
	IssuedAt   time.Time      `json:"issued_at"`
	IngestedAt time.Time      `json:"ingested_at"`
	Provider   string         `json:"provider"`
	Units      string         `json:"units"`
	Steps      []ForecastStep `json:"steps"`
}

// ForecastStep is the forecast for one time.
type ForecastStep struct {
	ValidAt time.Time `json:"valid_at"`
	Values  Values    `json:"values"`
}
