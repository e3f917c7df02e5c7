package benchmark

import (
	"bytes"
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
pkg: github.com/weatherd/weatherd/pkg/internal/benchmark
BenchmarkPipelineVsDuckDB-2   	       1	3839404883 ns/op	    272000 duckdb-readings/s	 5.2 duckdb-cpu-us/reading	       144.6 peak-heap-MiB	       288.3 peak-rss-MiB	    150000 weatherd-readings/s	 7.9 weatherd-cpu-us/reading	         0.5515 x-duckdb	    290000 norules-readings/s	 6.1 norules-cpu-us/reading	 1.066 norules-x-duckdb
--- BENCH: BenchmarkPipelineVsDuckDB-2
    pipeline_test.go:122: 3 rounds
BenchmarkPipelineVsDuckDB-2   	       1	3839404883 ns/op	    280000 duckdb-readings/s	 5.0 duckdb-cpu-us/reading	       140 peak-heap-MiB	       280 peak-rss-MiB	    160000 weatherd-readings/s	 7.5 weatherd-cpu-us/reading	         0.5714 x-duckdb	    270000 norules-readings/s	 6.3 norules-cpu-us/reading	 0.9643 norules-x-duckdb
BenchmarkPipelineVsDuckDB-2   	       1	3839404883 ns/op	    276000 duckdb-readings/s	 5.1 duckdb-cpu-us/reading	       150 peak-heap-MiB	       290 peak-rss-MiB	    140000 weatherd-readings/s	 8.1 weatherd-cpu-us/reading	         0.5072 x-duckdb	    300000 norules-readings/s	 6.0 norules-cpu-us/reading	 1.087 norules-x-duckdb	 3.25 weatherd-allocs/reading	 410 weatherd-B/reading	 2.5 norules-allocs/reading	 350 norules-B/reading
BenchmarkPipelineMemory-2   	       3	 549366781 ns/op	       108.1 base-rss-MiB	       191.0 peak-rss-MiB
BenchmarkEndToEndEmulators-2       	       1	5157666007 ns/op	       873.0 consumed-readings/s	       657.4 e2e-readings/s
BenchmarkAlertLatencyEmulators-2   	       1	16093204629 ns/op	       203.1 p50-ms	       981.7 p99-ms	        40.00 samples
PASS
`

func TestParseBench_MediansAndEcho(t *testing.T) {
	var echo bytes.Buffer
	res, err := ParseBench(strings.NewReader(sampleOutput), &echo)
	if err != nil {
		t.Fatal(err)
	}
	if echo.String() != sampleOutput {
		t.Errorf("echo differs from the input:\n%s", echo.String())
	}
	for _, c := range []struct {
		name, unit string
		want       float64
	}{
		{pipelineBench, "weatherd-readings/s", 150000},
		{pipelineBench, "duckdb-readings/s", 276000},
		{pipelineBench, "x-duckdb", 0.5515},
		{pipelineBench, "ns/op", 3839404883},
		{e2eBench, "e2e-readings/s", 657.4},
		{latencyBench, "p99-ms", 981.7},
	} {
		got, ok := res.Median(c.name, c.unit)
		if !ok || got != c.want {
			t.Errorf("Median(%s, %s) = %v, %v; want %v", c.name, c.unit, got, ok, c.want)
		}
	}
	if n := len(res[pipelineBench]["x-duckdb"]); n != 3 {
		t.Errorf("%d x-duckdb values, want 3", n)
	}
	if _, ok := res.Median("BenchmarkNone", "x"); ok {
		t.Error("Median of a missing benchmark reported a value")
	}
}

func TestWriteSummary(t *testing.T) {
	res, err := ParseBench(strings.NewReader(sampleOutput), nil)
	if err != nil {
		t.Fatal(err)
	}
	delete(res, latencyBench)
	var out bytes.Buffer
	WriteSummary(&out, res)
	for _, want := range []string{
		"| pipeline readings/s (decode → rules → raw + Parquet)       |         150000 (median of 3) |",
		"| ratio pipeline with the default rules / DuckDB             |           0.55 (median of 3) |",
		"| lake path readings/s (decode → raw gzip + Parquet)         |         290000 (median of 3) |",
		"| ratio lake path / DuckDB                                   |           1.07 (median of 3) |",
		"| pipeline peak RSS MiB (own process, input mapped)          |                          191 |",
		"| end-to-end readings/s on the emulators (until flushed)     |                          657 |",
		"| pipeline heap allocations/reading                          |                          3.2 |",
		"| lake path heap bytes/reading                               |                          350 |",
		"| alert latency put → SNS HTTP delivery p50 ms               |                          n/a |",
		"- lake path / DuckDB ≥ 1.5: 1.07, NOT met (runs: 1.07, 0.96, 1.09)\n",
		"- pipeline with the default rules / DuckDB ≥ 1.2: 0.55, NOT met (runs: 0.55, 0.57, 0.51)\n",
		"- pipeline CPU µs/reading ≤ 5: 7.90, NOT met (runs: 7.90, 7.50, 8.10)\n",
		"- pipeline peak RSS MiB ≤ 200: 191.00, met (runs: 191.00)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNewDataset_DeterministicAndShaped(t *testing.T) {
	a, b := NewDataset(500, 50, 6e9, 7), NewDataset(500, 50, 6e9, 7)
	if len(a.Bodies) != 500 || len(a.Locations) != 50 {
		t.Fatalf("%d bodies, %d locations", len(a.Bodies), len(a.Locations))
	}
	for i := range a.Bodies {
		if !bytes.Equal(a.Bodies[i], b.Bodies[i]) {
			t.Fatalf("body %d differs between two data sets from one seed", i)
		}
	}
	shards := a.Shards(2)
	if len(shards[0])+len(shards[1]) != 500 {
		t.Fatalf("shards hold %d + %d records", len(shards[0]), len(shards[1]))
	}
	for _, recs := range shards {
		for i := 1; i < len(recs); i++ {
			if recs[i-1].SequenceNumber >= recs[i].SequenceNumber {
				t.Fatalf("sequence numbers not increasing: %s then %s", recs[i-1].SequenceNumber, recs[i].SequenceNumber)
			}
		}
	}
}
