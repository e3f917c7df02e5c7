package weather

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file is Decode's fast path: a scanner for exactly the shape weatherd
// writes (the documented reading event, any field order, JSON whitespace
// allowed). It builds the same Reading goccy/go-json would, with far fewer
// allocations: a known value goes straight into the Values' array, and only
// a name outside the known ones is copied. Anything it is not sure about (escapes
// in strings, unknown or repeated fields, nulls outside values, bad UTF-8,
// numbers out of range, trailing bytes) makes it give up, and Decode takes
// the general path, which also words every error. So the fast path changes
// speed, never results.

// Field bits, to refuse a repeated field (the general path applies JSON's
// last-one-wins; the fast path does not bother).
const (
	fSchema = 1 << iota
	fEventID
	fLocation
	fObserved
	fIngested
	fProvider
	fUnits
	fValues
	fLocID
	fLocName
	fLocLat
	fLocLon
)

type scanner struct {
	b    []byte
	i    int
	seen int // field bits already read
	// badName is set when a value name is not a camelCase name.
	badName bool
}

// decodeFast parses data into *r (which it resets first); ok is false when
// the general path must decide. namesOK reports that every value name is a
// camelCase name (JSON has no NaN or infinities, so the values need no
// further check).
func decodeFast(data []byte, r *Reading) (namesOK, ok bool) {
	*r = Reading{}
	s := scanner{b: data}
	if !s.object(func(key []byte) bool { return s.readingField(key, r) }) {
		return false, false
	}
	s.ws()
	if s.i != len(s.b) {
		return false, false
	}
	return !s.badName, true
}

// decodeValuesFast parses a values object into *v (which it resets first);
// it reports false when the general path must decide, leaving *v to it.
// Names that are not camelCase are kept, as the general path keeps them:
// Validate words the error.
func decodeValuesFast(data []byte, v *Values) bool {
	*v = Values{}
	s := scanner{b: data}
	if !s.object(func(key []byte) bool { return s.value(key, v) }) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *scanner) readingField(key []byte, r *Reading) bool {
	switch string(key) {
	case "schema":
		v, ok := s.str()
		if !ok || !s.mark(fSchema) {
			return false
		}
		r.Schema = intern(v, Schema)
	case "event_id":
		v, ok := s.str()
		if !ok || !s.mark(fEventID) {
			return false
		}
		r.EventID = string(v)
	case "location":
		if !s.mark(fLocation) {
			return false
		}
		return s.object(func(k []byte) bool { return s.locationField(k, &r.Location) })
	case "observed_at":
		return s.mark(fObserved) && s.time(&r.ObservedAt)
	case "ingested_at":
		return s.mark(fIngested) && s.time(&r.IngestedAt)
	case "provider":
		v, ok := s.str()
		if !ok || !s.mark(fProvider) {
			return false
		}
		r.Provider = string(v)
	case "units":
		v, ok := s.str()
		if !ok || !s.mark(fUnits) {
			return false
		}
		r.Units = intern(v, UnitsMetric)
	case "values":
		if !s.mark(fValues) {
			return false
		}
		return s.object(func(k []byte) bool { return s.value(k, &r.Values) })
	default:
		return false
	}
	return true
}

func (s *scanner) locationField(key []byte, l *EventLocation) bool {
	switch string(key) {
	case "id":
		v, ok := s.str()
		if !ok || !s.mark(fLocID) {
			return false
		}
		l.ID = string(v)
	case "name":
		v, ok := s.str()
		if !ok || !s.mark(fLocName) {
			return false
		}
		l.Name = string(v)
	case "lat":
		return s.mark(fLocLat) && s.num(&l.Lat)
	case "lon":
		return s.mark(fLocLon) && s.num(&l.Lon)
	default:
		return false
	}
	return true
}

func (s *scanner) value(key []byte, vals *Values) bool {
	var x float64
	null := s.lit("null")
	if !null && !s.num(&x) {
		return false
	}
	if i, known := knownIndexBytes(key); known {
		if vals.present&(1<<i) != 0 {
			return false // a repeated name: let the general path decide
		}
		vals.setAt(i, x, null)
		return true
	}
	if len(vals.extra) >= MaxValues {
		return false // too many: the general path words the error
	}
	if _, repeated := vals.extra[string(key)]; repeated {
		return false
	}
	name := string(key)
	if !valueName(name) {
		s.badName = true // Validate words the error
	}
	vals.setExtra(name, x, null)
	return true
}

func (s *scanner) mark(bit int) bool {
	if s.seen&bit != 0 {
		return false
	}
	s.seen |= bit
	return true
}

