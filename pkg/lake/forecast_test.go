package lake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// forecastItem is f encoded as the stream record with sequence number
// seqNo(i), decoded the way the pipeline decodes forecasts.
func forecastItem(tb testing.TB, i int, f weather.Forecast) stream.Item {
	tb.Helper()
	data, err := f.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	got, err := weather.DecodeForecast(data)
	if err != nil {
		tb.Fatal(err)
	}
	return stream.Item{Record: stream.Record{Data: data, PartitionKey: f.PartitionKey(), SequenceNumber: seqNo(i),
		ArrivedAt: f.IssuedAt.Add(time.Second)}, Forecast: &got}
}

// testForecast is a forecast for loc issued at issued, one step per lead
// (hours), with the values vals(lead) returns.
func testForecast(loc weather.Location, issued time.Time, leads []int, vals func(lead int) weather.Values) weather.Forecast {
	var steps []weather.ForecastStep
	for _, l := range leads {
		steps = append(steps, weather.ForecastStep{ValidAt: issued.Add(time.Duration(l) * time.Hour), Values: vals(l)})
	}
	return weather.NewForecast(loc, "simulated", issued, issued.Add(2*time.Second), steps)
}

func forecastGold(dir string) string {
	return fmt.Sprintf("read_parquet('%s', hive_partitioning=true)", filepath.Join(dir, "forecast/gold/**/*.parquet"))
}

// forecastColumns is the forecast table's schema as Athena and DuckDB see
// it, written out by hand (see goldColumns).
var forecastColumns = append([]string{
	"event_id BYTE_ARRAY STRING required",
	"location_id BYTE_ARRAY STRING required",
	"location_name BYTE_ARRAY STRING required",
	"lat DOUBLE - required",
	"lon DOUBLE - required",
	"issued_at INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) required",
	"valid_at INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) required",
	"lead_hours DOUBLE - required",
	"ingested_at INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) required",
	"provider BYTE_ARRAY STRING required",
}, goldColumns[8:]...)

