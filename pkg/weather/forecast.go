package weather

import (
	"bytes"
	"fmt"
	"time"

	gojson "github.com/goccy/go-json"
)

// ForecastSchema is the value of the "schema" field of every forecast event
// weatherd writes. Forecasts travel on the readings' stream; the consumer
// tells them apart by this field.
const ForecastSchema = "weatherd.forecast/v1"

// The forecast contract's bounds, beside the reading's (location id, name,
// values per step): a forecast is one record, so it must stay well under
// Kinesis's 1 MiB per record, and every step ends up in a Parquet row.
const (
	// MaxForecastSteps is the most steps one forecast may carry: 16 days
	// of hourly steps, Open-Meteo's longest forecast.
	MaxForecastSteps = 384
	// MaxForecastHorizon is how far after issued_at a step may be valid.
	MaxForecastHorizon = MaxForecastSteps * time.Hour
	// MaxForecastBytes is the largest forecast event accepted from the
	// stream: 384 steps of ~25 values take about 300 KB.
	MaxForecastBytes = 512 << 10
)

// Forecast is what a provider predicts for one location at one issue time:
// the forecast event weatherd puts on the stream. Its steps are in valid_at order, none
// before issued_at.
type Forecast struct {
	Schema   string        `json:"schema"`
	EventID  string        `json:"event_id"`
	Location EventLocation `json:"location"`
	// IssuedAt is when the forecast was asked for: the poller's schedule
	// time, so every replica that fetches it gives it the same event id.
	IssuedAt   time.Time      `json:"issued_at"`
	IngestedAt time.Time      `json:"ingested_at"`
	Provider   string         `json:"provider"`
	Units      string         `json:"units"`
	Steps      []ForecastStep `json:"steps"`
}

// ForecastStep is the forecast for one time: values with the reading's names
// and units.
type ForecastStep struct {
	ValidAt time.Time `json:"valid_at"`
	Values  Values    `json:"values"`
}

// Lead is how long after the forecast's issue time step s is valid.
func (f Forecast) Lead(s ForecastStep) time.Duration { return s.ValidAt.Sub(f.IssuedAt) }

// NewForecast builds a forecast event for loc issued at issuedAt, filling in
// the schema, the deterministic event id and the units. Steps before
// issuedAt are dropped (what is happening now is the realtime path's), the
// rest are sorted by valid_at, and their times made UTC.
func NewForecast(loc Location, provider string, issuedAt, ingestedAt time.Time, steps []ForecastStep) Forecast {
	issuedAt = issuedAt.UTC()
	kept := make([]ForecastStep, 0, len(steps))
	for _, s := range steps {
		if s.ValidAt.Before(issuedAt) {
			continue
		}
		s.ValidAt = s.ValidAt.UTC()
		kept = append(kept, s)
	}
	sortSteps(kept)
	return Forecast{
		Schema:     ForecastSchema,
		EventID:    ForecastEventID(loc.ID, issuedAt),
		Location:   EventLocation{ID: loc.ID, Name: loc.Name, Lat: loc.Lat, Lon: loc.Lon},
		IssuedAt:   issuedAt,
		IngestedAt: ingestedAt.UTC(),
		Provider:   provider,
		Units:      UnitsMetric,
		Steps:      kept,
	}
}