// object parses {"key": value, ...}, calling field with the cursor on each
// value (after the colon and any whitespace).
func (s *scanner) object(field func(key []byte) bool) bool {
	s.ws()
	if !s.byte('{') {
		return false
	}
	s.ws()
	if s.byte('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.byte(':') {
			return false
		}
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		if s.byte(',') {
			continue
		}
		return s.byte('}')
	}
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // compact JSON: no whitespace between tokens
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// str returns the bytes of a string without escapes (the caller copies them).
func (s *scanner) str() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	b := s.b
	ascii := true
	for i := s.i; i < len(b); i++ {
		// Skip to the next byte that needs a look, eight at a time.
		for i+8 <= len(b) {
			if m := special8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case strPlain[c]:
		case c == '"':
			v := b[s.i:i]
			s.i = i + 1
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			return v, true
		case c >= utf8.RuneSelf:
			ascii = false
		default: // a backslash or a control character
			return nil, false
		}
	}
	return nil, false
}

// Bytes repeated in each of a word's eight bytes.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 marks, with its high bit, the first byte of w (little endian)
// that needs a second look in a string — a quote, backslash, control
// character or non-ASCII byte — and is 0 when there is none. A term
// (x - ones) &^ x marks the first zero byte of x exactly (the borrow may
// mark bytes after it, never before): a quote in w ^ '"', a backslash in
// w ^ '\\'; (w - 0x20 in each byte) &^ w marks the first byte below 0x20
// the same way, and w itself the non-ASCII bytes.
func special8(w uint64) uint64 {
	q := w ^ ones*'"'
	bs := w ^ ones*'\\'
	return ((q-ones)&^q | (bs-ones)&^bs | (w-ones*0x20)&^w | w) & highs
}

// strPlain marks the bytes str passes over without a second look.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// num parses a JSON number (strict grammar) into a finite float64. The
// usual shape of a weather value, -?digits(.digits)? with at most 15
// significant digits, is converted as it is scanned: the mantissa and the
// power of ten are exact in a float64, so one IEEE division rounds
// correctly, giving the same bits as strconv.ParseFloat, which converts
// anything else.
func (s *scanner) num(dst *float64) bool {
	b, i := s.b, s.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var mant uint64
	intStart := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		mant = mant*10 + uint64(b[i]-'0')
		i++
	}
	if n := i - intStart; n == 0 || n > 1 && b[intStart] == '0' {
		return false // no digits, or a leading zero
	}
	digits := i - intStart
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		fracStart := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		if frac = i - fracStart; frac == 0 {
			return false
		}
		digits += frac
	}
	exp := i < len(b) && (b[i] == 'e' || b[i] == 'E')
	if exp {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		expStart := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == expStart {
			return false
		}
	}
	start := s.i
	s.i = i
	if !exp && digits <= 15 {
		f := float64(mant)
		if frac > 0 {
			f /= pow10[frac]
		}
		if neg {
			f = -f
		}
		*dst = f
		return true
	}
	f, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil {
		return false
	}
	*dst = f
	return true
}

// time parses a quoted timestamp exactly as time.Time.UnmarshalJSON does
// (which is what the general path calls); parseUTC takes the shape
// weatherd writes.
func (s *scanner) time(dst *time.Time) bool {
	start := s.i
	v, ok := s.str()
	if !ok {
		return false
	}
	if t, ok := parseUTC(v); ok {
		*dst = t
		return true
	}
	return dst.UnmarshalJSON(s.b[start:s.i]) == nil
}

// parseUTC parses YYYY-MM-DDTHH:MM:SS, an optional fraction of one to nine
// digits, then Z — how weatherd writes its times — into the time
// time.Time.UnmarshalJSON returns for it. It reports false for anything
// else, valid or not, and for fields out of range (month 13, April 31,
// 24:00), leaving those to UnmarshalJSON and its errors.
func parseUTC(b []byte) (time.Time, bool) {
	n := len(b)
	if n < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[n-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := decimal(b[0:4])
	month, ok2 := decimal(b[5:7])
	day, ok3 := decimal(b[8:10])
	hour, ok4 := decimal(b[11:13])
	minute, ok5 := decimal(b[14:16])
	sec, ok6 := decimal(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if n > 20 {
		frac := b[20 : n-1]
		if b[19] != '.' || len(frac) < 1 || len(frac) > 9 {
			return time.Time{}, false
		}
		f, ok := decimal(frac)
		if !ok {
			return time.Time{}, false
		}
		for range 9 - len(frac) {
			f *= 10
		}
		nsec = f
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// decimal is the value of b, ASCII digits only (at most nine).
func decimal(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// daysIn is the number of days of month in year.
func daysIn(month time.Month, year int) int {
	if month == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + int((0x15AA>>month)&1) // 31 for January, March, May, July, August, October, December
}

// intern returns constant when v spells it, else a copy of v.
func intern(v []byte, constant string) string {
	if string(v) == constant {
		return constant
	}
	return string(v)
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}
