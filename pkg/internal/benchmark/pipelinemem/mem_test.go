// Package pipelinemem measures the memory of the in-process pipeline in a
// process of its own: BenchmarkPipelineVsDuckDB's test binary links DuckDB
// and builds its input in the heap, and both would count in its RSS.
package pipelinemem

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/weatherd/weatherd/pkg/internal/benchmark"
)

// BenchmarkPipelineMemory runs the pipeline of BenchmarkPipelineVsDuckDB
// (decode → default rules → raw + Parquet, two shards, the same 100,000
// readings mapped from a file) and reports the process's peak RSS while it
// runs. Before each round the heap left by building the input and by the
// round before is returned to the system, as a long-running daemon's
// scavenger does between bursts, so each round's peak is its own.
func BenchmarkPipelineMemory(b *testing.B) {
	dir := b.TempDir()
	ds, _ := benchmark.PipelineInput(b, dir)
	shards := ds.Shards(benchmark.PipelineShards)
	var rss, base, input []float64
	b.ResetTimer()
	for r := range b.N {
		out := filepath.Join(dir, "lake")
		runtime.GC()
		debug.FreeOSMemory()
		s := benchmark.StartSampler()
		benchmark.RunPipeline(b, ds, shards, out, true)
		peak := s.Stop()
		rss = append(rss, float64(peak.RSS)/(1<<20))
		base = append(base, float64(peak.RSSBase)/(1<<20))
		input = append(input, float64(ds.Bytes())/(1<<20))
		if r == 0 {
			b.Logf("round 1: peak RSS %.0f MiB, of which %.0f MiB resident before it started (binary, runtime, the %.1f MiB input file mapped and touched when it was written)",
				rss[0], base[0], input[0])
		}
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(benchmark.Median(rss), "peak-rss-MiB")
	b.ReportMetric(benchmark.Median(base), "base-rss-MiB")
}
