package lake

import (
	"context"
	"fmt"
	"sort"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Forecasts go through the same shard buffer, flush and checkpoint as
// readings, so they are written exactly once in the same way: a forecast
// event is partitioned by its issued_at hour, its body goes to
// forecast/raw/ and its steps, one row each, to forecast/gold/, under the
// same deterministic object names as the readings of that flush.

// forecastPart is one issued_at hour of a shard's buffered forecasts: their
// bodies for forecast/raw/ and their steps for forecast/gold/, kept compact
// and in chunks as goldPart's rows are. At 100,000 locations an hourly
// forecast round is ten million steps, so a step holds its values inline
// and shares its forecast's fields.
type forecastPart struct {
	hour     time.Time
	firstSeq string
	bodies   [][]byte
	steps    [][]bufStep
	n        int // steps in all chunks
}

// bufForecast is a buffered forecast's fields, shared by its steps.
type bufForecast struct {
	eventID, locationID, locationName, provider string
	lat, lon                                    float64
	issuedAt, ingestedAt                        time.Time // UTC
}

// bufStep is one buffered forecast step, a gold forecast row to be.
type bufStep struct {
	forecast  *bufForecast
	leadHours float64
	validAt   time.Time // UTC
	values    bufValues
}

// forecastRowSize is the memory of one buffered step, for the buffer
// budget (its forecast's fields count in the item's fixed 512 bytes).
const forecastRowSize = int64(unsafe.Sizeof(bufStep{}))

// addForecast buffers f, decoded from rec, copying its values (the caller
// may reuse f).
func (b *buffer) addForecast(rec stream.Record, f *weather.Forecast) {
	hour := f.IssuedAt.UTC().Truncate(time.Hour)
	p := b.fcast[hour.Unix()]
	if p == nil {
		p = &forecastPart{hour: hour, firstSeq: rec.SequenceNumber}
		b.fcast[hour.Unix()] = p
	}
	p.bodies = append(p.bodies, rec.Data)
	bf := &bufForecast{
		eventID:      f.EventID,
		locationID:   f.Location.ID,
		locationName: f.Location.Name,
		provider:     f.Provider,
		lat:          f.Location.Lat,
		lon:          f.Location.Lon,
		issuedAt:     f.IssuedAt.UTC(),
		ingestedAt:   f.IngestedAt.UTC(),
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		p.steps = growChunks(p.steps, newStepChunk)
		c := &p.steps[len(p.steps)-1]
		*c = append(*c, bufStep{forecast: bf, leadHours: f.Lead(*st).Hours(), validAt: st.ValidAt.UTC()})
		(*c)[len(*c)-1].values.set(&st.Values)
		p.n++
	}
}

func newStepChunk(n int) []bufStep { return make([]bufStep, 0, n) }

// writeForecasts adds the puts of b's forecast objects to g.
func (s *ShardWriter) writeForecasts(ctx context.Context, g *errgroup.Group, b *buffer) {
	hours := make([]int64, 0, len(b.fcast))
	for h := range b.fcast {
		hours = append(hours, h)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i] < hours[j] })
	for _, h := range hours {
		p := b.fcast[h]
		name := objectName(s.stream, s.shard, p.firstSeq)
		g.Go(func() error {
			key := objectKey(kindForecastRaw, p.hour, name)
			data, err := s.w.encode(func() ([]byte, error) { return encodeRaw(p.bodies, &s.w.rawSize) })
			if err != nil {
				return fmt.Errorf("encode %s: %w", key, err)
			}
			return s.put(ctx, kindForecastRaw, key, data)
		})
		g.Go(func() error {
			key := objectKey(kindForecastGold, p.hour, name)
			data, err := s.w.encode(func() ([]byte, error) { return s.w.enc.encodeForecasts(p.steps, p.n) })
			if err != nil {
				return fmt.Errorf("encode %s: %w", key, err)
			}
			return s.put(ctx, kindForecastGold, key, data)
		})
	}
}

// encodeForecasts returns a Parquet file of the n buffered steps (in
// chunks), with the gold files' compression.
func (e *parquetEncoder) encodeForecasts(chunks [][]bufStep, n int) ([]byte, error) {
	return encodeFile(&e.forecasts, n, &e.forecastSize, func(w *parquet.GenericWriter[forecastRow]) error {
		return forecastLayout.write(w, chunks, e.rowGroupRows)
	})
}
