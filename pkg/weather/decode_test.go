package weather

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fastGood = `{"schema":"weatherd.reading/v1","event_id":"sao-paulo/2026-11-26T23:40:00Z",` +
	`"location":{"id":"sao-paulo","name":"São Paulo","lat":-23.55,"lon":-46.63},` +
	`"observed_at":"2026-11-26T23:40:00Z","ingested_at":"2026-11-26T23:41:02.123Z",` +
	`"provider":"tomorrowio","units":"metric","values":{"cloudCeiling":null,"temperature":24.1,"windGust":12.3,"weatherCode":1001,"uvIndex":0,"dewPoint":-3.25}}`

// TestDecode_FastPathMatchesGeneral feeds Decode inputs the fast path takes
// and inputs it must hand over, and checks that every one decodes exactly
// as the general path (goccy/go-json + Validate) decodes it, error included.
func TestDecode_FastPathMatchesGeneral(t *testing.T) {
	rep := func(old, nu string) string { return strings.Replace(fastGood, old, nu, 1) }
	cases := map[string]struct {
		data string
		fast bool // the fast path decides it
	}{
		"Compact":            {fastGood, true},
		"Whitespace":         {" {\n\t\"schema\" : \"weatherd.reading/v1\" ,\r\n" + fastGood[strings.Index(fastGood, `"event_id"`):len(fastGood)-1] + " } \n", true},
		"FieldOrder":         {`{"values":{"a1":1},"units":"metric","provider":"p","ingested_at":"2026-11-26T23:41:00Z","observed_at":"2026-11-26T23:40:00Z","location":{"lon":2,"lat":1,"name":"A","id":"a"},"event_id":"a/2026-11-26T23:40:00Z","schema":"weatherd.reading/v1"}`, true},
		"EmptyValues":        {rep(`"values":{"cloudCeiling":null,"temperature":24.1,"windGust":12.3,"weatherCode":1001,"uvIndex":0,"dewPoint":-3.25}`, `"values":{}`), true},
		"NoValues":           {rep(`,"values":{"cloudCeiling":null,"temperature":24.1,"windGust":12.3,"weatherCode":1001,"uvIndex":0,"dewPoint":-3.25}`, ``), true},
		"UnknownValueName":   {rep(`"uvIndex":0`, `"someNewValue2":7.5`), true},
		"BadValueName":       {rep(`"uvIndex":0`, `"Wind Gust":1`), true},
		"Exponents":          {rep(`"uvIndex":0`, `"uvIndex":1.5e2,"humidity":-2E-3,"visibility":1e+1`), true},
		"LongMantissa":       {rep(`"uvIndex":0`, `"uvIndex":0.1234567890123456789`), true},
		"NegativeZero":       {rep(`"uvIndex":0`, `"uvIndex":-0`), true},
		"ForeignID":          {rep(`"event_id":"sao-paulo/`, `"event_id":"rio/`), true},
		"WrongSchema":        {rep(`reading/v1`, `reading/v2`), true},
		"Imperial":           {rep(`"metric"`, `"imperial"`), true},
		"NanosObserved":      {rep(`"observed_at":"2026-11-26T23:40:00Z"`, `"observed_at":"2026-11-26T23:40:00.5Z"`), true},
		"OffsetObserved":     {rep(`"observed_at":"2026-11-26T23:40:00Z"`, `"observed_at":"2026-11-26T20:40:00-03:00"`), true},
		"Escapes":            {rep(`"name":"São Paulo"`, `"name":"S\u00e3o \"Paulo\""`), false},
		"UnknownField":       {rep(`"units":"metric"`, `"units":"metric","extra":{"x":[1,2]}`), false},
		"RepeatedField":      {rep(`"provider":"tomorrowio"`, `"provider":"a","provider":"tomorrowio"`), false},
		"RepeatedValue":      {rep(`"uvIndex":0`, `"uvIndex":0,"uvIndex":3`), false},
		"NullProvider":       {rep(`"provider":"tomorrowio"`, `"provider":null`), false},
		"NullValues":         {rep(`"values":{`, `"values":null,"x":{`), false},
		"CaseFoldedField":    {rep(`"provider"`, `"Provider"`), false},
		"HugeNumber":         {rep(`"uvIndex":0`, `"uvIndex":1e999`), false},
		"StringValue":        {rep(`"uvIndex":0`, `"uvIndex":"0"`), false},
		"LeadingZero":        {rep(`"uvIndex":0`, `"uvIndex":01`), false},
		"BadUTF8":            {rep(`São`, "S\xffo"), false},
		"ControlInString":    {rep(`São`, "S\to"), false},
		"Trailing":           {fastGood + "{}", false},
		"Truncated":          {fastGood[:100], false},
		"NotJSON":            {"hello", false},
		"Empty":              {"", false},
		"BadTime":            {rep(`"2026-11-26T23:41:02.123Z"`, `"yesterday"`), false},
		"NoObservedAt":       {rep(`"observed_at":"2026-11-26T23:40:00Z",`, ``), true},
		"TrailingCommaValue": {rep(`"dewPoint":-3.25}`, `"dewPoint":-3.25,}`), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var scratch Reading
			_, fast := decodeFast([]byte(tc.data), &scratch)
			if fast != tc.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tc.fast)
			}
			got, gotErr := Decode([]byte(tc.data))
			want, wantErr := generalDecode([]byte(tc.data))
			if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Fatalf("err = %v, general path says %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode =\n%+v\ngeneral path =\n%+v", got, want)
			}
			gotVals := got.Values.Map()
			for k, p := range want.Values.All() {
				if p != nil && math.Float64bits(*p) != math.Float64bits(*gotVals[k]) {
					t.Errorf("value %s = %v, general path %v", k, *gotVals[k], *p)
				}
			}
		})
	}
}

