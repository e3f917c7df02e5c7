// Package awsbench benchmarks weatherd processes (the built binary) on the
// local AWS emulators with a recording proxy (pkg/internal/awsproxy) in
// front of them:
//
//   - BenchmarkScaleOut, part of `make bench`: how long a shard goes unread
//     when its owner is killed, is stopped, or a new replica joins, from the
//     old owner's last GetRecords on the shard to the new owner's first;
//   - BenchmarkCallCounts, run on its own (it takes minutes): the AWS calls
//     one process makes per shard-hour, idle and under load, behind the cost
//     model in BENCHMARKS.md.
//
// Both run against the emulators deploy/local/emulators.sh starts; see
// BENCHMARKS.md.
package awsbench
