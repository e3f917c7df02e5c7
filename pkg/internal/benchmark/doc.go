// Package benchmark holds weatherd's benchmarks that span packages — the
// in-process pipeline (decode → alert rules → raw → Parquet) beside DuckDB's
// JSON → Parquet conversion of the same input, end-to-end throughput and
// alert latency on the local AWS emulators — and what they share: a
// deterministic synthetic data set, a memory sampler, and the summary table
// `make bench` prints (see cmd/report and BENCHMARKS.md).
package benchmark
