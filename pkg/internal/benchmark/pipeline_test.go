package benchmark

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// rounds is how many times each side runs per b.N; the figures are medians.
// WEATHERD_BENCH_ROUNDS overrides it.
func rounds(b *testing.B) int {
	n := 5
	if v := os.Getenv("WEATHERD_BENCH_ROUNDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("WEATHERD_BENCH_ROUNDS=%q: want a positive integer", v)
		}
	}
	return n * b.N
}

// BenchmarkPipelineVsDuckDB runs, alternately in one process, weatherd's
// in-process pipeline and DuckDB's NDJSON → Parquet conversion on the same
// 100,000 readings, and reports the medians and their ratio; and, in the
// same rounds, the pipeline with no alert rules (decode → raw + Parquet),
// which is the work DuckDB's conversion compares with.
//
// weatherd: one pipeline processor per shard (2, the default), each fed the
// shard's records in batches of consumer.max_records, decoding them, running
// the embedded default alert rules (real alert.Engine, log channel to
// io.Discard) and handing them to the real lake.Writer with the default lake
// settings on a file store (raw gzip NDJSON + Parquet, fsynced), final flush
// included. DuckDB: COPY (SELECT * FROM read_ndjson(file)) TO out.parquet.
// Both read the input from the same NDJSON file, mapped into memory, so the
// Go heap holds only what the pipeline allocates.
func BenchmarkPipelineVsDuckDB(b *testing.B) {
	dir := b.TempDir()
	ds, in := PipelineInput(b, dir)
	shards := ds.Shards(PipelineShards)

	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	var wd, dd, ld, wcpu, dcpu, lcpu, wallocs, lallocs, wbytes, lbytes []float64
	var heapAdded, live uint64
	b.ResetTimer()
	for r := range rounds(b) {
		out := filepath.Join(dir, fmt.Sprint("lake-", r))
		// The same pipeline with no alert rules: the lake path alone.
		runtime.GC()
		m0 := mallocs()
		cpu0 := cpuTime()
		start := time.Now()
		RunPipeline(b, ds, shards, out, false)
		ld = append(ld, float64(PipelineReadings)/time.Since(start).Seconds())
		lcpu = append(lcpu, (cpuTime()-cpu0).Seconds()*1e6/PipelineReadings)
		n, by := mallocs().perReading(m0)
		lallocs, lbytes = append(lallocs, n), append(lbytes, by)
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}

		runtime.GC()
		s := StartSampler()
		m0 = mallocs()
		cpu0 = cpuTime()
		start = time.Now()
		RunPipeline(b, ds, shards, out, true)
		el := time.Since(start)
		wcpu = append(wcpu, (cpuTime()-cpu0).Seconds()*1e6/PipelineReadings)
		n, by = mallocs().perReading(m0)
		wallocs, wbytes = append(wallocs, n), append(wbytes, by)
		peak := s.Stop()
		wd = append(wd, float64(PipelineReadings)/el.Seconds())
		heapAdded = max(heapAdded, peak.Heap-min(peak.Heap, peak.HeapBase))
		live = max(live, peak.Live-min(peak.Live, peak.LiveBase))
		if r == 0 {
			checkLake(b, db, out, PipelineReadings)
		}
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}

		pq := filepath.Join(dir, fmt.Sprint("duckdb-", r, ".parquet"))
		cpu0 = cpuTime()
		start = time.Now()
		if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_ndjson('%s')) TO '%s' (FORMAT parquet)", in, pq)); err != nil {
			b.Fatal(err)
		}
		dd = append(dd, float64(PipelineReadings)/time.Since(start).Seconds())
		dcpu = append(dcpu, (cpuTime()-cpu0).Seconds()*1e6/PipelineReadings)
		if err := os.Remove(pq); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w, d := Median(wd), Median(dd)
	b.ReportMetric(w, "weatherd-readings/s")
	b.ReportMetric(d, "duckdb-readings/s")
	b.ReportMetric(w/d, "x-duckdb")
	b.ReportMetric(Median(wcpu), "weatherd-cpu-us/reading")
	b.ReportMetric(Median(ld), "norules-readings/s")
	b.ReportMetric(Median(lcpu), "norules-cpu-us/reading")
	b.ReportMetric(Median(ld)/d, "norules-x-duckdb")
	b.ReportMetric(Median(dcpu), "duckdb-cpu-us/reading")
	b.ReportMetric(Median(wallocs), "weatherd-allocs/reading")
	b.ReportMetric(Median(wbytes), "weatherd-B/reading")
	b.ReportMetric(Median(lallocs), "norules-allocs/reading")
	b.ReportMetric(Median(lbytes), "norules-B/reading")
	b.ReportMetric(float64(heapAdded)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(live)/(1<<20), "peak-live-heap-MiB")
	b.Logf("%d rounds; weatherd readings/s %.0f (runs %.0f), with no alert rules %.0f (runs %.0f), DuckDB %.0f (runs %.0f); input %.1f MiB mapped; ratio of medians %.2f",
		len(wd), w, wd, Median(ld), ld, d, dd, float64(ds.Bytes())/(1<<20), w/d)
}

// checkLake reads the lake back with DuckDB: every reading is in gold/
// exactly once, and raw/ holds every body.
func checkLake(b *testing.B, db *sql.DB, dir string, want int) {
	b.Helper()
	var rows, ids int
	q := fmt.Sprintf("SELECT count(*), count(DISTINCT event_id) FROM read_parquet('%s/gold/**/*.parquet', hive_partitioning=true)", dir)
	if err := db.QueryRow(q).Scan(&rows, &ids); err != nil {
		b.Fatalf("read gold back: %v", err)
	}
	var raw int
	q = fmt.Sprintf("SELECT count(*) FROM read_ndjson('%s/raw/**/*.json.gz')", dir)
	if err := db.QueryRow(q).Scan(&raw); err != nil {
		b.Fatalf("read raw back: %v", err)
	}
	if rows != want || ids != want || raw != want {
		b.Fatalf("lake holds %d gold rows (%d distinct events) and %d raw lines, want %d of each", rows, ids, raw, want)
	}
}

// heapCounts are the process's cumulative heap allocations.
type heapCounts struct{ objects, bytes uint64 }

func mallocs() heapCounts {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return heapCounts{ms.Mallocs, ms.TotalAlloc}
}

// perReading is the heap allocations since c0 (objects and bytes) per
// reading of a run. They include the run's setup (engine, writer,
// processors), a fixed cost spread over PipelineReadings.
func (c heapCounts) perReading(c0 heapCounts) (objects, bytes float64) {
	return float64(c.objects-c0.objects) / PipelineReadings, float64(c.bytes-c0.bytes) / PipelineReadings
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
