package lake

import (
	"math/bits"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// numValueColumns is the number of value columns; bufRow.present has a bit
// for each.
const numValueColumns = len(weather.Columns)

// A compile error here means bufRow.present needs a wider type.
var _ [32 - numValueColumns]struct{}

// goldMask has the bits of weather.Values' known slots that are gold
// columns: slot i < numValueColumns is weather.Columns[i].
const goldMask = 1<<numValueColumns - 1

// bufRow is how a shard buffers one gold row until its flush: the fixed
// fields and the values inline, with a bit per present value. It holds four
// pointers (the strings) where a Row holds one per value, so the buffer —
// the long-lived part of the heap — is cheap for the garbage collector to
// scan while it fills, and the decoded reading's map can go at once.
type bufRow struct {
	eventID, locationID, locationName, provider string
	lat, lon                                    float64
	observedAt, ingestedAt                      time.Time // UTC
	present                                     uint32    // bit i: weather.Columns[i] has a value
	vals                                        [numValueColumns]float64
}

// set fills b from r and reports how many values have no gold column
// (they stay in raw/ only). A null value is an absent one.
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
	set, vals := r.Values.Numbers()
	b.present = uint32(set & goldMask)
	for m := b.present; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		b.vals[i] = vals[i]
	}
	// Known names past the gold columns and unknown ones stay in raw/ only.
	return r.Values.Len() - bits.OnesCount64(r.Values.Present()&goldMask)
}

// toRow sets row from b; the row points into b, so b must outlive its use.
func (b *bufRow) toRow(row *Row, ints *int32Slab) {
	*row = Row{
		EventID:      b.eventID,
		LocationID:   b.locationID,
		LocationName: b.locationName,
		Lat:          b.lat,
		Lon:          b.lon,
		ObservedAt:   b.observedAt,
		IngestedAt:   b.ingestedAt,
		Provider:     b.provider,
	}
	for m := b.present; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		row.setColumn(i, &b.vals[i], ints)
	}
}
