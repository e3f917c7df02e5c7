package lake

import (
	"math/bits"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// numValueColumns is the number of value columns; bufValues.present has a
// bit for each.
const numValueColumns = len(weather.Columns)

// A compile error here means bufValues.present needs a wider type.
var _ [32 - numValueColumns]struct{}

// goldMask has the bits of weather.Values' known slots that are gold
// columns: slot i < numValueColumns is weather.Columns[i].
const goldMask = 1<<numValueColumns - 1

// bufValues are a buffered row's value columns: the values inline, with a
// bit per present one. A null value is an absent one.
type bufValues struct {
	present uint32 // bit i: weather.Columns[i] has a value
	vals    [numValueColumns]float64
}

// set fills b from v and reports how many of v's values have no gold
// column (they stay in raw/ only).
func (b *bufValues) set(v *weather.Values) (unknown int) {
	set, vals := v.Numbers()
	b.present = uint32(set & goldMask)
	for m := b.present; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		b.vals[i] = vals[i]
	}
	return v.Len() - bits.OnesCount64(v.Present()&goldMask)
}

// bufRow is how a shard buffers one gold row until its flush: the fixed
// fields and the values inline. It holds four pointers (the strings) where
// a Row holds one per value, so the buffer — the long-lived part of the
// heap — is cheap for the garbage collector to scan while it fills, and the
// decoded reading can go at once.
type bufRow struct {
	eventID, locationID, locationName, provider string
	lat, lon                                    float64
	observedAt, ingestedAt                      time.Time // UTC
	values                                      bufValues
}

// set fills b from r and reports how many values have no gold column.
func (b *bufRow) set(r *weather.Reading) (unknown int) {
	*b = bufRow{
		eventID:      r.EventID,
		locationID:   r.Location.ID,
		locationName: r.Location.Name,
		provider:     r.Provider,
		lat:          r.Location.Lat,
		lon:          r.Location.Lon,
		observedAt:   r.ObservedAt.UTC(),
		ingestedAt:   r.IngestedAt.UTC(),
	}
	return b.values.set(&r.Values)
}