func sortSteps(s []ForecastStep) {
	// Insertion sort: providers send steps in order, so this is one pass.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].ValidAt.Before(s[j-1].ValidAt); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// ForecastEventID is the deterministic id of the forecast of locationID
// issued at issuedAt. It differs from every reading's event id (which has
// no "/forecast/"), so the two never collide in dedupe or in the lake.
func ForecastEventID(locationID string, issuedAt time.Time) string {
	return locationID + "/forecast/" + issuedAt.UTC().Format(time.RFC3339)
}

// PartitionKey is the stream partition key of the forecast: its location
// id, as for readings, so a location's forecasts and readings share a shard
// and stay in order.
func (f Forecast) PartitionKey() string { return f.Location.ID }

// forecastPrefix is how every forecast weatherd encodes begins.
const forecastPrefix = `{"schema":"` + ForecastSchema + `"`

// LooksLikeForecast reports whether data begins as weatherd writes a
// forecast event: a test of a few bytes that lets the consumer decode a
// forecast as one without first trying it as a reading. A forecast in
// another field order still is one (IsForecast).
func LooksLikeForecast(data []byte) bool {
	return bytes.HasPrefix(data, []byte(forecastPrefix))
}

// IsForecast reports whether data is an event with the forecast schema,
// whatever else it holds: the consumer's dispatch, asked only of records
// that are not readings. Anything that is not a JSON object with that
// schema is not a forecast (and stays an invalid reading).
func IsForecast(data []byte) bool {
	if len(data) > MaxForecastBytes {
		return false
	}
	var probe struct {
		Schema string `json:"schema"`
	}
	return gojson.Unmarshal(data, &probe) == nil && probe.Schema == ForecastSchema
}

// DecodeForecast parses and checks one forecast event. Anything that is not
// a forecast event this version of weatherd can use returns an
// *InvalidError.
func DecodeForecast(data []byte) (Forecast, error) {
	if len(data) > MaxForecastBytes {
		return Forecast{}, forecastInvalid(InvalidTooLarge, "event is %d bytes, want at most %d", len(data), MaxForecastBytes)
	}
	var f Forecast
	if err := gojson.Unmarshal(data, &f); err != nil {
		return Forecast{}, forecastInvalid(InvalidMalformed, "not JSON of the forecast shape: %v", err)
	}
	if err := f.Validate(); err != nil {
		return Forecast{}, err
	}
	return f, nil
}

// Validate checks every field a consumer relies on: the location as in a
// reading, the event id, the steps (1 to MaxForecastSteps, valid_at
// strictly increasing, none before issued_at or past MaxForecastHorizon
// after it) and each step's values as a reading's.
func (f Forecast) Validate() error {
	switch {
	case f.Schema != ForecastSchema:
		return forecastInvalid(InvalidMalformed, "schema is %s, want %q", clip(f.Schema), ForecastSchema)
	case f.Location.ID == "":
		return forecastInvalid(InvalidMalformed, "location.id is empty")
	case !ValidLocationID(f.Location.ID):
		return forecastInvalid(InvalidLocationID, "location.id %s: want %s", clip(f.Location.ID), LocationIDRule)
	case len(f.Location.Name) > MaxNameBytes:
		return forecastInvalid(InvalidName, "location.name is %d bytes, want at most %d", len(f.Location.Name), MaxNameBytes)
	case f.IssuedAt.IsZero():
		return forecastInvalid(InvalidMalformed, "issued_at is missing")
	case f.EventID != ForecastEventID(f.Location.ID, f.IssuedAt):
		return forecastInvalid(InvalidMalformed, "event_id %s does not match location.id and issued_at", clip(f.EventID))
	case f.Units != UnitsMetric:
		return forecastInvalid(InvalidMalformed, "units is %s, want %q", clip(f.Units), UnitsMetric)
	case len(f.Steps) == 0:
		return forecastInvalid(InvalidMalformed, "no steps")
	case len(f.Steps) > MaxForecastSteps:
		return forecastInvalid(InvalidTooLarge, "%d steps, want at most %d", len(f.Steps), MaxForecastSteps)
	}
	for i, s := range f.Steps {
		switch {
		case s.ValidAt.IsZero():
			return forecastInvalid(InvalidMalformed, "steps[%d].valid_at is missing", i)
		case s.ValidAt.Before(f.IssuedAt):
			return forecastInvalid(InvalidMalformed, "steps[%d].valid_at %s is before issued_at %s", i,
				s.ValidAt.UTC().Format(time.RFC3339), f.IssuedAt.UTC().Format(time.RFC3339))
		case f.Lead(s) > MaxForecastHorizon:
			return forecastInvalid(InvalidMalformed, "steps[%d].valid_at %s is %s after issued_at, want at most %s", i,
				s.ValidAt.UTC().Format(time.RFC3339), f.Lead(s), MaxForecastHorizon)
		case i > 0 && !s.ValidAt.After(f.Steps[i-1].ValidAt):
			return forecastInvalid(InvalidMalformed, "steps[%d].valid_at %s is not after steps[%d].valid_at", i,
				s.ValidAt.UTC().Format(time.RFC3339), i-1)
		case s.Values.Len() > MaxValues:
			return forecastInvalid(InvalidValues, "steps[%d]: %d values, want at most %d", i, s.Values.Len(), MaxValues)
		}
		if err := f.Steps[i].Values.check(); err != nil {
			return forecastInvalid(InvalidValues, "steps[%d]: %v", i, err)
		}
	}
	return nil
}

// CheckContract checks a forecast about to be put on the stream against the
// whole forecast contract, as the consumer will: every field (Validate),
// the encoded size, and issued_at at most maxSkew ahead of now.
func (f Forecast) CheckContract(now time.Time, maxSkew time.Duration) error {
	if err := f.Validate(); err != nil {
		return err
	}
	// Encoded only when its size bound passes the limit: the poller
	// encodes every forecast it puts anyway.
	if err := checkEncodedSize(f.maxEncodedSize(), MaxForecastBytes, f.Encode, forecastInvalid); err != nil {
		return err
	}
	return CheckIssuedAt(f.IssuedAt, now, maxSkew)
}

// CheckIssuedAt is CheckObservedAt for a forecast's issue time: a forecast
// issued in the future would pass for the newest of its location.
func CheckIssuedAt(issuedAt, ref time.Time, maxSkew time.Duration) error {
	err := CheckObservedAt(issuedAt, ref, maxSkew)
	if err == nil {
		return nil
	}
	return forecastInvalid(InvalidFuture, "issued_at %s is %s ahead of the arrival time %s (at most %s allowed)",
		issuedAt.UTC().Format(time.RFC3339), issuedAt.Sub(ref).Round(time.Second), ref.UTC().Format(time.RFC3339), maxSkew)
}

func forecastInvalid(code, format string, args ...any) error {
	return &InvalidError{Code: code, Reason: fmt.Sprintf(format, args...), Event: "forecast"}
}