// TestShardWriter_Forecasts: forecasts and readings in one shard's batches
// go through one flush and one checkpoint; the forecasts land in
// forecast/raw/ and in the forecast gold table, partitioned by issued_at
// hour, one row per step with its lead time, and read back with DuckDB;
// the readings' tables do not see them.
func TestShardWriter_Forecasts(t *testing.T) {
	store, dir := MustFileStore(t)
	w, reg := MustWriter(t, testConfig(dir), store)
	sw := w.Shard("weather-readings", "shardId-000000000001")
	cp := &recCP{}
	ctx := context.Background()

	issued := baseHour.Add(30 * time.Minute) // 20:30, not on the hour
	sp := testForecast(testLocations[0], issued, []int{0, 1, 2}, func(l int) weather.Values {
		v := weather.Values{}
		v.Set("temperature", 20-float64(l))
		v.Set("weatherCode", 1001)
		if l == 1 {
			v.SetNull("windGust")
		} else {
			v.Set("windGust", 10+float64(l))
		}
		v.Set("temperatureMax", 30) // no column: forecast/raw/ only
		return v
	})
	to := testForecast(testLocations[1], baseHour.Add(time.Hour), []int{1}, func(int) weather.Values {
		v := weather.Values{}
		v.Set("temperature", -2)
		return v
	})
	in := []stream.Item{item(t, 0, testReading(0, 0)), forecastItem(t, 1, sp), item(t, 2, testReading(2, 0)), forecastItem(t, 3, to)}
	if err := sw.Add(ctx, in, cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if got, want := cp.Calls(), []string{seqNo(3)}; !slices.Equal(got, want) {
		t.Fatalf("checkpoints = %v, want %v", got, want)
	}
	name := objectName("weather-readings", "shardId-000000000001", seqNo(1))
	keys, err := store.List(ctx, "forecast/")
	if err != nil {
		t.Fatal(err)
	}
	var gotKeys []string
	for _, k := range keys {
		gotKeys = append(gotKeys, k.Key)
	}
	name3 := objectName("weather-readings", "shardId-000000000001", seqNo(3))
	wantKeys := []string{
		"forecast/gold/year=2026/month=11/day=26/hour=20/" + name + ".parquet",
		"forecast/gold/year=2026/month=11/day=26/hour=21/" + name3 + ".parquet",
		"forecast/raw/year=2026/month=11/day=26/hour=20/" + name + ".json.gz",
		"forecast/raw/year=2026/month=11/day=26/hour=21/" + name3 + ".json.gz",
	}
	slices.Sort(gotKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("forecast objects\n got %q\nwant %q", gotKeys, wantKeys)
	}
	if got := gunzipLines(t, store, wantKeys[2]); len(got) != 1 || !strings.Contains(got[0], `"temperatureMax":30`) {
		t.Errorf("forecast/raw/ lines = %q", got)
	}
	if got := testCounterVec(t, reg, "weatherd_lake_objects_written_total", "kind", kindForecastGold); got != 2 {
		t.Errorf("forecast_gold objects counted = %v, want 2", got)
	}

	db := duck(t)
	got := queryRows(t, db, `SELECT location_id, location_name, issued_at, valid_at, lead_hours, temperature, wind_gust, weather_code, provider, hour
		FROM `+forecastGold(dir)+` ORDER BY location_id, valid_at`)
	want := []string{
		"sao-paulo|São Paulo|2026-11-26T20:30:00Z|2026-11-26T20:30:00Z|0|20|10|1001|simulated|20",
		"sao-paulo|São Paulo|2026-11-26T20:30:00Z|2026-11-26T21:30:00Z|1|19|NULL|1001|simulated|20",
		"sao-paulo|São Paulo|2026-11-26T20:30:00Z|2026-11-26T22:30:00Z|2|18|12|1001|simulated|20",
		"toronto|Toronto|2026-11-26T21:00:00Z|2026-11-26T22:00:00Z|1|-2|NULL|NULL|simulated|21",
	}
	if !slices.Equal(got, want) {
		t.Errorf("forecast table\n got %q\nwant %q", got, want)
	}
	if got := queryOne(t, db, "SELECT count(*) FROM "+gold(dir)); got != "2" {
		t.Errorf("readings gold rows = %s, want 2 (the forecasts are not readings)", got)
	}
	if got := queryOne(t, db, "SELECT count(*) FROM "+rawNDJSON(dir)); got != "2" {
		t.Errorf("readings raw lines = %s, want 2", got)
	}
}

// TestForecastGold_SchemaIsPinned: the forecast table's columns as
// written, and as deploy/athena/tables.sql declares them.
func TestForecastGold_SchemaIsPinned(t *testing.T) {
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 700})
	if err != nil {
		t.Fatal(err)
	}
	f := testForecast(testLocations[0], baseHour, []int{1}, func(int) weather.Values { return weather.Values{} })
	b := newBuffer()
	b.addForecast(stream.Record{SequenceNumber: "1"}, &f)
	if len(b.fcast) != 1 {
		t.Fatalf("buffered %d forecast partitions, want 1", len(b.fcast))
	}
	var data []byte
	for _, p := range b.fcast {
		data, err = e.encodeForecasts(p.steps, p.n)
	}
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range pf.Schema().Fields() {
		got = append(got, describeColumn(c))
	}
	if !slices.Equal(got, forecastColumns) {
		t.Errorf("forecast schema changed\n got %q\nwant %q", got, forecastColumns)
	}

	ddl, err := os.ReadFile("../../deploy/athena/tables.sql")
	if err != nil {
		t.Fatal(err)
	}
	s := string(ddl)
	start := strings.Index(s, "weatherd.forecasts (")
	end := strings.Index(s[start:], "\n)")
	var cols []string
	for _, line := range strings.Split(s[start:start+end], "\n")[1:] {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ","))
		cols = append(cols, f[0]+" "+f[1])
	}
	athena := map[string]string{"BYTE_ARRAY": "string", "DOUBLE": "double", "INT32": "int", "INT64": "timestamp"}
	var wantDDL []string
	for _, c := range forecastColumns {
		f := strings.Fields(c)
		wantDDL = append(wantDDL, f[0]+" "+athena[f[1]])
	}
	if !slices.Equal(cols, wantDDL) {
		t.Errorf("tables.sql weatherd.forecasts columns\n got %q\nwant %q", cols, wantDDL)
	}
	for _, kind := range []string{"forecast/gold", "forecast/raw"} {
		if !strings.Contains(s, "'storage.location.template' = 's3://YOUR-BUCKET/weatherd/"+kind+"/year=${year}/month=${month}/day=${day}/hour=${hour}/'") {
			t.Errorf("no projection template for %s/", kind)
		}
	}
}

