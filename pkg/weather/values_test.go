package weather

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptr(x float64) *float64 { return &x }

func TestValues_GetSetNull(t *testing.T) {
	var v Values
	v.Set("windGust", 12.3)
	v.SetNull("cloudCeiling")
	v.Set("someNewValue", -0.5)
	v.SetNull("otherNewValue")
	v.Set("temperature", 1)
	v.Set("temperature", 24.1) // the last one wins

	for _, c := range []struct {
		name     string
		want     float64
		ok, has  bool
		slot     int // -1: not a known name
		slotWant bool
	}{
		{"windGust", 12.3, true, true, 5, true},
		{"temperature", 24.1, true, true, 0, true},
		{"cloudCeiling", 0, false, true, 24, false},
		{"someNewValue", -0.5, true, true, -1, false},
		{"otherNewValue", 0, false, true, -1, false},
		{"humidity", 0, false, false, 3, false},
		{"absentNewValue", 0, false, false, -1, false},
	} {
		got, ok := v.Get(c.name)
		if got != c.want || ok != c.ok || v.Has(c.name) != c.has {
			t.Errorf("%s: Get = %v, %v; Has = %v; want %v, %v, %v", c.name, got, ok, v.Has(c.name), c.want, c.ok, c.has)
		}
		if c.slot >= 0 {
			if i, _ := KnownIndex(c.name); i != c.slot {
				t.Errorf("%s: slot %d, want %d", c.name, i, c.slot)
			}
			if x, ok := v.At(c.slot); x != c.want || ok != c.slotWant {
				t.Errorf("%s: At(%d) = %v, %v", c.name, c.slot, x, ok)
			}
		}
	}
	if v.Len() != 5 {
		t.Errorf("Len = %d, want 5", v.Len())
	}
	set, known := v.Numbers()
	if set != 1<<0|1<<5 || known[0] != 24.1 || known[5] != 12.3 {
		t.Errorf("Numbers = %b, %v", set, known[:6])
	}
	want := map[string]*float64{"windGust": ptr(12.3), "cloudCeiling": nil, "someNewValue": ptr(-0.5), "otherNewValue": nil, "temperature": ptr(24.1)}
	if got := v.Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("Map = %v, want %v", got, want)
	}
	var names []string
	for name := range v.All() {
		names = append(names, name)
	}
	if want := []string{"temperature", "windGust", "cloudCeiling", "otherNewValue", "someNewValue"}; !reflect.DeepEqual(names, want) {
		t.Errorf("All yields %q, want %q (slot order, then the other names in byte order)", names, want)
	}
	// A null replaces a number and a number a null.
	v.SetNull("windGust")
	v.Set("cloudCeiling", 3)
	if _, ok := v.Get("windGust"); ok || !v.Has("windGust") {
		t.Error("windGust still a number after SetNull")
	}
	if x, ok := v.Get("cloudCeiling"); !ok || x != 3 {
		t.Errorf("cloudCeiling = %v, %v after Set", x, ok)
	}
}

func TestValues_CopiesKeepTheirKnownValues(t *testing.T) {
	var a Values
	a.Set("temperature", 1)
	b := a
	b.Set("temperature", 2)
	b.SetNull("windGust")
	if x, _ := a.Get("temperature"); x != 1 || a.Has("windGust") || a.Len() != 1 {
		t.Errorf("a = %v after setting the copy's values", a.Map())
	}
	if x, _ := b.Get("temperature"); x != 2 || !b.Has("windGust") || b.Len() != 2 {
		t.Errorf("b = %v", b.Map())
	}
}

