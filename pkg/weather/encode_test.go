package weather

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// referenceTime is observed_at, issued_at and valid_at as encoding/json
// wrote them through a string field.
func referenceTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// referenceForecastJSON is how weatherd encoded a forecast through
// encoding/json: the reference the hand-written encoder must match byte for
// byte.
func referenceForecastJSON(f Forecast) ([]byte, error) {
	type wireStep struct {
		ValidAt string `json:"valid_at"`
		Values  Values `json:"values"`
	}
	type wire struct {
		Schema     string        `json:"schema"`
		EventID    string        `json:"event_id"`
		Location   EventLocation `json:"location"`
		IssuedAt   string        `json:"issued_at"`
		IngestedAt string        `json:"ingested_at"`
		Provider   string        `json:"provider"`
		Units      string        `json:"units"`
		Steps      []wireStep    `json:"steps"`
	}
	steps := make([]wireStep, len(f.Steps))
	for i, s := range f.Steps {
		steps[i] = wireStep{ValidAt: referenceTime(s.ValidAt), Values: s.Values}
	}
	return json.Marshal(wire{
		Schema: f.Schema, EventID: f.EventID, Location: f.Location,
		IssuedAt: referenceTime(f.IssuedAt), IngestedAt: f.IngestedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Provider: f.Provider, Units: f.Units, Steps: steps,
	})
}

// encodeCorpus gives strings and times of every shape the encoder must
// write as encoding/json does: plain ASCII, quotes and backslashes,
// control and HTML characters, non-ASCII text, invalid UTF-8, U+2028;
// whole seconds and fractions, other time zones.
type encodeCorpus struct{ rng *rand.Rand }

func (c encodeCorpus) str() string {
	all := []string{"", "sao-paulo", "São Paulo", "Zürich", `say "hi"`, `back\slash`, "tab\there", "nl\n", "bell\x07",
		"<b>&amp;</b>", "line\u2028sep", "bad\xffutf8", "東京", "tomorrowio", "metric", "a/2026-11-26T23:40:00Z"}
	return all[c.rng.IntN(len(all))]
}

func (c encodeCorpus) time() time.Time {
	t := time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC).Add(time.Duration(c.rng.IntN(1e6)) * time.Second)
	switch c.rng.IntN(4) {
	case 0:
		t = t.Add(time.Duration(c.rng.IntN(1e9)))
	case 1:
		t = t.In(time.FixedZone("X", -3*3600))
	}
	return t
}

func (c encodeCorpus) location() EventLocation {
	return EventLocation{ID: c.str(), Name: c.str(), Lat: (c.rng.Float64() - 0.5) * 180, Lon: float64(c.rng.IntN(360) - 180)}
}

func TestEncode_ReadingsMatchEncodingJSON(t *testing.T) {
	c := encodeCorpus{rand.New(rand.NewPCG(3, 12))}
	values := valuesCorpus(500)
	for i := range 2000 {
		r := Reading{Schema: c.str(), EventID: c.str(), Location: c.location(), ObservedAt: c.time(), IngestedAt: c.time(),
			Provider: c.str(), Units: c.str(), Values: ValuesOf(values[i%len(values)])}
		got, err := r.Encode()
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		want, err := oldReadingJSON(r, values[i%len(values)])
		if err != nil {
			t.Fatal(err)
		}
		if values[i%len(values)] == nil {
			want, _ = oldReadingJSON(r, map[string]*float64{})
		}
		if string(got) != string(want) {
			t.Fatalf("%d: encoded\n%s\nencoding/json\n%s", i, got, want)
		}
	}
}

func TestEncode_ForecastsMatchEncodingJSON(t *testing.T) {
	c := encodeCorpus{rand.New(rand.NewPCG(5, 8))}
	values := valuesCorpus(500)
	for i := range 300 {
		f := Forecast{Schema: c.str(), EventID: c.str(), Location: c.location(), IssuedAt: c.time(), IngestedAt: c.time(),
			Provider: c.str(), Units: c.str()}
		for j := range c.rng.IntN(30) {
			f.Steps = append(f.Steps, ForecastStep{ValidAt: c.time(), Values: ValuesOf(values[(i*31+j)%len(values)])})
		}
		got, err := f.Encode()
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		want, err := referenceForecastJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%d: encoded\n%s\nencoding/json\n%s", i, got, want)
		}
	}
}

func TestEncode_RefusesNonFiniteCoordinatesAndStepValues(t *testing.T) {
	at := time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC)
	for _, x := range []float64{math.NaN(), math.Inf(1)} {
		r := NewReading(Location{ID: "a", Lat: x}, "p", at, at, Values{})
		if _, err := r.Encode(); err == nil || err.Error() != "location lat is not a finite number" {
			t.Errorf("lat %v: Encode err = %v", x, err)
		}
		var v Values
		v.Set("temperature", x)
		f := Forecast{Location: EventLocation{ID: "a"}, Steps: []ForecastStep{{ValidAt: at}, {ValidAt: at, Values: v}}}
		if _, err := f.Encode(); err == nil || err.Error() != fmt.Sprintf("steps[1]: value %q is not a finite number", "temperature") {
			t.Errorf("step value %v: Encode err = %v", x, err)
		}
		f.Steps[1].Values = Values{}
		f.Location.Lon = x
		if _, err := f.Encode(); err == nil || err.Error() != "location lon is not a finite number" {
			t.Errorf("lon %v: Encode err = %v", x, err)
		}
	}
}

// TestLooksLikeForecast: weatherd's own forecasts are recognised from
// their first bytes; a reading is not, and a forecast in another field
// order is left to IsForecast.
func TestLooksLikeForecast(t *testing.T) {
	at := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	f := Forecast{Schema: ForecastSchema, EventID: ForecastEventID("a", at), Location: EventLocation{ID: "a"}, IssuedAt: at, IngestedAt: at,
		Provider: "p", Units: UnitsMetric, Steps: []ForecastStep{{ValidAt: at.Add(time.Hour)}}}
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	reading, err := NewReading(Location{ID: "a"}, "p", at, at, Values{}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	reordered := `{"event_id":"a/forecast/2026-11-26T23:00:00Z","schema":"weatherd.forecast/v1"}`
	for _, c := range []struct {
		data      string
		looks, is bool
	}{{string(data), true, true}, {string(reading), false, false}, {reordered, false, true}, {`{"schema":"weatherd.forecast/v10"}`, false, false}} {
		if got := LooksLikeForecast([]byte(c.data)); got != c.looks {
			t.Errorf("LooksLikeForecast(%.60s) = %v, want %v", c.data, got, c.looks)
		}
		if got := IsForecast([]byte(c.data)); got != c.is {
			t.Errorf("IsForecast(%.60s) = %v, want %v", c.data, got, c.is)
		}
	}
}
