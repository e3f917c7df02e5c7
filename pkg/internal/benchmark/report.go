package benchmark

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Results are the metrics of `go test -bench` output lines: benchmark name
// (without the -GOMAXPROCS suffix) → unit → every value seen (one per line,
// so -count N gives N values).
type Results map[string]map[string][]float64

// ParseBench reads `go test -bench` output, copying every line to echo (nil:
// no copy) as it goes, and collects the benchmark lines' metrics.
func ParseBench(r io.Reader, echo io.Writer) (Results, error) {
	res := Results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if echo != nil {
			fmt.Fprintln(echo, line)
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line that starts with a benchmark name
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			if res[name] == nil {
				res[name] = map[string][]float64{}
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("read benchmark output: %w", err)
	}
	return res, nil
}

// Median returns the median of benchmark name's unit values and whether
// there were any.
func (r Results) Median(name, unit string) (float64, bool) {
	vs := r[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// Benchmark names the summary reads.
const (
	pipelineBench = "BenchmarkPipelineVsDuckDB"
	memBench      = "BenchmarkPipelineMemory"
	e2eBench      = "BenchmarkEndToEndEmulators"
	latencyBench  = "BenchmarkAlertLatencyEmulators"
	scaleOutBench = "BenchmarkScaleOut"
)

// WriteSummary prints the table `make bench` ends with: the in-process
// pipeline against DuckDB, end-to-end throughput and alert latency on the
// emulators. Missing figures print as "n/a".
func WriteSummary(w io.Writer, r Results) {
	row := func(what, name, unit, format string, scale float64) {
		v, ok := r.Median(name, unit)
		val := "n/a"
		if ok {
			val = fmt.Sprintf(format, v*scale)
		}
		if n := len(r[name][unit]); n > 1 {
			val += fmt.Sprintf(" (median of %d)", n)
		}
		fmt.Fprintf(w, "| %-58s | %28s |\n", what, val)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## weatherd benchmark summary")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| %-58s | %28s |\n", "measure", "value")
	fmt.Fprintf(w, "|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 30))
	row("lake path readings/s (decode → raw gzip + Parquet)", pipelineBench, "norules-readings/s", "%.0f", 1)
	row("lake path CPU µs/reading", pipelineBench, "norules-cpu-us/reading", "%.2f", 1)
	row("DuckDB read_ndjson → Parquet readings/s (same input)", pipelineBench, "duckdb-readings/s", "%.0f", 1)
	row("DuckDB CPU µs/reading", pipelineBench, "duckdb-cpu-us/reading", "%.2f", 1)
	row("ratio lake path / DuckDB", pipelineBench, "norules-x-duckdb", "%.2f", 1)
	row("pipeline readings/s (decode → rules → raw + Parquet)", pipelineBench, "weatherd-readings/s", "%.0f", 1)
	row("pipeline CPU µs/reading", pipelineBench, "weatherd-cpu-us/reading", "%.2f", 1)
	row("ratio pipeline with the default rules / DuckDB", pipelineBench, "x-duckdb", "%.2f", 1)
	row("lake path heap allocations/reading", pipelineBench, "norules-allocs/reading", "%.1f", 1)
	row("lake path heap bytes/reading", pipelineBench, "norules-B/reading", "%.0f", 1)
	row("pipeline heap allocations/reading", pipelineBench, "weatherd-allocs/reading", "%.1f", 1)
	row("pipeline heap bytes/reading", pipelineBench, "weatherd-B/reading", "%.0f", 1)
	row("pipeline peak RSS MiB (own process, input mapped)", memBench, "peak-rss-MiB", "%.0f", 1)
	row("pipeline peak Go heap added MiB (live + garbage)", pipelineBench, "peak-heap-MiB", "%.0f", 1)
	row("pipeline peak live Go heap added MiB (after a GC)", pipelineBench, "peak-live-heap-MiB", "%.0f", 1)
	row("end-to-end readings/s on the emulators (until flushed)", e2eBench, "e2e-readings/s", "%.0f", 1)
	row("end-to-end readings/s on the emulators (until consumed)", e2eBench, "consumed-readings/s", "%.0f", 1)
	row("alert latency put → SNS HTTP delivery p50 ms", latencyBench, "p50-ms", "%.0f", 1)
	row("alert latency put → SNS HTTP delivery p99 ms", latencyBench, "p99-ms", "%.0f", 1)
	writeScaleOut(w, r)
	writeTargets(w, r)
}

// target is one of the figures `make bench` is held to.
type target struct {
	what, name, unit string
	bound            float64
	atMost           bool // the figure must be ≤ bound (else ≥ bound)
}

// targets are the performance targets: ratios against DuckDB measured in
// the same run, CPU per reading, and the pipeline's own peak RSS.
var targets = []target{
	{"lake path / DuckDB", pipelineBench, "norules-x-duckdb", 1.5, false},
	{"pipeline with the default rules / DuckDB", pipelineBench, "x-duckdb", 1.2, false},
	{"pipeline CPU µs/reading", pipelineBench, "weatherd-cpu-us/reading", 5, true},
	{"pipeline peak RSS MiB", memBench, "peak-rss-MiB", 200, true},
}

// writeTargets prints each target with the median, every run's figure and
// whether the median meets it.
func writeTargets(w io.Writer, r Results) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Targets (median of the runs; each run is itself a median of its rounds):")
	for _, t := range targets {
		op := "≥"
		if t.atMost {
			op = "≤"
		}
		v, ok := r.Median(t.name, t.unit)
		if !ok {
			fmt.Fprintf(w, "- %s %s %g: n/a\n", t.what, op, t.bound)
			continue
		}
		verdict := "met"
		if (t.atMost && v > t.bound) || (!t.atMost && v < t.bound) {
			verdict = "NOT met"
		}
		runs := make([]string, len(r[t.name][t.unit]))
		for i, x := range r[t.name][t.unit] {
			runs[i] = strconv.FormatFloat(x, 'f', 2, 64)
		}
		fmt.Fprintf(w, "- %s %s %g: %.2f, %s (runs: %s)\n", t.what, op, t.bound, v, verdict, strings.Join(runs, ", "))
	}
}