// TestValues_ManyUnknownNames: a reading of thousands of unknown names
// (a poison record) is built and encoded in linear time.
func TestValues_ManyUnknownNames(t *testing.T) {
	var v Values
	for i := range 20000 {
		v.Set(fmt.Sprintf("value%05d", i), float64(i))
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 20000 || !strings.HasPrefix(string(data), `{"value00000":0,"value00001":1,`) || !strings.HasSuffix(string(data), `"value19999":19999}`) {
		t.Errorf("Len %d, JSON %s…%s", v.Len(), data[:40], data[len(data)-40:])
	}
}

// oldReadingJSON is how weatherd encoded a reading when Values was a
// map[string]*float64: the reference the new encoder must match byte for
// byte.
func oldReadingJSON(r Reading, vals map[string]*float64) ([]byte, error) {
	type wire struct {
		Schema     string              `json:"schema"`
		EventID    string              `json:"event_id"`
		Location   EventLocation       `json:"location"`
		ObservedAt string              `json:"observed_at"`
		IngestedAt string              `json:"ingested_at"`
		Provider   string              `json:"provider"`
		Units      string              `json:"units"`
		Values     map[string]*float64 `json:"values"`
	}
	return json.Marshal(wire{
		Schema: r.Schema, EventID: r.EventID, Location: r.Location,
		ObservedAt: referenceTime(r.ObservedAt), IngestedAt: r.IngestedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Provider: r.Provider, Units: r.Units, Values: vals,
	})
}

// valuesCorpus is random values of every kind the encoder meets: known and
// unknown names (some sorting between the known ones, some needing JSON
// escapes), nulls, and numbers of every magnitude and shape.
func valuesCorpus(n int) []map[string]*float64 {
	rng := rand.New(rand.NewPCG(16, 1))
	unknown := []string{"a", "aaa", "temperatureMax", "windGustZ", "zz", "hail2", "b<c&d>", "é", "Wind Gust", "x\"y", "tab\t", "dewPoint0"}
	numbers := func() float64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return (rng.Float64() - 0.5) * 1e-7 // e-notation, small
		case 3:
			return (rng.Float64() - 0.5) * 1e23 // e-notation, large
		case 4:
			return float64(rng.IntN(5000) - 100)
		case 5:
			return math.Round((rng.Float64()-0.5)*2000) / 100
		case 6:
			return 1e21
		case 7:
			return 1e-6
		default:
			return (rng.Float64() - 0.5) * math.Pow10(rng.IntN(30)-10)
		}
	}
	out := make([]map[string]*float64, 0, n)
	for range n {
		m := map[string]*float64{}
		for range rng.IntN(25) {
			name := KnownName(rng.IntN(NumKnown))
			if rng.IntN(4) == 0 {
				name = unknown[rng.IntN(len(unknown))]
			}
			if rng.IntN(6) == 0 {
				m[name] = nil
			} else {
				m[name] = ptr(numbers())
			}
		}
		out = append(out, m)
	}
	return out
}

// TestValues_JSONMatchesOldEncoder: for the same input, the encoded reading
// event is byte-identical to what the map encoder wrote (unknown names kept,
// nulls kept as null, numbers in encoding/json's format), and decoding it
// gives the same values back, on both decoding paths.
func TestValues_JSONMatchesOldEncoder(t *testing.T) {
	loc := Location{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63}
	at := time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC)
	corpus := append(valuesCorpus(3000), map[string]*float64{}, nil)
	for i, m := range corpus {
		v := ValuesOf(m)
		r := NewReading(loc, "tomorrowio", at, at.Add(time.Minute), v)
		got, err := r.Encode()
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		wantVals := m
		if wantVals == nil {
			wantVals = map[string]*float64{} // the old NewReading's default
		}
		want, err := oldReadingJSON(r, wantVals)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%d: encoded\n%s\nold encoder\n%s", i, got, want)
		}
		if vj, err := json.Marshal(v); err != nil || string(vj) != string(mustJSON(t, wantVals)) {
			t.Fatalf("%d: Values alone encode as %s (%v), want %s", i, vj, err, mustJSON(t, wantVals))
		}
		// Back: the fast path when every name is camelCase, else the
		// error; the general path keeps every name either way.
		back, err := Decode(got)
		if r.Validate() != nil {
			if err == nil {
				t.Fatalf("%d: Decode took values Validate refuses: %s", i, got)
			}
		} else if err != nil {
			t.Fatalf("%d: Decode: %v", i, err)
		} else if !reflect.DeepEqual(back.Values.Map(), wantVals) {
			t.Fatalf("%d: decoded %v, want %v", i, back.Values.Map(), wantVals)
		}
		var gen Values
		if err := gen.UnmarshalJSON(mustJSON(t, wantVals)); err != nil || !reflect.DeepEqual(gen.Map(), wantVals) {
			t.Fatalf("%d: UnmarshalJSON gave %v (%v), want %v", i, gen.Map(), err, wantVals)
		}
	}
}

func mustJSON(t *testing.T, x any) []byte {
	t.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValues_EncodeRefusesNonFinite(t *testing.T) {
	for _, name := range []string{"windGust", "someNewValue"} {
		for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			var v Values
			v.Set(name, x)
			_, err := NewReading(Location{ID: "a"}, "p", time.Now(), time.Now(), v).Encode()
			want := fmt.Sprintf("value %q is not a finite number", name)
			if err == nil || err.Error() != want {
				t.Errorf("Set(%s, %v): Encode err = %v, want %q", name, x, err, want)
			}
		}
	}
}

