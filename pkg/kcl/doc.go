// Package kcl consumes a Kinesis stream the way Amazon's Kinesis Client
// Library does: workers that share a DynamoDB lease table split the stream's
// shards among themselves, read each shard they hold in order, hand the
// records to a stream.Processor and record checkpoints in the table.
//
// # Lease table
//
// The table is vmware-go-kcl-v2's, so a fleet can switch over and continue
// from that library's checkpoints: the table is named after the
// application, its only key is the string hash key ShardID, and each item
// carries AssignedTo (owner worker id, absent when free), LeaseTimeout
// (RFC3339Nano UTC), Checkpoint (a sequence number or SHARD_END),
// ParentShardId and ClaimRequest. weatherd adds LeaseCounter (a number
// bumped by every ownership write, the fencing token) and
// AdjacentParentShardId (the second parent of a merge), and WeatherdState
// (binary: the processor state saved with the checkpoint through
// stream.StateCheckpointer, handed back in Position.State to the next owner;
// the whole item must stay under DynamoDB's 400 KB). An item without
// them, as vmware-go-kcl-v2 writes it, is taken by conditioning on its exact
// AssignedTo and LeaseTimeout and the absence of LeaseCounter. New tables are
// created on-demand (PAY_PER_REQUEST).
//
// # Protocol
//
// Every write that depends on ownership is a conditional UpdateItem:
//
//   - take: set AssignedTo, LeaseTimeout and LeaseCounter+1, if owner,
//     timeout and counter are still what the worker read;
//   - renew (every renew_interval): new LeaseTimeout and LeaseCounter+1, if
//     AssignedTo is us and the counter is ours;
//   - checkpoint: set Checkpoint (and WeatherdState, when checkpointing with
//     state) if AssignedTo is us and the counter is ours, so a worker that
//     lost the lease gets stream.ErrLeaseLost instead of overwriting the new
//     owner's progress;
//   - release: remove AssignedTo (with SHARD_END when the shard is finished)
//     under the same condition, so another worker takes the lease at once.
//
// Expiry does not trust clocks: a worker notes, on its own monotonic clock,
// when it last saw each lease's (AssignedTo, LeaseTimeout, LeaseCounter)
// change; a lease unchanged for lease_duration is expired and may be taken.
// LeaseTimeout is still written, for vmware-go-kcl-v2 and for operators.
//
// A worker trusts a lease for lease_duration - renew_interval after its
// last successful ownership write was sent, timed on its own clock whether
// or not a call has returned: a timer stops the shard then, and the
// consumer checks the clock again right before it hands each batch (even an
// empty one) to the processor, so nothing is processed once another worker
// may take the lease. Each lease is renewed on its own, so a renewal that
// hangs delays no other lease; renewals and checkpoints are cut at the
// lease's validity, on top of the client's per-call deadline.
//
// # Balancing
//
// Every take_interval a worker scans the table. Workers are the owners of
// live leases plus itself; its share is ⌈S/W⌉ of the S processable leases
// (capped by max_leases_per_worker). Below its share it takes every free or
// expired lease it needs in that pass. When none is free it steals one lease
// at a time from the busiest worker, and only when that worker is above the
// share (or at it while the thief is two below), so counts settle at ⌈S/W⌉
// or ⌊S/W⌋. A steal is graceful: the thief writes ClaimRequest; the owner
// sees it on its next renewal, lets the current batch finish, calls
// Shutdown(Requested) so the processor flushes and checkpoints, then hands
// the lease over (AssignedTo = thief) and the thief adopts it on its next
// scan. A claim not honoured within graceful_handoff_timeout plus
// lease_duration is withdrawn.
//
// # Shards
//
// Shard sync (ListShards, paginated) runs at start, every
// shard_sync_interval and after a shard ends, and creates a free lease for
// each new shard. A shard is processed only when every parent (both for a
// merge) is checkpointed SHARD_END or gone from the stream. A parent whose
// lease never reached SHARD_END but that ListShards no longer returns
// (trimmed while no worker read it) is not waited for: the child starts,
// with a warning naming both shards, counted in
// weatherd_consumer_orphaned_parents_total. Children of a
// resharding start at TRIM_HORIZON, handed the WeatherdState their parents'
// leases hold (stream.Position.ParentStates). When GetRecords returns no next
// iterator the consumer calls Shutdown(ShardEndReached) and then writes
// SHARD_END itself.
//
// Leases are deleted by the same shard sync, so the table and every scan stop
// growing with each resharding. Any worker deletes a lease when all of these
// hold: its Checkpoint is SHARD_END, or it is an orphaned parent (unfinished,
// with at least one child); its shard is no longer returned by ListShards
// (trimmed past the stream's retention); and every child (a lease naming it
// as ParentShardId or AdjacentParentShardId, or a listed shard whose parents
// include it) has a real checkpoint, a sequence number or SHARD_END, not
// empty nor a TRIM_HORIZON, LATEST or AT_TIMESTAMP sentinel. An orphan left
// in the table would keep every worker syncing shards every 10 s.
// This is safe: a listed shard keeps its lease, since a deleted one would be
// re-created and the shard read again from TRIM_HORIZON; a child that has
// not checkpointed still finds its parents' leases, so it starts at
// TRIM_HORIZON with their states instead of at the configured initial
// position; and a checkpointed child starts after its own checkpoint and
// counts a parent gone from both table and stream as finished. The
// DeleteItem is conditioned on the item existing with Checkpoint =
// SHARD_END (an orphan's: unchanged since the scan), so workers deleting at
// once are harmless. A sync scans the
// table before it lists the shards, so it never re-creates a lease another
// worker deleted: that worker saw the shard unlisted earlier, and a trimmed
// shard is not listed again. At most 100 leases go per sync; a failed delete
// is logged and retried at the next sync.
//
// Each shard is read with GetRecords at most 5 times a second, with
// idle_time_between_reads after an empty read and the processor given an
// empty batch at least every second while idle. Reads bypass the SDK's
// retryer (its retry-token bucket is shared by every goroutine) and back off
// on their own; an expired iterator is replaced after the last processed
// record, and so is one that failed three reads in a row or was refused as
// not found or invalid. A ProcessRecords error is retried with the same records after a
// backoff: records are never skipped.
package kcl