// TestScannerNum_MatchesParseFloat checks the scanner's numbers bit for bit
// against strconv, on random weather-like numbers (converted as they are
// scanned), on the edges of that shortcut's range and on what strconv
// converts (exponents, longer mantissas); and that it refuses what JSON's
// grammar refuses.
func TestScannerNum_MatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := []string{"0", "-0", "0.0", "1", "9", "0.1", "0.3", "-12.75", "999999999999999", "0.000000000000001",
		"123456789.012345", "1013.25", "100.0000", "17.2", "13.9", "7.6",
		"1234567890123456", "9007199254740993", "0.1234567890123456789", "1e5", "-2.5E-3", "6.02e+23", "1E0"}
	for range 200_000 {
		x := (rng.Float64() - 0.5) * math.Pow10(rng.IntN(12))
		inputs = append(inputs, strconv.FormatFloat(x, 'f', rng.IntN(8), 64))
	}
	for _, in := range inputs {
		want, err := strconv.ParseFloat(in, 64)
		if err != nil {
			t.Fatal(err)
		}
		s := scanner{b: []byte(in + ",")}
		var got float64
		if !s.num(&got) || s.i != len(in) {
			t.Fatalf("num(%q) refused it or stopped at %d", in, s.i)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("num(%q) = %v (%x), ParseFloat %v (%x)", in, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	for _, in := range []string{"", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "1e999"} {
		s := scanner{b: []byte(in)}
		var got float64
		if s.num(&got) {
			t.Errorf("num(%q) accepted it: %v, stopped at %d", in, got, s.i)
		}
	}
}

// TestScannerStr_EveryPosition puts each byte that ends or spoils a string
// at every offset of strings long enough for the eight-byte steps.
func TestScannerStr_EveryPosition(t *testing.T) {
	for n := range 40 {
		for at := range n {
			for _, c := range []string{"\"", "\\", "\n", "\x1f", "\x00", "\x7f", "é", "\xff"} {
				body := strings.Repeat("a", at) + c + strings.Repeat("b", n-at)
				s := scanner{b: []byte(`"` + body + `"`)}
				v, ok := s.str()
				switch c {
				case "\"":
					if !ok || string(v) != strings.Repeat("a", at) || s.i != at+2 {
						t.Fatalf("%q: got %q, %v, at %d", body, v, ok, s.i)
					}
				case "\x7f", "é":
					if !ok || string(v) != body || s.i != len(body)+2 {
						t.Fatalf("%q: got %q, %v, at %d", body, v, ok, s.i)
					}
				default:
					if ok {
						t.Fatalf("%q: accepted as %q", body, v)
					}
				}
			}
		}
		s := scanner{b: []byte(`"` + strings.Repeat("x", n))}
		if _, ok := s.str(); ok {
			t.Fatalf("unterminated string of %d bytes accepted", n)
		}
	}
}

// TestParseUTC_MatchesUnmarshalJSON: the timestamps parseUTC takes come out
// as time.Time.UnmarshalJSON makes them, and it leaves everything else to
// UnmarshalJSON: other shapes, and fields out of range.
func TestParseUTC_MatchesUnmarshalJSON(t *testing.T) {
	taken := []string{"2026-11-26T23:40:00Z", "2026-11-26T23:41:02.123Z", "2026-11-26T23:41:02.1Z",
		"2026-11-26T23:41:02.123456789Z", "2024-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z",
		"2026-05-31T00:00:00Z", "2026-06-30T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z",
		"2026-09-30T00:00:00Z", "2026-10-31T00:00:00Z", "2026-11-30T00:00:00Z", "2026-12-31T00:00:00Z"}
	left := []string{"2026-11-26T23:40:00+01:00", "2026-11-26T23:40:00.1234567890Z", "2026-11-26T23:40:00.Z",
		"2026-11-26t23:40:00Z", "2026-11-26 23:40:00Z", "2026-11-26T23:40:00", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-04-31T00:00:00Z", "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-11-00T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T23:60:00Z", "2026-11-26T23:59:60Z",
		"2026-11-26T23:40:0xZ", "2026-11-26T23:40:00,5Z", "+026-11-26T23:40:00Z"}
	for _, in := range taken {
		var want time.Time
		if err := want.UnmarshalJSON([]byte(`"` + in + `"`)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got, ok := parseUTC([]byte(in))
		if !ok || got != want {
			t.Errorf("parseUTC(%s) = %v, %v; UnmarshalJSON %v", in, got, ok, want)
		}
	}
	for _, in := range left {
		if got, ok := parseUTC([]byte(in)); ok {
			t.Errorf("parseUTC(%s) took it: %v", in, got)
		}
	}
	// Every day of a leap and a common year, and the day after each month's last.
	for _, year := range []int{2024, 2026, 2100} {
		for d := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
			in := d.Format("2006-01-02T15:04:05Z")
			if got, ok := parseUTC([]byte(in)); !ok || got != d {
				t.Fatalf("parseUTC(%s) = %v, %v", in, got, ok)
			}
		}
		for m := time.January; m <= time.December; m++ {
			last := time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
			in := fmt.Sprintf("%04d-%02d-%02dT00:00:00Z", year, m, last+1)
			if _, ok := parseUTC([]byte(in)); ok {
				t.Errorf("parseUTC(%s) took a day that does not exist", in)
			}
		}
	}
}

func TestKnownIndex(t *testing.T) {
	for i := range NumKnown {
		n := KnownName(i)
		if got, ok := KnownIndex(n); !ok || got != i {
			t.Errorf("KnownIndex(%q) = %d, %v; want %d", n, got, ok, i)
		}
		if got, ok := knownIndexBytes([]byte(n)); !ok || got != i {
			t.Errorf("knownIndexBytes(%q) = %d, %v; want %d", n, got, ok, i)
		}
	}
	for i, c := range Columns {
		if KnownName(i) != c.Name {
			t.Errorf("slot %d is %q, want gold column %q", i, KnownName(i), c.Name)
		}
	}
	for _, n := range []string{"", "x", "temperatureX", "someNewValue", "Temperature"} {
		if i, ok := KnownIndex(n); ok {
			t.Errorf("KnownIndex(%q) = %d, a known name", n, i)
		}
	}
}

// generalDecode is the general decoding path alone, as Decode returns.
func generalDecode(data []byte) (Reading, error) {
	var r Reading
	err := decodeGeneral(&r, data)
	return r, err
}

// FuzzDecode_FastPathMatchesGeneral: whatever the bytes, when the fast path
// decides, it decides exactly as the general path would.
func FuzzDecode_FastPathMatchesGeneral(f *testing.F) {
	f.Add([]byte(fastGood))
	f.Add([]byte(strings.Replace(fastGood, `"uvIndex":0`, `"uvIndex":1.5e2,"humidity":-2E-3`, 1)))
	f.Add([]byte(strings.Replace(fastGood, `"values":{`, `"values":null,"x":{`, 1)))
	f.Add([]byte(`{"schema":"weatherd.reading/v1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, err := Decode(data)
		general, gerr := generalDecode(data)
		if (err == nil) != (gerr == nil) {
			t.Fatalf("Decode err %v, general err %v for %q", err, gerr, data)
		}
		if err != nil {
			return
		}
		a, _ := fast.Encode()
		b, _ := general.Encode()
		if string(a) != string(b) {
			t.Fatalf("Decode and the general path differ for %q:\n%s\n%s", data, a, b)
		}
	})
}

// TestEventIDMatches_MatchesEventID: eventIDMatches agrees with comparing
// the id with EventID, for ids of each shape and observed times with and
// without fractions, near and far.
func TestEventIDMatches_MatchesEventID(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 26, 23, 40, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 23, 40, 0, 500_000_000, time.UTC),
		time.Date(2026, 11, 26, 23, 40, 1, 0, time.UTC),
		time.Date(2026, 11, 26, 23, 40, 0, 0, time.FixedZone("x", 3600)),
		time.Date(1969, 12, 31, 23, 59, 59, 900_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	ids := []string{"loc/2026-11-26T23:40:00Z", "loc/2026-11-26T23:40:01Z", "loc/2026-11-26T22:40:00Z",
		"loc/2026-11-26T23:40:00.5Z", "loc/2026-11-26T23:40:00+00:00", "loc/1969-12-31T23:59:59Z",
		"loc/10000-01-01T00:00:00Z", "loc/0000-01-01T00:00:00Z", "loc/0001-01-01T00:00:00Z",
		"loc/2026-11-26T23:40:60Z", "loc/2026-02-30T00:00:00Z", "loc/", "lo/2026-11-26T23:40:00Z", "loc2026-11-26T23:40:00Z"}
	for _, at := range times {
		for _, id := range ids {
			want := id == EventID("loc", at)
			if got := eventIDMatches(id, "loc", at); got != want {
				t.Errorf("eventIDMatches(%q, loc, %v) = %v, want %v", id, at, got, want)
			}
		}
	}
}
