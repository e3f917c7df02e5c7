package kcl

import (
	"context"
	"sort"
)

// maxDeletesPerSync bounds the deletes one shard sync makes, so the first
// sync over a table that grew for months does not hold up the take loop; the
// rest go at the following syncs.
const maxDeletesPerSync = 100

// realCheckpoint reports whether cp is a position in its shard (a sequence
// number or SHARD_END): not empty and not one of the TRIM_HORIZON, LATEST or
// AT_TIMESTAMP sentinels the Java KCL writes before the first checkpoint.
func realCheckpoint(cp string) bool {
	switch cp {
	case "", TrimHorizon, Latest, AtTimestamp:
		return false
	}
	return true
}

// leasesToDelete returns, sorted, the ids of the leases shard sync may
// delete: those whose shard ListShards no longer returns (trimmed past the
// stream's retention) and whose every child has a real checkpoint, provided
// the shard was read to SHARD_END or has at least one child. A child is a
// lease naming the shard as ParentShardId or AdjacentParentShardId, or a
// listed shard whose parents include it; a listed child without a lease has
// no checkpoint yet.
//
// An unfinished parent trimmed before anyone read it to its end (an orphan,
// see orphanedParents) has nothing left to read and its children have
// started without it; its lease would otherwise stay forever, and every
// worker would keep syncing shards every few seconds because of it. An
// unfinished lease without children is kept: nothing says it is an orphan.
//
// Keeping the others matters: a lease deleted while its shard is listed
// would be re-created empty and the shard read again from TRIM_HORIZON
// (duplicates), and a child that has not checkpointed yet needs its parents'
// leases to start at TRIM_HORIZON with their states instead of at the
// configured initial position (data loss).
func leasesToDelete(leases []lease, shards map[string]shardInfo) []string {
	byID := make(map[string]lease, len(leases))
	children := map[string][]string{} // parent → children, maybe repeated
	for _, l := range leases {
		byID[l.ShardID] = l
		for _, p := range l.parents() {
			children[p] = append(children[p], l.ShardID)
		}
	}
	for _, s := range shards {
		for _, p := range s.Parents {
			children[p] = append(children[p], s.ID)
		}
	}
	var out []string
	for _, l := range leases {
		if !l.finished() && len(children[l.ShardID]) == 0 {
			continue
		}
		if _, listed := shards[l.ShardID]; listed {
			continue
		}
		done := true
		for _, c := range children[l.ShardID] {
			if cl, ok := byID[c]; !ok || !realCheckpoint(cl.Checkpoint) {
				done = false
				break
			}
		}
		if done {
			out = append(out, l.ShardID)
		}
	}
	sort.Strings(out)
	return out
}

// deleteFinishedLeases deletes the leases leasesToDelete picks from a scan
// and the shard list that followed it. Every worker does this; a lease
// another worker deleted first is skipped quietly. Failures are logged and
// left for the next sync: they never fail the sync.
func (w *Worker) deleteFinishedLeases(ctx context.Context, leases []lease, shards map[string]shardInfo) {
	ids := leasesToDelete(leases, shards)
	byID := make(map[string]lease, len(leases))
	for _, l := range leases {
		byID[l.ShardID] = l
	}
	if len(ids) > maxDeletesPerSync {
		w.log.Info("many leases of finished shards to delete: deleting some now, the rest at the next shard syncs", "count", len(ids), "now", maxDeletesPerSync)
		ids = ids[:maxDeletesPerSync]
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		l := byID[id]
		var deleted bool
		var err error
		if l.finished() {
			deleted, err = w.table.deleteFinished(ctx, id)
		} else {
			deleted, err = w.table.deleteOrphan(ctx, l)
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				w.log.Warn("deleting the lease of a shard gone from the stream failed; retrying at the next shard sync", "shard", id, "err", err)
			}
		case deleted && l.finished():
			w.m.leasesDeleted.Inc()
			w.log.Info("lease deleted: shard read to its end, gone from the stream, children checkpointed", "shard", id)
		case deleted:
			w.m.leasesDeleted.Inc()
			w.log.Info("lease deleted: shard gone from the stream before it was read to its end (trimmed), children checkpointed", "shard", id, "checkpoint", l.Checkpoint)
		}
	}
}
