package lake

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weatherd/weatherd/pkg/weather"
)

func TestShardWriter_FileStoreReadByDuckDB(t *testing.T) {
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Flush.MaxRecords = 100
	w, reg := MustWriter(t, cfg, store)
	sw := w.Shard("weather-readings", "shardId-000000000001")
	cp := &recCP{}
	ctx := context.Background()

	// 250 readings over hours 0..2, then 10 late readings for hour -1
	// (the previous day's 19:00 UTC partition is 2026-11-26 hour 19).
	const n, late = 250, 10
	in := items(t, n, func(i int) int { return i % 3 })
	for i := range late {
		in = append(in, item(t, n+i, testReading(n+i, -1)))
	}
	for b := 0; b < len(in); b += 37 {
		if err := sw.Add(ctx, in[b:min(b+37, len(in))], cp); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(ctx, cp); err != nil {
		t.Fatal(err)
	}
	// A flush after every 100th record, then the shutdown flush of the rest.
	if got, want := cp.Calls(), []string{seqNo(99), seqNo(199), seqNo(259)}; !slices.Equal(got, want) {
		t.Fatalf("checkpoints = %v, want %v", got, want)
	}
	if got := w.BufferedBytes(); got != 0 {
		t.Fatalf("buffered bytes after flush = %d, want 0", got)
	}

	db := duck(t)
	t.Run("ColumnTypes", func(t *testing.T) {
		got := queryRows(t, db, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+gold(dir)+")")
		want := []string{
			"event_id|VARCHAR", "location_id|VARCHAR", "location_name|VARCHAR", "lat|DOUBLE", "lon|DOUBLE",
			"observed_at|TIMESTAMP WITH TIME ZONE", "ingested_at|TIMESTAMP WITH TIME ZONE", "provider|VARCHAR",
		}
		for _, c := range weather.Columns {
			typ := "DOUBLE"
			if c.Kind == weather.Int32 {
				typ = "INTEGER"
			}
			want = append(want, c.Column+"|"+typ)
		}
		// DuckDB appends the Hive partition columns in name order.
		want = append(want, "day|BIGINT", "hour|BIGINT", "month|BIGINT", "year|BIGINT")
		if !slices.Equal(got, want) {
			t.Fatalf("columns:\n got %v\nwant %v", got, want)
		}
	})
	t.Run("ParquetTypes", func(t *testing.T) {
		got := queryRows(t, db, "SELECT DISTINCT name, type, converted_type, repetition_type, logical_type LIKE 'TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS%' FROM parquet_schema('"+dir+"/gold/**/*.parquet') WHERE name IN ('observed_at', 'ingested_at', 'event_id', 'lat', 'weather_code', 'wind_gust') ORDER BY name")
		want := []string{
			"event_id|BYTE_ARRAY|UTF8|REQUIRED|false",
			"ingested_at|INT64|TIMESTAMP_MILLIS|REQUIRED|true",
			"lat|DOUBLE|NULL|REQUIRED|NULL",
			"observed_at|INT64|TIMESTAMP_MILLIS|REQUIRED|true",
			"weather_code|INT32|INT_32|OPTIONAL|false",
			"wind_gust|DOUBLE|NULL|OPTIONAL|NULL",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("parquet schema:\n got %v\nwant %v", got, want)
		}
	})
	t.Run("ExactRows", func(t *testing.T) {
		var sumT, sumG float64
		var rain int
		for _, it := range in {
			v, _ := it.Reading.Values.Get("temperature")
			sumT += v
			g, _ := it.Reading.Values.Get("windGust")
			sumG += g
			if _, ok := it.Reading.Values.Get("rainIntensity"); ok {
				rain++
			}
		}
		got := queryOne(t, db, "SELECT count(*), count(DISTINCT event_id), round(sum(temperature), 6), round(sum(wind_gust), 6), "+
			"count(rain_intensity), count(cloud_ceiling), count(*) FILTER (WHERE cloud_ceiling IS NULL), sum(weather_code), count(humidity) FROM "+gold(dir))
		want := fmt.Sprintf("%d|%d|%v|%v|%d|0|%d|%d|0", len(in), len(in), math.Round(sumT*1e6)/1e6, math.Round(sumG*1e6)/1e6, rain, len(in), 1001*len(in))
		if got != want {
			t.Fatalf("aggregates = %s, want %s", got, want)
		}
	})
	t.Run("OneRowExactly", func(t *testing.T) {
		got := queryOne(t, db, "SELECT event_id, location_id, location_name, lat, lon, observed_at, ingested_at, provider, temperature, wind_gust, weather_code, rain_intensity, cloud_ceiling FROM "+gold(dir)+" WHERE event_id = 'toronto/2026-11-26T21:07:00Z'")
		want := "toronto/2026-11-26T21:07:00Z|toronto|Toronto|43.65|-79.38|2026-11-26T21:07:00Z|2026-11-26T21:08:02.123Z|simulated|1.5|7.25|1001|7|NULL"
		if got != want {
			t.Fatalf("row =\n %s\nwant\n %s", got, want)
		}
	})
	t.Run("PartitionedByEventTime", func(t *testing.T) {
		got := queryRows(t, db, "SELECT year, month, day, hour, count(*), bool_and(date_part('hour', observed_at AT TIME ZONE 'UTC') = hour) FROM "+gold(dir)+" GROUP BY ALL ORDER BY ALL")
		want := []string{"2026|11|26|19|10|true", "2026|11|26|20|84|true", "2026|11|26|21|83|true", "2026|11|26|22|83|true"}
		if !slices.Equal(got, want) {
			t.Fatalf("partitions = %v, want %v", got, want)
		}
	})
	t.Run("RawAsReceived", func(t *testing.T) {
		got := queryRows(t, db, "SELECT hour, count(*) FROM "+rawNDJSON(dir)+" GROUP BY ALL ORDER BY ALL")
		want := []string{"19|10", "20|84", "21|83", "22|83"}
		if !slices.Equal(got, want) {
			t.Fatalf("raw partitions = %v, want %v", got, want)
		}
		var lines []string
		objs, err := store.List(ctx, "raw/")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			lines = append(lines, gunzipLines(t, store, o.Key)...)
		}
		var wantLines []string
		for _, it := range in {
			wantLines = append(wantLines, string(it.Record.Data))
		}
		slices.Sort(lines)
		slices.Sort(wantLines)
		if !slices.Equal(lines, wantLines) {
			t.Fatalf("raw lines differ from the records as received")
		}
	})
	t.Run("ObjectNames", func(t *testing.T) {
		objs, err := store.List(ctx, "gold/year=2026/month=11/day=26/hour=19/")
		if err != nil {
			t.Fatal(err)
		}
		// The late readings 250..259 all came in the last flush.
		if len(objs) != 1 || objs[0].Key != "gold/year=2026/month=11/day=26/hour=19/weather-readings-shardId-000000000001-"+seqNo(250)+".parquet" {
			t.Fatalf("hour 19 objects = %v", objs)
		}
		all, _ := store.List(ctx, "")
		var kinds = map[string]int{}
		for _, o := range all {
			kinds[strings.SplitN(o.Key, "/", 2)[0]]++
		}
		// 3 flushes x 3 hours + the late hour, raw and gold each.
		if kinds["raw"] != 10 || kinds["gold"] != 10 || kinds["errors"] != 0 {
			t.Fatalf("objects per kind = %v", kinds)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		if got := testutil.ToFloat64(w.m.objects.WithLabelValues("gold")); got != 10 {
			t.Fatalf("gold objects metric = %v, want 10", got)
		}
		if got := testutil.ToFloat64(w.m.unknownValues); got != float64(len(in)) {
			t.Fatalf("unknown values metric = %v, want %d", got, len(in))
		}
		if n, err := testutil.GatherAndCount(reg, "weatherd_lake_flush_duration_seconds"); err != nil || n != 1 {
			t.Fatalf("flush histogram: %d %v", n, err)
		}
	})
}

func TestShardWriter_Tick(t *testing.T) {
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Flush.MaxAge = 30 * time.Second
	w, _ := MustWriter(t, cfg, store)
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	sw := w.Shard("s", "shard-1")
	cp := &recCP{}
	ctx := context.Background()
	if err := sw.Add(ctx, items(t, 3, func(int) int { return 0 }), cp); err != nil {
		t.Fatal(err)
	}
	now = now.Add(29 * time.Second)
	if err := sw.Tick(ctx, cp); err != nil || len(cp.Calls()) != 0 {
		t.Fatalf("tick before max_age: err %v, checkpoints %v", err, cp.Calls())
	}
	now = now.Add(time.Second)
	if err := sw.Tick(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if got := cp.Calls(); !slices.Equal(got, []string{seqNo(2)}) {
		t.Fatalf("checkpoints = %v", got)
	}
	if err := sw.Tick(ctx, cp); err != nil || len(cp.Calls()) != 1 {
		t.Fatalf("idle tick: err %v, checkpoints %v", err, cp.Calls())
	}
}

func TestShardWriter_ZSTD(t *testing.T) {
	store, dir := MustFileStore(t)
	cfg := testConfig(dir)
	cfg.Parquet.Compression = "zstd"
	cfg.Parquet.RowGroupRows = 10
	w, _ := MustWriter(t, cfg, store)
	sw := w.Shard("s", "z")
	cp := &recCP{}
	in := items(t, 25, func(int) int { return 0 })
	if err := sw.Add(context.Background(), in, cp); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	db := duck(t)
	// 25 rows in row groups of at most 10, every column chunk ZSTD.
	got := queryOne(t, db, "SELECT count(DISTINCT row_group_id), max(row_group_num_rows), string_agg(DISTINCT compression, ',') FROM parquet_metadata('"+dir+"/gold/**/*.parquet')")
	if got != "3|10|ZSTD" {
		t.Fatalf("row groups, max rows, codecs = %s, want 3|10|ZSTD", got)
	}
	assertExactlyOnce(t, dir, in)
}

func TestParquetEncoder_NoEmptyFile(t *testing.T) {
	e, err := newParquetEncoder(ParquetConfig{Compression: "snappy", RowGroupRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.encodeBuffered(nil, 0); err == nil || err.Error() != "parquet: refusing to write a file with no rows" {
		t.Fatalf("encode(nil) = %v", err)
	}
}
