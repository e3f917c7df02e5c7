package lake

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// testConfig is a valid lake config writing to dir with flushes only on
// shutdown unless the test lowers a trigger.
func testConfig(dir string) Config {
	return Config{
		URL:              "file://" + dir,
		Flush:            FlushConfig{MaxAge: time.Hour, MaxBytes: 1 << 30, MaxRecords: 1 << 30},
		MaxBufferedBytes: 1 << 30,
		Parquet:          ParquetConfig{Compression: "snappy", RowGroupRows: 1000},
		Compaction: CompactionConfig{Schedule: "@every 1h", MinAge: 2 * time.Hour, Lookback: 48 * time.Hour,
			MaxInputBytes: 1 << 30},
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// MustWriter returns a Writer over store with a fresh registry.
func MustWriter(tb testing.TB, cfg Config, store Store) (*Writer, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	w, err := New(cfg, store, reg, discardLog())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return w, reg
}

// MustFileStore opens a file store in a fresh temp dir.
func MustFileStore(tb testing.TB) (*fileStore, string) {
	tb.Helper()
	dir := tb.TempDir()
	s, err := openFileStore(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return s, dir
}

// recCP is a Checkpointer that records its calls and can be told to fail.
type recCP struct {
	mu    sync.Mutex
	calls []string
	fail  func(seq string) error
}

func (c *recCP) Checkpoint(_ context.Context, seq string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(seq); err != nil {
			return err
		}
	}
	c.calls = append(c.calls, seq)
	return nil
}

func (c *recCP) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// seqNo returns a Kinesis-like 56-digit sequence number for i.
func seqNo(i int) string { return fmt.Sprintf("4959%052d", i) }

var testLocations = []weather.Location{
	{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63},
	{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38},
	{ID: "lisbon", Name: "Lisbon", Lat: 38.72, Lon: -9.14},
}

var baseHour = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

// testReading is reading i: location i%3, observed at baseHour + hour (+ i
// minutes within the hour), with a few values, an explicit null, a missing
// value on every 4th reading and a value without a gold column.
func testReading(i, hour int) weather.Reading {
	loc := testLocations[i%len(testLocations)]
	obs := baseHour.Add(time.Duration(hour)*time.Hour + time.Duration(i%60)*time.Minute + time.Duration(i/60)*time.Second)
	v := weather.Values{}
	v.Set("temperature", float64(i%40)-5.5)
	v.Set("windGust", float64(i%25)+0.25)
	v.Set("weatherCode", 1001)
	v.SetNull("cloudCeiling")
	if i%4 != 0 {
		v.Set("rainIntensity", float64(i%8))
	}
	v.Set("someNewValue", 1)
	return weather.NewReading(loc, "simulated", obs, obs.Add(62*time.Second+123*time.Millisecond), v)
}

// item encodes r as a stream record with sequence number seqNo(i) and
// decodes it the way the pipeline does.
func item(tb testing.TB, i int, r weather.Reading) stream.Item {
	tb.Helper()
	data, err := r.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return decodeItem(i, data)
}

func decodeItem(i int, data []byte) stream.Item {
	rec := stream.Record{Data: data, PartitionKey: "p", SequenceNumber: seqNo(i),
		ArrivedAt: baseHour.Add(10*time.Hour + time.Duration(i)*time.Millisecond)}
	rd, err := weather.Decode(data)
	return stream.Item{Record: rec, Reading: rd, Err: err}
}

// items returns n readings spread over hours by hourOf(i).
func items(tb testing.TB, n int, hourOf func(i int) int) []stream.Item {
	out := make([]stream.Item, n)
	for i := range out {
		out[i] = item(tb, i, testReading(i, hourOf(i)))
	}
	return out
}

func randomHours(seed uint64, hours int) func(int) int {
	r := rand.New(rand.NewPCG(seed, 7))
	memo := map[int]int{}
	return func(i int) int {
		if h, ok := memo[i]; ok {
			return h
		}
		memo[i] = r.IntN(hours)
		return memo[i]
	}
}

// duck opens an in-memory DuckDB.
func duck(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func gold(dir string) string {
	return fmt.Sprintf("read_parquet('%s', hive_partitioning=true)", filepath.Join(dir, "gold/**/*.parquet"))
}

func rawNDJSON(dir string) string {
	return fmt.Sprintf("read_ndjson('%s', hive_partitioning=true, format='newline_delimited')", filepath.Join(dir, "raw/**/*.json.gz"))
}

// queryRows runs q and returns every row as strings joined by "|".
func queryRows(tb testing.TB, db *sql.DB, q string) []string {
	tb.Helper()
	rows, err := db.Query(q)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				parts[i] = "NULL"
			case time.Time:
				parts[i] = x.UTC().Format(time.RFC3339Nano)
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func queryOne(tb testing.TB, db *sql.DB, q string) string {
	tb.Helper()
	r := queryRows(tb, db, q)
	if len(r) != 1 {
		tb.Fatalf("%s: got %d rows, want 1", q, len(r))
	}
	return r[0]
}

func gunzipLines(tb testing.TB, s Store, key string) []string {
	tb.Helper()
	data, err := s.Get(context.Background(), key)
	if err != nil {
		tb.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("%s: %v", key, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("%s: %v", key, err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// counterValue returns the value of a counter or gauge in reg, summed over
// its series.
func counterValue(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			// The sum over every series of a labelled counter.
			var sum float64
			for _, m := range mf.GetMetric() {
				if m.Counter != nil {
					sum += m.Counter.GetValue()
				} else {
					sum += m.Gauge.GetValue()
				}
			}
			return sum
		}
	}
	tb.Fatalf("metric %s not registered", name)
	return 0
}

// testCounterVec returns the value of the counter name{label=value} in reg.
func testCounterVec(tb testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	tb.Fatalf("metric %s{%s=%q} not found", name, label, value)
	return 0
}

// mustLocation parses a lake.url.
func mustLocation(tb testing.TB, raw string) Location {
	tb.Helper()
	loc, err := ParseURL(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}
