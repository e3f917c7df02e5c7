// Package weather holds weatherd's domain types: a location, a reading and the
// reading event that travels on the stream, with no AWS or provider imports.
package weather

import (
	"errors"
	"fmt"
	"time"

	gojson "github.com/goccy/go-json"
)

// Schema is the value of the "schema" field of every reading event weatherd writes.
const Schema = "weatherd.reading/v1"

// UnitsMetric is the only unit system readings are stored in; providers convert.
const UnitsMetric = "metric"

// Location is a place weatherd polls, as configured under locations[].
type Location struct {
	ID       string  `json:"id" mapstructure:"id"`
	Name     string  `json:"name" mapstructure:"name"`
	Lat      float64 `json:"lat" mapstructure:"lat"`
	Lon      float64 `json:"lon" mapstructure:"lon"`
	Timezone string  `json:"timezone,omitempty" mapstructure:"timezone"`
}

// EventLocation is the location as it appears inside a reading event.
type EventLocation struct {
	ID   string  `json:"id"`
	Name string  `json:"name"`
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
}

// Reading is one observation of one location: the reading event on the
// stream (docs/lake.md, "The reading contract").
type Reading struct {
	Schema     string        `json:"schema"`
	EventID    string        `json:"event_id"`
	Location   EventLocation `json:"location"`
	ObservedAt time.Time     `json:"observed_at"`
	IngestedAt time.Time     `json:"ingested_at"`
	Provider   string        `json:"provider"`
	Units      string        `json:"units"`
	Values     Values        `json:"values"`
}

// NewReading builds a reading event for loc observed at observedAt, filling in
// the schema, the deterministic event id and the units.
func NewReading(loc Location, provider string, observedAt, ingestedAt time.Time, values Values) Reading {
	observedAt = observedAt.UTC()
	return Reading{
		Schema:     Schema,
		EventID:    EventID(loc.ID, observedAt),
		Location:   EventLocation{ID: loc.ID, Name: loc.Name, Lat: loc.Lat, Lon: loc.Lon},
		ObservedAt: observedAt,
		IngestedAt: ingestedAt.UTC(),
		Provider:   provider,
		Units:      UnitsMetric,
		Values:     values,
	}
}

// EventID is the deterministic id of the observation of locationID at observedAt:
// the same observation always gets the same id, whichever instance polled it.
func EventID(locationID string, observedAt time.Time) string {
	return locationID + "/" + observedAt.UTC().Format(time.RFC3339)
}

// PartitionKey is the stream partition key of the reading: its location id, so
// one location's readings stay in order on one shard.
func (r Reading) PartitionKey() string { return r.Location.ID }

// ErrInvalid marks a record that is not a usable reading event; errors.Is
// matches every *InvalidError.
var ErrInvalid = errors.New("invalid reading event")

// InvalidError says why bytes are not a usable reading event.
type InvalidError struct {
	// Code is one of the Invalid* codes: a small fixed set, fit for a
	// metric label.
	Code   string
	Reason string
	// Event is the kind of event the record was taken for: "" (a reading)
	// or "forecast".
	Event string
}

