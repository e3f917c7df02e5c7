package weather

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDecode_Contract: each bound of the reading contract refuses a record
// with its own code and a message that names the problem without quoting
// a huge field whole.
func TestDecode_Contract(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	enc := func(id, name string, nValues int) []byte {
		v := Values{}
		for i := range nValues {
			v.Set(fmt.Sprintf("v%d", i), float64(i))
		}
		b, err := NewReading(Location{ID: id, Name: name}, "p", at, at, v).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]struct {
		data     []byte
		code     string
		contains string
	}{
		"IDTooLong":     {enc(strings.Repeat("a", 3000), "A", 1), InvalidLocationID, `location.id "aaaa`},
		"IDUpper":       {enc("Sao-Paulo", "A", 1), InvalidLocationID, `location.id "Sao-Paulo": want 1-64 of a-z`},
		"IDDashFirst":   {enc("-x", "A", 1), InvalidLocationID, `location.id "-x"`},
		"NameTooLong":   {enc("x", strings.Repeat("n", MaxNameBytes+1), 1), InvalidName, "location.name is 257 bytes, want at most 256"},
		"TooManyValues": {enc("x", "A", MaxValues+1), InvalidValues, "129 values, want at most 128"},
		"TooLarge":      {enc("x", "A", 20000), InvalidTooLarge, "want at most 32768"},
		"Schema":        {[]byte(`{"schema":"x"}`), InvalidMalformed, `schema is "x"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tc.data)
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Code != tc.code || InvalidCode(err) != tc.code {
				t.Fatalf("err = %#v, want code %s", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.contains) || len(err.Error()) > 300 {
				t.Errorf("err = %q, want it to contain %q and stay short", err, tc.contains)
			}
		})
	}
	if _, err := Decode(enc(strings.Repeat("a", 64), strings.Repeat("n", 256), MaxValues)); err != nil {
		t.Errorf("a reading at every bound: %v", err)
	}
}

func TestValidLocationID(t *testing.T) {
	for id, want := range map[string]bool{
		"sao-paulo": true, "0": true, "a_b-9": true, strings.Repeat("a", 64): true,
		"": false, "-a": false, "_a": false, "A": false, "a b": false, "a/b": false, "é": false, strings.Repeat("a", 65): false,
	} {
		if got := ValidLocationID(id); got != want {
			t.Errorf("ValidLocationID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestCheckContract_Future(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := NewReading(Location{ID: "x", Name: "X"}, "p", now.Add(61*time.Minute), now, Values{})
	err := r.CheckContract(now, time.Hour)
	if InvalidCode(err) != InvalidFuture || err.Error() != "invalid reading event: observed_at 2026-11-27T10:01:00Z is 1h1m0s ahead of the arrival time 2026-11-27T09:00:00Z (at most 1h0m0s allowed)" {
		t.Errorf("err = %v", err)
	}
	if err := r.CheckContract(now.Add(time.Minute), time.Hour); err != nil {
		t.Errorf("exactly the skew ahead: %v", err)
	}
	if err := CheckObservedAt(r.ObservedAt, time.Time{}, time.Hour); err != nil {
		t.Errorf("no arrival time: %v", err)
	}
}

// CheckContract encodes a reading only when its size bound passes
// MaxEventBytes: the bound is never below the encoded size, and a reading
// over the limit is still refused with its size.
func TestCheckContract_Size(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 30e6, time.UTC)
	full := Values{}
	for i := range MaxValues {
		full.Set(fmt.Sprintf("v%063d", i), -0.0000012345678901234567) // the longest name, a long number
	}
	odd := "\x01<>&\u2028" + strings.Repeat("\x1f", MaxNameBytes-8) // escaped at up to six bytes a byte
	huge := NewReading(Location{ID: "x", Name: "X"}, strings.Repeat("p", MaxEventBytes), at, at, Values{})
	for name, r := range map[string]Reading{
		"full":  NewReading(Location{ID: strings.Repeat("a", 64), Name: odd, Lat: -89.123456789, Lon: 179.98765432123}, "tomorrowio", at, at, full),
		"empty": NewReading(Location{ID: "x", Name: "X"}, "p", at, at, Values{}),
		"huge":  huge,
	} {
		data, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if bound := r.maxEncodedSize(); bound < len(data) {
			t.Errorf("%s: bound %d below the encoded size %d", name, bound, len(data))
		}
	}
	data, _ := huge.Encode()
	err := huge.CheckContract(at, time.Hour)
	if want := fmt.Sprintf("event is %d bytes, want at most %d", len(data), MaxEventBytes); InvalidCode(err) != InvalidTooLarge || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckContract(%d bytes) = %v, want %s", len(data), err, want)
	}
}