// TestDecode_UnknownNamesKept: names outside the known ones come through
// the fast path, in any order, and are written back as they came.
func TestDecode_UnknownNamesKept(t *testing.T) {
	in := `{"schema":"weatherd.reading/v1","event_id":"a/2026-11-26T23:40:00Z","location":{"id":"a","name":"A","lat":1,"lon":2},` +
		`"observed_at":"2026-11-26T23:40:00Z","ingested_at":"2026-11-26T23:41:00.000Z","provider":"p","units":"metric",` +
		`"values":{"zeta":1,"windGust":null,"alpha":null,"temperatureMax":-2.5,"temperature":3}}`
	var r Reading
	if namesOK, ok := decodeFast([]byte(in), &r); !ok || !namesOK {
		t.Fatalf("fast path: ok %v, names ok %v", ok, namesOK)
	}
	want := map[string]*float64{"zeta": ptr(1), "windGust": nil, "alpha": nil, "temperatureMax": ptr(-2.5), "temperature": ptr(3)}
	if !reflect.DeepEqual(r.Values.Map(), want) {
		t.Errorf("values = %v, want %v", r.Values.Map(), want)
	}
	out, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	wantOut := `{"schema":"weatherd.reading/v1","event_id":"a/2026-11-26T23:40:00Z","location":{"id":"a","name":"A","lat":1,"lon":2},` +
		`"observed_at":"2026-11-26T23:40:00Z","ingested_at":"2026-11-26T23:41:00.000Z","provider":"p","units":"metric",` +
		`"values":{"alpha":null,"temperature":3,"temperatureMax":-2.5,"windGust":null,"zeta":1}}`
	if string(out) != wantOut {
		t.Errorf("encoded\n%s\nwant\n%s", out, wantOut)
	}
}

// TestDecode_NoAllocationForKnownValues: decoding weatherd's own shape with
// known names only allocates the reading's strings, nothing per value.
func TestDecode_NoAllocationForKnownValues(t *testing.T) {
	var r Reading
	data := []byte(fastGood)
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeInto(&r, data); err != nil {
			t.Fatal(err)
		}
	})
	// event_id, location id, location name, provider.
	if allocs != 4 {
		t.Errorf("%v allocations per decode, want 4 (the strings)", allocs)
	}
}

// The values object's fast path decides exactly as the map path would, and
// gives up on what only the map path handles.
func TestValues_UnmarshalFastPathMatchesGeneral(t *testing.T) {
	for _, c := range []struct {
		in   string
		fast bool // the fast path decides it
	}{
		{`{}`, true},
		{` { "temperature" : 24.5 , "windGust":null,"newName":-1.5e-3 } `, true},
		{`{"cloudBase":2.21,"cloudCeiling":3.05,"cloudCover":77,"weatherCode":1001,"uvIndex":0,"humidity":-0}`, true},
		{`{"Not_Camel":1,"x":2}`, true}, // kept; Validate words the error
		{`{"temperature":1,"temperature":2}`, false},
		{`{"new":1,"new":null}`, false},
		{`{"temp\u0065rature":3}`, false},
		{`{"temperature":1e400}`, false},
		{`{"temperature":"24"}`, false},
		{`{"temperature":01}`, false},
		{`{"temperature":1,}`, false},
		{`{"temperature":1} x`, false},
		{`[1]`, false},
		{`{"temperature":12345678901234567890.5}`, true},
	} {
		var fast, general Values
		ok := decodeValuesFast([]byte(c.in), &fast)
		gerr := general.unmarshalGeneral([]byte(c.in))
		if ok != c.fast {
			t.Errorf("%s: fast path decided %v, want %v", c.in, ok, c.fast)
		}
		if ok && (gerr != nil || !reflect.DeepEqual(fast, general)) {
			t.Errorf("%s: fast %+v, general %+v (%v)", c.in, fast, general, gerr)
		}
		var got Values
		err := got.UnmarshalJSON([]byte(c.in))
		if (err == nil) != (gerr == nil) || err == nil && !reflect.DeepEqual(got, general) {
			t.Errorf("%s: UnmarshalJSON %+v (%v), general %+v (%v)", c.in, got, err, general, gerr)
		}
	}
}

func FuzzValues_UnmarshalFastPathMatchesGeneral(f *testing.F) {
	f.Add([]byte(`{"temperature":24.5,"windGust":null,"newName":-1.5e-3}`))
	f.Add([]byte(`{"temperature":1,"temperature":2}`))
	f.Add([]byte(` {"a\u0062":1e400} `))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, general Values
		if !decodeValuesFast(data, &fast) {
			return
		}
		if err := general.unmarshalGeneral(data); err != nil || !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q: fast %+v, general %+v (%v)", data, fast, general, err)
		}
	})
}