func (e *InvalidError) Error() string {
	if e.Event != "" {
		return "invalid " + e.Event + " event: " + e.Reason
	}
	return "invalid reading event: " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Codes of an InvalidError: which part of the reading contract a record
// breaks.
const (
	InvalidMalformed  = "malformed"   // not JSON of the reading shape, or a field with a wrong value
	InvalidTooLarge   = "too_large"   // the record is over MaxEventBytes
	InvalidLocationID = "location_id" // location.id breaks the location id rule
	InvalidName       = "name"        // location.name is over MaxNameBytes
	InvalidValues     = "values"      // more than MaxValues values, or a bad name or number
	InvalidFuture     = "future"      // observed_at too far ahead of the record's arrival
)

// InvalidCodes lists every InvalidError code.
var InvalidCodes = []string{InvalidMalformed, InvalidTooLarge, InvalidLocationID, InvalidName, InvalidValues, InvalidFuture}

// InvalidCode returns the code of err's *InvalidError, or InvalidMalformed
// when it carries none.
func InvalidCode(err error) string {
	var ie *InvalidError
	if errors.As(err, &ie) && ie.Code != "" {
		return ie.Code
	}
	return InvalidMalformed
}

func invalid(format string, args ...any) error {
	return invalidAs(InvalidMalformed, format, args...)
}

func invalidAs(code, format string, args ...any) error {
	return &InvalidError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// The reading contract's bounds. They keep every reading storable: the
// location id is a DynamoDB key (alert state) and a key of the dedupe state
// saved on a lease item (400 KB per item), and every field ends up in
// memory buffers, Parquet rows and notifications.
const (
	// MaxLocationIDBytes is the longest location id.
	MaxLocationIDBytes = 64
	// MaxNameBytes is the longest location name.
	MaxNameBytes = 256
	// MaxValues is the most values one reading may carry (Tomorrow.io's
	// realtime endpoint sends about 20).
	MaxValues = 128
	// MaxEventBytes is the largest reading event accepted from the stream: a
	// reading within the other bounds stays far below it (~1 KB is usual).
	MaxEventBytes = 32 << 10
)

// LocationIDRule says in words what ValidLocationID accepts.
const LocationIDRule = "1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"

// ValidLocationID reports whether id is a location id: the rule both the
// configuration and every reading on the stream follow (see LocationIDRule).
// It is checked without a regexp: it runs for every record.
func ValidLocationID(id string) bool {
	if len(id) == 0 || len(id) > MaxLocationIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// clip shortens s for an error message: a poison field may be megabytes.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:n], len(s))
}

// CheckObservedAt reports, as an *InvalidError, an observation more than
// maxSkew ahead of ref, the time the reading reached the stream (or is
// about to). Such a reading would pass for the newest observation of its
// location until the clock catches up: every later real one would look
// older, hence a duplicate to the poller and stale to the alert engine. A
// zero ref or a maxSkew of 0 or less skips the check.
func CheckObservedAt(observedAt, ref time.Time, maxSkew time.Duration) error {
	if ref.IsZero() || maxSkew <= 0 {
		return nil
	}
	if ahead := observedAt.Sub(ref); ahead > maxSkew {
		return invalidAs(InvalidFuture, "observed_at %s is %s ahead of the arrival time %s (at most %s allowed)",
			observedAt.UTC().Format(time.RFC3339), ahead.Round(time.Second), ref.UTC().Format(time.RFC3339), maxSkew)
	}
	return nil
}

// CheckContract checks a reading about to be put on the stream against the
// whole reading contract, as the consumer will: every field (Validate), the
// encoded size, and observed_at at most maxSkew ahead of now. Providers'
// readings go through it before they are put, so a reading the consumer
// would refuse never leaves the poller.
func (r Reading) CheckContract(now time.Time, maxSkew time.Duration) error {
	if err := r.Validate(); err != nil {
		return err
	}
	// Encoded only when its size bound passes the limit: the poller
	// encodes every reading it puts anyway.
	if err := checkEncodedSize(r.maxEncodedSize(), MaxEventBytes, r.Encode, invalidAs); err != nil {
		return err
	}
	return CheckObservedAt(r.ObservedAt, now, maxSkew)
}

// valueName reports whether s is a camelCase value name:
// ^[a-z][A-Za-z0-9]{0,63}$, checked without a regexp (it runs for every value
// of every record).
func valueName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Decode parses and checks one stream record body. Anything that is not a
// reading event this version of weatherd can use returns an *InvalidError.
// Decoding is the consumer's hottest step: the shape weatherd writes goes
// through a dedicated scanner (decode.go), anything else through
// goccy/go-json, which is several times faster than encoding/json; both give
// the same Reading.
func Decode(data []byte) (Reading, error) {
	var r Reading
	err := DecodeInto(&r, data)
	return r, err
}

// DecodeInto is Decode into *r, which it overwrites (the zero Reading on an
// error): a caller decoding batch after batch into the same slice copies no
// reading.
func DecodeInto(r *Reading, data []byte) error {
	if len(data) > MaxEventBytes {
		*r = Reading{}
		return invalidAs(InvalidTooLarge, "event is %d bytes, want at most %d", len(data), MaxEventBytes)
	}
	if namesOK, ok := decodeFast(data, r); ok {
		err := r.validateFields()
		if err == nil && !namesOK {
			err = r.Validate()
		}
		if err != nil {
			*r = Reading{}
		}
		return err
	}
	return decodeGeneral(r, data)
}

// decodeGeneral is Decode for any input: goccy/go-json, then Validate.
func decodeGeneral(r *Reading, data []byte) error {
	*r = Reading{}
	if err := gojson.Unmarshal(data, r); err != nil {
		*r = Reading{}
		return invalid("not JSON of the reading shape: %v", err)
	}
	if err := r.Validate(); err != nil {
		*r = Reading{}
		return err
	}
	return nil
}

// eventIDMatches reports whether id == EventID(locationID, observedAt)
// without building the expected id.
func eventIDMatches(id, locationID string, observedAt time.Time) bool {
	n := len(locationID)
	if len(id) <= n || id[:n] != locationID || id[n] != '/' {
		return false
	}
	at := id[n+1:]
	if len(at) == len("2006-01-02T15:04:05Z") {
		// Parsing the id's time is cheaper than formatting observed_at: a
		// time of this shape is how RFC 3339 formats its second.
		if t, ok := parseUTC([]byte(at)); ok {
			return t.Unix() == observedAt.Unix()
		}
	}
	var buf [64]byte
	return string(observedAt.UTC().AppendFormat(buf[:0], time.RFC3339)) == at
}

// Validate checks the fields every consumer relies on.
func (r Reading) Validate() error {
	if err := r.validateFields(); err != nil {
		return err
	}
	if err := r.Values.check(); err != nil {
		return invalidAs(InvalidValues, "%v", err)
	}
	return nil
}

// validateFields checks everything Validate does but the values.
func (r *Reading) validateFields() error {
	switch {
	case r.Schema != Schema:
		return invalid("schema is %s, want %q", clip(r.Schema), Schema)
	case r.Location.ID == "":
		return invalid("location.id is empty")
	case !ValidLocationID(r.Location.ID):
		return invalidAs(InvalidLocationID, "location.id %s: want %s", clip(r.Location.ID), LocationIDRule)
	case len(r.Location.Name) > MaxNameBytes:
		return invalidAs(InvalidName, "location.name is %d bytes, want at most %d", len(r.Location.Name), MaxNameBytes)
	case r.Values.Len() > MaxValues:
		return invalidAs(InvalidValues, "%d values, want at most %d", r.Values.Len(), MaxValues)
	case r.ObservedAt.IsZero():
		return invalid("observed_at is missing")
	case !eventIDMatches(r.EventID, r.Location.ID, r.ObservedAt):
		return invalid("event_id %s does not match location.id and observed_at", clip(r.EventID))
	case r.Units != UnitsMetric:
		return invalid("units is %s, want %q", clip(r.Units), UnitsMetric)
	}
	return nil
}
