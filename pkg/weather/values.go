package weather

import (
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"
)

// knownNames are the value names a Values keeps in its fixed array, in slot
// order: the gold columns first, so slot i is Columns[i], then the other
// names Tomorrow.io sends. Every reading of a configured provider uses only
// these, so decoding, rules and gold rows never touch a map.
var knownNames = func() (t [NumKnown]string) {
	for i, c := range Columns {
		t[i] = c.Name
	}
	copy(t[len(Columns):], rawOnlyNames[:])
	return t
}()

// rawOnlyNames are values Tomorrow.io sends that have no gold column
// (Columns has the others). Append only: a name's slot is its place.
var rawOnlyNames = [...]string{
	"altimeterSetting", "hailProbability", "hailSize", "thunderstormProbability", "ezHeatStressIndex", "snowDepth",
	"windSpeedMax", "windGustMax",
}

// NumKnown is the number of known value names (KnownName): the size of a
// Values' array.
const NumKnown = len(Columns) + len(rawOnlyNames)

// A compile error here means Values' bit sets need a wider type.
var _ [64 - NumKnown]struct{}

// KnownName returns the name of known slot i (0 ≤ i < NumKnown); slot i
// below len(Columns) is gold column i.
func KnownName(i int) string { return knownNames[i] }

// knownSlots finds a known name's slot from its bytes without a map: a
// small table indexed by a hash of the name's length and first, middle and
// last bytes. A name whose hash slot another took is in knownSlotsRest.
var knownSlots, knownSlotsRest = func() (t [256]int8, rest map[string]int) {
	for i := range t {
		t[i] = -1
	}
	for i, n := range knownNames {
		if h := nameSlot([]byte(n)); t[h] < 0 {
			t[h] = int8(i)
		} else {
			if rest == nil {
				rest = map[string]int{}
			}
			rest[n] = i
		}
	}
	return t, rest
}()

func nameSlot(b []byte) uint8 {
	if len(b) == 0 {
		return 0
	}
	return uint8(len(b)*37 + int(b[0])*11 + int(b[len(b)/2])*5 + int(b[len(b)-1]))
}

// KnownIndex returns the slot of a known value name.
func KnownIndex(name string) (int, bool) {
	if len(name) == 0 {
		return 0, false
	}
	if i := knownSlots[nameSlot([]byte(name))]; i >= 0 && knownNames[i] == name {
		return int(i), true
	}
	i, ok := knownSlotsRest[name]
	return i, ok
}

// knownIndexBytes is KnownIndex for the scanner's bytes (no string made).
func knownIndexBytes(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if i := knownSlots[nameSlot(b)]; i >= 0 && knownNames[i] == string(b) {
		return int(i), true
	}
	if knownSlotsRest == nil {
		return 0, false
	}
	i, ok := knownSlotsRest[string(b)]
	return i, ok
}

// Values are a reading's values by Tomorrow.io name (camelCase, metric
// units). Each value is a number, an explicit null from the provider, or
// absent. The known names (KnownName) sit in a fixed array with a bit per
// slot for present and for null; any other name goes to a map. The zero
// Values is empty and ready to use.
//
// Copying a Values copies the known values; the map of other names, made
// at the first such name, is shared by the copies, as the map of every
// name was before the array.
type Values struct {
	present uint64 // bit i: slot i holds a number or a null
	null    uint64 // bit i: slot i is an explicit null (present too)
	known   [NumKnown]float64
	extra   map[string]extraValue // names outside knownNames
}

type extraValue struct {
	v    float64
	null bool
}

// Get returns the value of name and whether it is present and not null.
func (v *Values) Get(name string) (float64, bool) {
	if i, ok := KnownIndex(name); ok {
		return v.At(i)
	}
	e, ok := v.extra[name]
	return e.v, ok && !e.null
}

// Has reports whether name is present, as a number or as a null.
func (v *Values) Has(name string) bool {
	if i, ok := KnownIndex(name); ok {
		return v.present&(1<<i) != 0
	}
	_, ok := v.extra[name]
	return ok
}

// At returns the value of known slot i and whether it is present and not
// null: the lookup of the hot paths (rules, gold rows), by index.
func (v *Values) At(i int) (float64, bool) {
	return v.known[i], (v.present&^v.null)>>i&1 != 0
}

// Numbers returns the known slots that hold a number (bit i for slot i) and
// the array of their values: a gold row reads them without a lookup per
// name. The array is v's own; the caller must not change it.
func (v *Values) Numbers() (set uint64, known *[NumKnown]float64) {
	return v.present &^ v.null, &v.known
}

// Present returns the known slots that hold a number or a null (bit i for
// slot i).
func (v *Values) Present() uint64 { return v.present }

// Set stores a value.
func (v *Values) Set(name string, x float64) { v.put(name, x, false) }

// SetNull stores an explicit null.
func (v *Values) SetNull(name string) { v.put(name, 0, true) }

func (v *Values) put(name string, x float64, null bool) {
	if i, ok := KnownIndex(name); ok {
		v.setAt(i, x, null)
		return
	}
	v.setExtra(name, x, null)
}

func (v *Values) setExtra(name string, x float64, null bool) {
	if v.extra == nil {
		v.extra = make(map[string]extraValue, 1)
	}
	if null {
		x = 0
	}
	v.extra[name] = extraValue{x, null}
}

// extraNames returns the names outside knownNames in byte order.
func (v *Values) extraNames() []string {
	if len(v.extra) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(v.extra))
}

