package weather

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testForecast(steps int) Forecast {
	issued := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var ss []ForecastStep
	for i := range steps {
		v := Values{}
		v.Set("temperature", 10-float64(i))
		v.SetNull("windGust")
		ss = append(ss, ForecastStep{ValidAt: issued.Add(time.Duration(i) * time.Hour), Values: v})
	}
	return NewForecast(Location{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63}, "tomorrowio", issued, issued.Add(1500*time.Millisecond), ss)
}

func TestForecast_EncodeDecode(t *testing.T) {
	f := testForecast(3)
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":"weatherd.forecast/v1","event_id":"sao-paulo/forecast/2026-11-27T09:00:00Z",` +
		`"location":{"id":"sao-paulo","name":"São Paulo","lat":-23.55,"lon":-46.63},` +
		`"issued_at":"2026-11-27T09:00:00Z","ingested_at":"2026-11-27T09:00:01.500Z","provider":"tomorrowio","units":"metric",` +
		`"steps":[{"valid_at":"2026-11-27T09:00:00Z","values":{"temperature":10,"windGust":null}},` +
		`{"valid_at":"2026-11-27T10:00:00Z","values":{"temperature":9,"windGust":null}},` +
		`{"valid_at":"2026-11-27T11:00:00Z","values":{"temperature":8,"windGust":null}}]}`
	if string(data) != want {
		t.Fatalf("encoded\n got %s\nwant %s", data, want)
	}
	if !IsForecast(data) {
		t.Fatal("IsForecast = false for a forecast")
	}
	got, err := DecodeForecast(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID != f.EventID || !got.IssuedAt.Equal(f.IssuedAt) || len(got.Steps) != 3 || got.Location != f.Location {
		t.Fatalf("decoded %+v", got)
	}
	if v, ok := got.Steps[2].Values.Get("temperature"); !ok || v != 8 {
		t.Errorf("steps[2].temperature = %v, %v, want 8", v, ok)
	}
	if !got.Steps[0].Values.Has("windGust") {
		t.Error("explicit null windGust lost")
	}
	if got.Lead(got.Steps[2]) != 2*time.Hour {
		t.Errorf("lead of steps[2] = %s, want 2h", got.Lead(got.Steps[2]))
	}
	// A reading is not a forecast, and a forecast is not a reading.
	r, _ := NewReading(Location{ID: "x"}, "p", f.IssuedAt, f.IssuedAt, Values{}).Encode()
	if IsForecast(r) {
		t.Error("IsForecast = true for a reading")
	}
	if _, err := Decode(data); err == nil || !strings.Contains(err.Error(), `want "weatherd.reading/v1"`) {
		t.Errorf("Decode(forecast) = %v, want a schema error", err)
	}
}

func TestNewForecast_DropsPastStepsAndSorts(t *testing.T) {
	issued := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	at := func(h int) ForecastStep {
		return ForecastStep{ValidAt: time.Date(2026, 11, 27, h, 0, 0, 0, time.FixedZone("X", 3600))}
	}
	f := NewForecast(Location{ID: "x"}, "p", issued, issued, []ForecastStep{at(13), at(10), at(12), at(11)})
	var got []string
	for _, s := range f.Steps {
		got = append(got, s.ValidAt.Format(time.RFC3339))
	}
	// 10:00+01:00 is 09:00Z, before issued_at: dropped.
	want := "2026-11-27T10:00:00Z 2026-11-27T11:00:00Z 2026-11-27T12:00:00Z"
	if strings.Join(got, " ") != want {
		t.Errorf("steps %v, want %s", got, want)
	}
	if err := f.Validate(); err != nil {
		t.Error(err)
	}
}

func TestForecast_Validate(t *testing.T) {
	mod := func(f func(*Forecast)) Forecast {
		fc := testForecast(3)
		f(&fc)
		return fc
	}
	cases := map[string]struct {
		f        Forecast
		code     string
		contains string
	}{
		"Schema":      {mod(func(f *Forecast) { f.Schema = Schema }), InvalidMalformed, `schema is "weatherd.reading/v1", want "weatherd.forecast/v1"`},
		"LocationID":  {mod(func(f *Forecast) { f.Location.ID = "Sao" }), InvalidLocationID, `location.id "Sao"`},
		"Name":        {mod(func(f *Forecast) { f.Location.Name = strings.Repeat("n", MaxNameBytes+1) }), InvalidName, "257 bytes"},
		"EventID":     {mod(func(f *Forecast) { f.EventID = "sao-paulo/2026-11-27T09:00:00Z" }), InvalidMalformed, "does not match location.id and issued_at"},
		"NoIssued":    {mod(func(f *Forecast) { f.IssuedAt = time.Time{} }), InvalidMalformed, "issued_at is missing"},
		"Units":       {mod(func(f *Forecast) { f.Units = "imperial" }), InvalidMalformed, `units is "imperial"`},
		"NoSteps":     {mod(func(f *Forecast) { f.Steps = nil }), InvalidMalformed, "no steps"},
		"TooMany":     {mod(func(f *Forecast) { f.Steps = make([]ForecastStep, MaxForecastSteps+1) }), InvalidTooLarge, "385 steps, want at most 384"},
		"BeforeIssue": {mod(func(f *Forecast) { f.Steps[0].ValidAt = f.IssuedAt.Add(-time.Hour) }), InvalidMalformed, "steps[0].valid_at 2026-11-27T08:00:00Z is before issued_at 2026-11-27T09:00:00Z"},
		"TooFar":      {mod(func(f *Forecast) { f.Steps[2].ValidAt = f.IssuedAt.Add(MaxForecastHorizon + time.Hour) }), InvalidMalformed, "steps[2].valid_at 2026-12-13T10:00:00Z is 385h0m0s after issued_at"},
		"Order":       {mod(func(f *Forecast) { f.Steps[2].ValidAt = f.Steps[1].ValidAt }), InvalidMalformed, "steps[2].valid_at 2026-11-27T10:00:00Z is not after steps[1].valid_at"},
		"ValueName":   {mod(func(f *Forecast) { f.Steps[1].Values.Set("Wind gust", 1) }), InvalidValues, `steps[1]: value name "Wind gust"`},
		"TooManyValues": {mod(func(f *Forecast) {
			for i := range MaxValues {
				f.Steps[0].Values.Set(fmt.Sprintf("v%d", i), 1)
			}
		}), InvalidValues, "steps[0]: 130 values, want at most 128"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.f.Validate()
			if !errors.Is(err, ErrInvalid) || InvalidCode(err) != tc.code || !strings.Contains(err.Error(), tc.contains) ||
				!strings.HasPrefix(err.Error(), "invalid forecast event: ") {
				t.Errorf("Validate() = %v (code %s), want code %s containing %q", err, InvalidCode(err), tc.code, tc.contains)
			}
		})
	}
}

