package lake

import (
	"bytes"
	"context"
	"fmt"
	"math/bits"
	"sort"
	"time"

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

// forecastPart is one issued_at hour of a shard's buffered forecasts.
type forecastPart struct {
	hour     time.Time
	firstSeq string
	bodies   [][]byte
	rows     []forecastRow
}

// forecastRowSize estimates the memory of one buffered forecastRow with
// its values, for the buffer budget.
const forecastRowSize = 512

// addForecast buffers f, decoded from rec, copying its values into the
// rows (the caller may reuse f).
func (b *buffer) addForecast(rec stream.Record, f *weather.Forecast) {
	hour := f.IssuedAt.UTC().Truncate(time.Hour)
	p := b.fcast[hour.Unix()]
	if p == nil {
		p = &forecastPart{hour: hour, firstSeq: rec.SequenceNumber}
		b.fcast[hour.Unix()] = p
	}
	p.bodies = append(p.bodies, rec.Data)
	for _, st := range f.Steps {
		p.rows = append(p.rows, newForecastRow(f, st))
	}
}

// newForecastRow is the gold row of one step of f. A null value is an absent
// one; values without a column stay in forecast/raw/ only.
func newForecastRow(f *weather.Forecast, st weather.ForecastStep) forecastRow {
	row := forecastRow{
		EventID:      f.EventID,
		LocationID:   f.Location.ID,
		LocationName: f.Location.Name,
		Lat:          f.Location.Lat,
		Lon:          f.Location.Lon,
		IssuedAt:     f.IssuedAt.UTC(),
		ValidAt:      st.ValidAt.UTC(),
		LeadHours:    f.Lead(st).Hours(),
		IngestedAt:   f.IngestedAt.UTC(),
		Provider:     f.Provider,
	}
	set, vals := st.Values.Numbers()
	for m := set & goldMask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		x := vals[i]
		row.setColumn(i, &x, nil)
	}
	return row
}

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
			data, err := s.w.encode(func() ([]byte, error) { return s.w.enc.encodeForecasts(p.rows) })
			if err != nil {
				return fmt.Errorf("encode %s: %w", key, err)
			}
			return s.put(ctx, kindForecastGold, key, data)
		})
	}
}

// encodeForecasts returns a Parquet file of rows, with the gold files'
// compression. Forecast files are small and few (one per partition per
// flush), so their writer is not pooled.
func (e *parquetEncoder) encodeForecasts(rows []forecastRow) ([]byte, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("parquet: refusing to write a file with no rows")
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[forecastRow](&buf,
		parquet.Compression(e.codec),
		parquet.MaxRowsPerRowGroup(e.rowGroupRows),
		parquet.CreatedBy("weatherd", "", ""),
	)
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("parquet: write forecast rows: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet: close: %w", err)
	}
	return buf.Bytes(), nil
}
