package lake

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

const benchReadings = 100_000

// benchRecords returns n stream records of the reading event's shape: 20 values
// as in a Tomorrow.io realtime response, 50 locations, one reading a minute.
func benchRecords(tb testing.TB, n int) []stream.Record {
	tb.Helper()
	names := []string{"cloudBase", "cloudCeiling", "cloudCover", "dewPoint", "freezingRainIntensity", "humidity",
		"precipitationProbability", "pressureSurfaceLevel", "rainIntensity", "sleetIntensity", "snowIntensity",
		"temperature", "temperatureApparent", "uvHealthConcern", "uvIndex", "visibility", "weatherCode",
		"windDirection", "windGust", "windSpeed"}
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	recs := make([]stream.Record, n)
	for i := range recs {
		loc := weather.Location{ID: fmt.Sprintf("city-%02d", i%50), Name: fmt.Sprintf("City %d", i%50), Lat: float64(i%50) - 25.5, Lon: float64(i%50)*3 - 75.25}
		obs := start.Add(time.Duration(i/50) * time.Minute)
		v := weather.Values{}
		for j, name := range names {
			switch {
			case name == "cloudCeiling" && i%3 == 0:
				v.SetNull(name)
			case name == "weatherCode":
				v.Set(name, 1001)
			default:
				v.Set(name, float64((i*7+j*13)%1000)/10.0)
			}
		}
		r := weather.NewReading(loc, "tomorrowio", obs, obs.Add(62123*time.Millisecond), v)
		data, err := r.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = stream.Record{Data: data, PartitionKey: loc.ID, SequenceNumber: seqNo(i), ArrivedAt: obs}
	}
	return recs
}

// heapPeak samples the live heap (as marked by the last GC, so garbage not
// yet collected does not count) until stop is called and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			rtmetrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

func liveHeap() uint64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

// runLake pushes recs through decode → ShardWriter (raw gzip + Parquet,
// file store) with one goroutine per CPU, each a shard, as the consumer does.
func runLake(b *testing.B, recs []stream.Record, decode func([]byte) (weather.Reading, error), dir string) {
	store, err := openFileStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.Flush.MaxBytes = 8 << 20
	cfg.Flush.MaxRecords = 50_000
	cfg.MaxBufferedBytes = 64 << 20
	w, err := New(cfg, store, prometheus.NewRegistry(), discardLog())
	if err != nil {
		b.Fatal(err)
	}
	shards := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, shards)
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw := w.Shard("bench", fmt.Sprintf("shard-%d", s))
			cp := &recCP{}
			batch := make([]stream.Item, 0, 500)
			lo, hi := s*len(recs)/shards, (s+1)*len(recs)/shards
			for i := lo; i < hi; i++ {
				var it stream.Item
				it.Record = recs[i]
				if decode != nil {
					it.Reading, it.Err = decode(recs[i].Data)
				} else {
					it.Reading = predecoded[i]
				}
				batch = append(batch, it)
				if len(batch) == cap(batch) || i == hi-1 {
					if err := sw.Add(context.Background(), batch, cp); err != nil {
						errs <- err
						return
					}
					batch = batch[:0]
				}
			}
			if err := sw.Flush(context.Background(), cp); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

var predecoded []weather.Reading

// BenchmarkLake measures readings/s from stream records to raw gzip +
// Parquet objects on disk (whole path: decode included unless noted), the
// peak live heap, and DuckDB's NDJSON → Parquet conversion of the same input.
func BenchmarkLake(b *testing.B) {
	recs := benchRecords(b, benchReadings)
	predecoded = make([]weather.Reading, len(recs))
	for i := range recs {
		predecoded[i], _ = weather.Decode(recs[i].Data)
	}
	rates := map[string]float64{}
	for _, c := range []struct {
		name   string
		decode func([]byte) (weather.Reading, error)
	}{
		{"weatherd/decode=weather.Decode", weather.Decode},
		{"weatherd/predecoded", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			var peak uint64
			start := time.Now()
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
				runtime.GC()
				base := liveHeap()
				stop := heapPeak()
				runLake(b, recs, c.decode, dir)
				p := stop()
				peak = max(peak, p-min(base, p))
			}
			rate := float64(len(recs)*b.N) / time.Since(start).Seconds()
			rates[c.name] = rate
			b.ReportMetric(rate, "readings/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-live-heap-MiB")
		})
	}
	b.Run("duckdb/read_ndjson-to-parquet", func(b *testing.B) {
		dir := b.TempDir()
		in := filepath.Join(dir, "in.ndjson")
		f, err := os.Create(in)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			f.Write(r.Data)
			f.Write([]byte{'\n'})
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			out := filepath.Join(dir, fmt.Sprintf("out-%d.parquet", i))
			if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_ndjson('%s')) TO '%s' (FORMAT parquet, COMPRESSION snappy)", in, out)); err != nil {
				b.Fatal(err)
			}
		}
		rate := float64(len(recs)*b.N) / time.Since(start).Seconds()
		rates["duckdb"] = rate
		b.ReportMetric(rate, "readings/s")
	})
	if d := rates["duckdb"]; d > 0 {
		for _, k := range []string{"weatherd/decode=weather.Decode", "weatherd/predecoded"} {
			if r, ok := rates[k]; ok {
				b.Logf("%s: %.0f readings/s = %.2f x DuckDB (%.0f readings/s)", k, r, r/d, d)
			}
		}
	}
}