func (v *Values) setAt(i int, x float64, null bool) {
	v.present |= 1 << i
	if null {
		v.null |= 1 << i
		v.known[i] = 0
	} else {
		v.null &^= 1 << i
		v.known[i] = x
	}
}

// Len returns how many values are present (numbers and nulls).
func (v *Values) Len() int { return bits.OnesCount64(v.present) + len(v.extra) }

// All yields every present value: its name and a pointer to its number, or
// nil for a null; known names first, in slot order, then the others in
// byte order. The pointers are copies: changing them changes nothing.
func (v *Values) All() iter.Seq2[string, *float64] {
	return func(yield func(string, *float64) bool) {
		for m := v.present; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			var p *float64
			if v.null&(1<<i) == 0 {
				x := v.known[i]
				p = &x
			}
			if !yield(knownNames[i], p) {
				return
			}
		}
		for _, name := range v.extraNames() {
			var p *float64
			if e := v.extra[name]; !e.null {
				x := e.v
				p = &x
			}
			if !yield(name, p) {
				return
			}
		}
	}
}

// Map returns the values as a new map, a nil pointer for a null.
func (v *Values) Map() map[string]*float64 {
	m := make(map[string]*float64, v.Len())
	for name, p := range v.All() {
		m[name] = p
	}
	return m
}

// ValuesOf builds Values from a map, a nil pointer being a null.
func ValuesOf(m map[string]*float64) Values {
	var v Values
	for name, p := range m {
		if p == nil {
			v.SetNull(name)
		} else {
			v.Set(name, *p)
		}
	}
	return v
}

// check returns an error for the first value that breaks the reading
// contract: a name that is not camelCase, or a number that is not finite.
func (v *Values) check() error {
	for _, name := range v.extraNames() {
		if !valueName(name) {
			return fmt.Errorf("value name %s is not a camelCase name", clip(name))
		}
	}
	return v.checkFinite()
}

// checkFinite returns an error for the first number that is not finite
// (JSON has no NaN or infinities).
func (v *Values) checkFinite() error {
	for m := v.present &^ v.null; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if x := v.known[i]; math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("value %q is not a finite number", knownNames[i])
		}
	}
	for _, name := range v.extraNames() {
		if e := v.extra[name]; !e.null && (math.IsNaN(e.v) || math.IsInf(e.v, 0)) {
			return fmt.Errorf("value %q is not a finite number", name)
		}
	}
	return nil
}

// sortedKnown are the known slots in the byte order of their names: the
// order encoding/json writes a map's keys in.
var sortedKnown = func() (s [NumKnown]uint8) {
	for i := range s {
		s[i] = uint8(i)
	}
	slices.SortFunc(s[:], func(a, b uint8) int { return strings.Compare(knownNames[a], knownNames[b]) })
	return s
}()

// MarshalJSON writes the values as one JSON object, byte for byte as
// encoding/json writes the map[string]*float64 they were before: keys in
// byte order, nulls as null, numbers in encoding/json's format. A number
// that is not finite is an error.
func (v Values) MarshalJSON() ([]byte, error) {
	return v.appendJSON(make([]byte, 0, 32+v.Len()*24))
}

func (v *Values) appendJSON(b []byte) ([]byte, error) {
	extra := v.extraNames() // sorted, as the keys must be
	b = append(b, '{')
	first := true
	k := 0
	emit := func(name string, x float64, null bool) error {
		if !first {
			b = append(b, ',')
		}
		first = false
		if valueName(name) {
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, '"')
		} else {
			q, err := json.Marshal(name) // encoding/json's escaping, HTML too
			if err != nil {
				return err
			}
			b = append(b, q...)
		}
		b = append(b, ':')
		if null {
			b = append(b, "null"...)
			return nil
		}
		var err error
		b, err = appendNumber(b, name, x)
		return err
	}
	for _, i := range sortedKnown {
		if v.present&(1<<i) == 0 {
			continue
		}
		name := knownNames[i]
		for ; k < len(extra) && extra[k] < name; k++ {
			if err := emit(extra[k], v.extra[extra[k]].v, v.extra[extra[k]].null); err != nil {
				return nil, err
			}
		}
		if err := emit(name, v.known[i], v.null&(1<<i) != 0); err != nil {
			return nil, err
		}
	}
	for ; k < len(extra); k++ {
		if err := emit(extra[k], v.extra[extra[k]].v, v.extra[extra[k]].null); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendNumber formats x as encoding/json does a float64.
func appendNumber(b []byte, name string, x float64) ([]byte, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("value %q is not a finite number", name)
	}
	format := byte('f')
	if abs := math.Abs(x); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, x, format, -1, 64)
	if format == 'e' {
		// encoding/json writes e-7, not e-07.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// UnmarshalJSON reads a JSON object of numbers and nulls: a forecast
// step's values, or a reading's on the general decoding path. The scanner
// in decode.go reads the usual object (no escapes, no repeated names)
// straight into the array; anything else goes through a map, where a
// repeated name keeps its last value, as JSON decoders do.
func (v *Values) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*v = Values{} // as a map field becomes nil
		return nil
	}
	if decodeValuesFast(data, v) {
		return nil
	}
	return v.unmarshalGeneral(data)
}

// unmarshalGeneral is UnmarshalJSON for any input, through a map.
func (v *Values) unmarshalGeneral(data []byte) error {
	var m map[string]*float64
	if err := gojson.Unmarshal(data, &m); err != nil {
		return err
	}
	*v = ValuesOf(m)
	return nil
}
