package weather

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReading_EncodeDecodeRoundTrip(t *testing.T) {
	loc := Location{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63}
	v := Values{}
	v.Set("temperature", 24.1)
	v.Set("windGust", 12.3)
	v.SetNull("cloudCeiling")
	observed := time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC)
	ingested := time.Date(2026, 11, 26, 23, 41, 2, 123_000_000, time.UTC)
	r := NewReading(loc, "tomorrowio", observed, ingested, v)

	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":"weatherd.reading/v1","event_id":"sao-paulo/2026-11-26T23:40:00Z",` +
		`"location":{"id":"sao-paulo","name":"São Paulo","lat":-23.55,"lon":-46.63},` +
		`"observed_at":"2026-11-26T23:40:00Z","ingested_at":"2026-11-26T23:41:02.123Z",` +
		`"provider":"tomorrowio","units":"metric","values":{"cloudCeiling":null,"temperature":24.1,"windGust":12.3}}`
	if string(data) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", data, want)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.EventID != r.EventID || !back.ObservedAt.Equal(observed) || !back.IngestedAt.Equal(ingested) {
		t.Errorf("round trip changed the reading: %+v", back)
	}
	if g, ok := back.Values.Get("windGust"); !ok || g != 12.3 {
		t.Errorf("windGust = %v, %v", g, ok)
	}
	if _, ok := back.Values.Get("cloudCeiling"); ok {
		t.Errorf("null cloudCeiling came back as a value")
	}
	if !back.Values.Has("cloudCeiling") {
		t.Errorf("null cloudCeiling not kept as an explicit null")
	}
}

func TestEventID_Deterministic(t *testing.T) {
	at := time.Date(2026, 11, 26, 20, 40, 0, 0, time.FixedZone("BRT", -3*3600))
	if got := EventID("sao-paulo", at); got != "sao-paulo/2026-11-26T23:40:00Z" {
		t.Errorf("EventID = %q", got)
	}
}

func TestDecode_RejectsWithReason(t *testing.T) {
	good := `{"schema":"weatherd.reading/v1","event_id":"a/2026-11-26T23:40:00Z","location":{"id":"a","name":"A","lat":1,"lon":2},"observed_at":"2026-11-26T23:40:00Z","ingested_at":"2026-11-26T23:41:00Z","provider":"p","units":"metric","values":{}}`
	if _, err := Decode([]byte(good)); err != nil {
		t.Fatalf("good record refused: %v", err)
	}
	cases := map[string]struct{ data, reason string }{
		"NotJSON":        {"hello", "not JSON of the reading shape"},
		"Truncated":      {good[:40], "not JSON of the reading shape"},
		"Trailing":       {good + "{}", "after top-level value"},
		"WrongSchema":    {strings.Replace(good, "reading/v1", "reading/v9", 1), `schema is "weatherd.reading/v9"`},
		"NoLocation":     {strings.Replace(good, `"id":"a"`, `"id":""`, 1), "location.id is empty"},
		"NoObservedAt":   {strings.Replace(good, `"observed_at":"2026-11-26T23:40:00Z",`, "", 1), "observed_at is missing"},
		"ForeignID":      {strings.Replace(good, `"event_id":"a/`, `"event_id":"b/`, 1), `event_id "b/2026-11-26T23:40:00Z" does not match`},
		"Imperial":       {strings.Replace(good, `"metric"`, `"imperial"`, 1), `units is "imperial"`},
		"BadValueName":   {strings.Replace(good, `"values":{}`, `"values":{"Wind Gust":1}`, 1), `value name "Wind Gust"`},
		"NonNumberValue": {strings.Replace(good, `"values":{}`, `"values":{"windGust":"strong"}`, 1), "not JSON of the reading shape"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.data))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %q, want it to say %q", err, tc.reason)
			}
		})
	}
}
