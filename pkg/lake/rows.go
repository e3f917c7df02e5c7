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
func (b *bufRow) set(r weather.Reading) (unknown int) {
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
	for name, v := range r.Values {
		i, ok := columnOf(name)
		if !ok {
			unknown++
			continue
		}
		if v != nil {
			b.present |= 1 << i
			b.vals[i] = *v
		}
	}
	return unknown
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