// TestForecastAccuracyQuery runs deploy/athena/queries.sql's
// forecast-accuracy query, unchanged, in DuckDB over a lake this test
// writes: readings every 10 minutes at two locations and forecasts with
// known errors, including a step no reading covers and a null value.
func TestForecastAccuracyQuery(t *testing.T) {
	store, dir := MustFileStore(t)
	w, _ := MustWriter(t, testConfig(dir), store)
	sw := w.Shard("weather-readings", "shardId-000000000000")
	cp := &recCP{}
	ctx := context.Background()

	a := weather.Location{ID: "a", Name: "A"}
	b := weather.Location{ID: "b", Name: "B"}
	var in []stream.Item
	seq := 0
	add := func(it stream.Item) { in = append(in, it); seq++ }
	// Readings 20:00 .. 02:00 every 10 minutes. At a the temperature
	// alternates 9 and 11 (any hour's window averages 10), the gust is 5;
	// at b they are 20 and 10.
	for k := 0; k <= 36; k++ {
		at := baseHour.Add(time.Duration(k) * 10 * time.Minute)
		va := weather.Values{}
		va.Set("temperature", 10+float64(2*(k%2)-1))
		va.Set("windGust", 5)
		add(item(t, seq, weather.NewReading(a, "simulated", at, at, va)))
		vb := weather.Values{}
		vb.Set("temperature", 20)
		vb.Set("windGust", 10)
		add(item(t, seq, weather.NewReading(b, "simulated", at, at, vb)))
	}
	// Errors (forecast - observed) per lead, temperature / gust:
	//   a@20:00: +0.5/-1, +1/-2, +1.5/-3
	//   a@21:00: -0.5/+1, +2/0, 0/null, and lead 6 (03:00) has no reading within 30 min
	//   b@20:00: +1/+2 at lead 1
	vals := func(temp float64, gust *float64) weather.Values {
		v := weather.Values{}
		v.Set("temperature", temp)
		if gust != nil {
			v.Set("windGust", *gust)
		} else {
			v.SetNull("windGust")
		}
		return v
	}
	g := func(x float64) *float64 { return &x }
	f1 := map[int]weather.Values{1: vals(10.5, g(4)), 2: vals(11, g(3)), 3: vals(11.5, g(2))}
	f2 := map[int]weather.Values{1: vals(9.5, g(6)), 2: vals(12, g(5)), 3: vals(10, nil), 6: vals(0, g(0))}
	f3 := map[int]weather.Values{1: vals(21, g(12))}
	add(forecastItem(t, seq, testForecast(a, baseHour, []int{1, 2, 3}, func(l int) weather.Values { return f1[l] })))
	add(forecastItem(t, seq, testForecast(a, baseHour.Add(time.Hour), []int{1, 2, 3, 6}, func(l int) weather.Values { return f2[l] })))
	add(forecastItem(t, seq, testForecast(b, baseHour, []int{1}, func(l int) weather.Values { return f3[l] })))
	if err := sw.Add(ctx, in, cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}

	db := duck(t)
	for _, stmt := range []string{
		"CREATE SCHEMA weatherd",
		"CREATE VIEW weatherd.readings AS SELECT * FROM " + gold(dir),
		"CREATE VIEW weatherd.forecasts AS SELECT * FROM " + forecastGold(dir),
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	got := queryRows(t, db, athenaQuery(t, "forecast-accuracy"))
	// lead | steps | temperature bias, MAE, RMSE | gust MAE
	want := []string{
		"1|3|0.33|0.67|0.71|1.33", // errors +0.5, -0.5, +1; gusts 1, 1, 2
		"2|2|1.5|1.5|1.58|1",      // +1, +2; gusts 2, 0
		"3|2|0.75|0.75|1.06|3",    // +1.5, 0; gusts 3 and a null
	}
	if !slices.Equal(got, want) {
		t.Errorf("forecast accuracy\n got %q\nwant %q", got, want)
	}
}

// athenaQuery returns the statement of deploy/athena/queries.sql that
// follows the comment starting with "-- name:", without its comments.
func athenaQuery(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("../../deploy/athena/queries.sql")
	if err != nil {
		tb.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n-- "+name+":")
	if i < 0 {
		tb.Fatalf("queries.sql has no query %q", name)
	}
	var q strings.Builder
	for _, line := range strings.Split(s[i+1:], "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		if end := strings.Index(line, ";"); end >= 0 {
			q.WriteString(line[:end])
			return q.String()
		}
		q.WriteString(line + "\n")
	}
	tb.Fatalf("query %q has no end", name)
	return ""
}

// TestForecastPart_ChunksReadBack: forecasts buffered over several chunks
// of steps (more than maxRowChunk in all), two buffers merged as after a
// failed flush, come back from the Parquet file row for row: each step's
// forecast fields, lead, values, nulls and code columns.
func TestForecastPart_ChunksReadBack(t *testing.T) {
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	leads := make([]int, 96)
	for i := range leads {
		leads[i] = i + 1
	}
	vals := func(loc int) func(int) weather.Values {
		return func(lead int) weather.Values {
			var v weather.Values
			v.Set("temperature", float64(loc*1000+lead)/10)
			v.Set("weatherCode", float64(1000+lead))
			if lead%5 == 0 {
				v.SetNull("windGust")
			} else {
				v.Set("windGust", float64(lead))
			}
			v.Set("notAColumn", 1)
			return v
		}
	}
	first, second := newBuffer(), newBuffer()
	var want []weather.Forecast
	for i := range 14 {
		loc := weather.Location{ID: fmt.Sprintf("loc-%02d", i), Name: fmt.Sprintf("Place %d", i), Lat: float64(i), Lon: -float64(i)}
		f := testForecast(loc, baseHour, leads, vals(i))
		b := first
		if i >= 9 {
			b = second
		}
		b.addForecast(stream.Record{SequenceNumber: seqNo(i)}, &f)
		want = append(want, f)
	}
	second.prepend(first)
	if len(second.fcast) != 1 {
		t.Fatalf("%d forecast partitions, want 1", len(second.fcast))
	}
	var p *forecastPart
	for _, p = range second.fcast {
	}
	if p.n != 14*96 || len(p.bodies) != 14 || p.firstSeq != seqNo(0) {
		t.Fatalf("merged part: %d steps, %d bodies, first %s; want 1344, 14, %s", p.n, len(p.bodies), p.firstSeq, seqNo(0))
	}
	rows := encodeForecastsBack(t, e, p)
	if len(rows) != 14*96 {
		t.Fatalf("read %d rows, want %d", len(rows), 14*96)
	}
	for i, f := range want {
		for j, st := range f.Steps {
			r := rows[i*96+j]
			lead := j + 1
			temp, _ := st.Values.Get("temperature")
			ok := r.EventID == f.EventID && r.LocationID == f.Location.ID && r.LocationName == f.Location.Name &&
				r.Lat == f.Location.Lat && r.Lon == f.Location.Lon && r.Provider == f.Provider &&
				r.IssuedAt.Equal(f.IssuedAt) && r.ValidAt.Equal(st.ValidAt) && r.IngestedAt.Equal(f.IngestedAt.Truncate(time.Millisecond)) &&
				r.LeadHours == float64(lead) &&
				r.Temperature != nil && *r.Temperature == temp &&
				r.WeatherCode != nil && *r.WeatherCode == int32(1000+lead) &&
				(lead%5 == 0) == (r.WindGust == nil) && (r.WindGust == nil || *r.WindGust == float64(lead)) &&
				r.Humidity == nil
			if !ok {
				t.Fatalf("row %d (forecast %d, step %d): %+v", i*96+j, i, j, r)
			}
		}
	}
}

// TestEncodeForecasts_ReusedWriters: forecast files of different sizes
// through one encoder, whose writers are pooled and reused, each read back
// whole and with its own forecasts' ids.
func TestEncodeForecasts_ReusedWriters(t *testing.T) {
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 500})
	if err != nil {
		t.Fatal(err)
	}
	vals := func(lead int) weather.Values {
		var v weather.Values
		v.Set("temperature", float64(lead))
		return v
	}
	for round, n := range []int{12, 1, 7, 30} {
		b := newBuffer()
		leads := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}
		for i := range n {
			loc := weather.Location{ID: fmt.Sprintf("r%d-loc-%02d", round, i), Name: "P"}
			f := testForecast(loc, baseHour, leads, vals)
			b.addForecast(stream.Record{SequenceNumber: seqNo(i)}, &f)
		}
		for _, p := range b.fcast {
			rows := encodeForecastsBack(t, e, p)
			if len(rows) != n*24 {
				t.Fatalf("round %d: read %d rows, want %d", round, len(rows), n*24)
			}
			for i, r := range rows {
				if want := fmt.Sprintf("r%d-loc-%02d", round, i/24); r.LocationID != want || r.LeadHours != float64(i%24+1) {
					t.Fatalf("round %d: row %d is %s lead %v, want %s lead %d", round, i, r.LocationID, r.LeadHours, want, i%24+1)
				}
			}
		}
	}
}

// encodeForecastsBack encodes p's steps with e and reads the file back.
func encodeForecastsBack(t *testing.T, e *parquetEncoder, p *forecastPart) []forecastRow {
	t.Helper()
	data, err := e.encodeForecasts(p.steps, p.n)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[forecastRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
