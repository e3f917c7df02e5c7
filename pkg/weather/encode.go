package weather

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// The events are written by hand rather than through encoding/json: a
// forecast holds up to 240 steps, and encoding/json re-reads (compacts and
// escapes) what each MarshalJSON returns at every level it is nested in,
// which made encoding 100,000 locations' forecasts the poller's largest
// cost. The bytes are encoding/json's, field for field (a test compares
// them).

// millisLayout is ingested_at's layout, and observed_at's when it has a
// fraction of a second.
const millisLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes timestamps in UTC with millisecond precision for
// ingested_at and second precision for observed_at, as the documented event shows.
func (r Reading) MarshalJSON() ([]byte, error) {
	if err := r.Values.checkFinite(); err != nil {
		return nil, err
	}
	b, err := appendHead(make([]byte, 0, 256+r.Values.Len()*24), r.Schema, r.EventID, r.Location,
		"observed_at", r.ObservedAt, r.IngestedAt, r.Provider, r.Units)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"values":`...)
	if b, err = r.Values.appendJSON(b); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// Encode returns the reading as one JSON object, the stream record body.
func (r Reading) Encode() ([]byte, error) { return r.MarshalJSON() }

// The contract checks encode an event only when these bounds of its size
// pass the limit: once Validate has passed (camelCase value names of at
// most 64 bytes, finite numbers), every string counts six bytes a byte (the
// longest JSON escape) and every number and time more than its longest.
const (
	boundNumber = 32  // appendNumber writes at most 25 bytes
	boundStamp  = 40  // a quoted RFC 3339 time in UTC: 26
	boundKeys   = 256 // the keys and punctuation of the head and the values key: ≈ 140
	boundStep   = 32  // {"valid_at":,"values":{}}, : 27
	boundValue  = 2 + 64 + 1 + boundNumber + 1
)

// headBound bounds what appendHead writes, and the values key.
func headBound(schema, eventID string, loc EventLocation, provider, units string) int {
	return boundKeys + 6*(len(schema)+len(eventID)+len(loc.ID)+len(loc.Name)+len(provider)+len(units)) +
		2*boundNumber + 2*boundStamp
}

// checkEncodedSize refuses, through refuse, an event whose encoding passes
// limit; it encodes only when bound does.
func checkEncodedSize(bound, limit int, encode func() ([]byte, error), refuse func(code, format string, args ...any) error) error {
	if bound <= limit {
		return nil
	}
	data, err := encode()
	if err != nil {
		return refuse(InvalidValues, "%v", err)
	}
	if len(data) > limit {
		return refuse(InvalidTooLarge, "event is %d bytes, want at most %d", len(data), limit)
	}
	return nil
}

// maxEncodedSize bounds the bytes Encode writes for a valid r.
func (r *Reading) maxEncodedSize() int {
	return headBound(r.Schema, r.EventID, r.Location, r.Provider, r.Units) + r.Values.Len()*boundValue
}

// maxEncodedSize bounds the bytes Encode writes for a valid f.
func (f *Forecast) maxEncodedSize() int {
	n := headBound(f.Schema, f.EventID, f.Location, f.Provider, f.Units)
	for i := range f.Steps {
		n += boundStep + boundStamp + f.Steps[i].Values.Len()*boundValue
	}
	return n
}

// MarshalJSON writes every timestamp in UTC (issued_at and valid_at with
// second precision when they have no fraction, ingested_at in
// milliseconds), and refuses a value that is not a finite number.
func (f Forecast) MarshalJSON() ([]byte, error) {
	size := 256
	for i := range f.Steps {
		if err := f.Steps[i].Values.checkFinite(); err != nil {
			return nil, fmt.Errorf("steps[%d]: %w", i, err)
		}
		size += 48 + f.Steps[i].Values.Len()*24
	}
	b, err := appendHead(make([]byte, 0, size), f.Schema, f.EventID, f.Location,
		"issued_at", f.IssuedAt, f.IngestedAt, f.Provider, f.Units)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"steps":[`...)
	for i := range f.Steps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"valid_at":`...)
		b = appendObserved(b, f.Steps[i].ValidAt)
		b = append(b, `,"values":`...)
		if b, err = f.Steps[i].Values.appendJSON(b); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// Encode returns the forecast as one JSON object, the stream record body.
func (f Forecast) Encode() ([]byte, error) { return f.MarshalJSON() }

// appendHead appends the fields readings and forecasts share, from the
// opening brace to units: schema, event_id, location, the event's time
// under timeKey (observed_at or issued_at), ingested_at, provider.
func appendHead(b []byte, schema, eventID string, loc EventLocation, timeKey string, at, ingested time.Time, provider, units string) ([]byte, error) {
	b = append(b, `{"schema":`...)
	b = appendString(b, schema)
	b = append(b, `,"event_id":`...)
	b = appendString(b, eventID)
	b = append(b, `,"location":`...)
	b, err := appendLocation(b, loc)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"`...)
	b = append(b, timeKey...)
	b = append(b, `":`...)
	b = appendObserved(b, at)
	b = append(b, `,"ingested_at":"`...)
	b = ingested.UTC().AppendFormat(b, millisLayout)
	b = append(b, `","provider":`...)
	b = appendString(b, provider)
	b = append(b, `,"units":`...)
	return appendString(b, units), nil
}

// appendObserved appends t in UTC as a JSON string: RFC 3339 in seconds,
// or in milliseconds when it has a fraction of a second.
func appendObserved(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = append(b, '"')
	if t.Nanosecond() == 0 {
		b = t.AppendFormat(b, time.RFC3339)
	} else {
		b = t.AppendFormat(b, millisLayout)
	}
	return append(b, '"')
}

func appendLocation(b []byte, l EventLocation) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, l.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, l.Name)
	b = append(b, `,"lat":`...)
	b, err := appendCoordinate(b, "lat", l.Lat)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"lon":`...)
	if b, err = appendCoordinate(b, "lon", l.Lon); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendCoordinate(b []byte, name string, x float64) ([]byte, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("location %s is not a finite number", name)
	}
	return appendNumber(b, name, x)
}

// appendString appends s as a JSON string as encoding/json writes it: a
// string of plain ASCII as it is, anything else (quotes, control and HTML
// characters, non-ASCII text) through encoding/json's escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