func TestDecodeForecast_Bounds(t *testing.T) {
	if _, err := DecodeForecast([]byte(strings.Repeat(" ", MaxForecastBytes+1))); InvalidCode(err) != InvalidTooLarge {
		t.Errorf("oversize: %v", err)
	}
	if _, err := DecodeForecast([]byte(`{"schema":"weatherd.forecast/v1","steps":{}}`)); err == nil ||
		!strings.Contains(err.Error(), "invalid forecast event: not JSON of the forecast shape") {
		t.Errorf("steps object: %v", err)
	}
	f := testForecast(2)
	now := f.IssuedAt.Add(-2 * time.Hour)
	if err := f.CheckContract(now, time.Hour); InvalidCode(err) != InvalidFuture || !strings.Contains(err.Error(), "issued_at 2026-11-27T09:00:00Z is 2h0m0s ahead") {
		t.Errorf("CheckContract(future) = %v", err)
	}
	if err := f.CheckContract(f.IssuedAt, time.Hour); err != nil {
		t.Errorf("CheckContract = %v", err)
	}
}

// CheckContract encodes a forecast only when its size bound passes
// MaxForecastBytes: the bound is never below the encoded size, and a
// forecast over the limit is still refused with its size.
func TestForecast_CheckContractSize(t *testing.T) {
	long := func(i int) string { return fmt.Sprintf("v%063d", i) } // the longest camelCase name
	big := testForecast(MaxForecastSteps)
	for i := range big.Steps {
		var v Values
		for j := range MaxValues {
			v.Set(long(j), -1.2345678901234567e-300)
		}
		big.Steps[i].Values = v
	}
	odd := testForecast(5)
	odd.Location.Name = "\x01\x02<>&\u2028" + strings.Repeat("\x1f", 200) // escaped at up to six bytes a byte
	odd.Steps[1].ValidAt = odd.Steps[1].ValidAt.Add(123 * time.Millisecond)
	odd.Steps[2].Values.Set("precipitationProbability", -0.0000012345678901234567)
	odd.Steps[3].Values.Set("pressureSurfaceLevel", -999999999999999900000)
	for name, f := range map[string]Forecast{"bench": benchForecast(), "odd": odd, "big": big, "one": testForecast(1)} {
		data, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if bound := f.maxEncodedSize(); bound < len(data) {
			t.Errorf("%s: bound %d below the encoded size %d", name, bound, len(data))
		}
	}
	if b := benchForecast(); b.maxEncodedSize() > MaxForecastBytes {
		t.Errorf("a 96-step forecast's bound %d passes %d: CheckContract would encode every forecast", b.maxEncodedSize(), MaxForecastBytes)
	}
	data, _ := big.Encode()
	err := big.CheckContract(big.IssuedAt, time.Hour)
	if want := fmt.Sprintf("event is %d bytes, want at most %d", len(data), MaxForecastBytes); InvalidCode(err) != InvalidTooLarge || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckContract(%d bytes) = %v, want %s", len(data), err, want)
	}
}
