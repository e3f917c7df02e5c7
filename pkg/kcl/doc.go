// Package kcl consumes a Kinesis stream the way Amazon's Kinesis Client
// Library does: workers that share a DynamoDB lease table split the stream's
// shards among themselves, read each shard they hold in order, hand the
// records to a stream.Processor and record checkpoints in the table.
// docs/consumer.md describes it for operators; this comment is the protocol.
//
// # Lease table
//
// vmware-go-kcl-v2's layout (key ShardID; AssignedTo, LeaseTimeout,
// Checkpoint, ParentShardId, ClaimRequest), plus LeaseCounter (bumped by
// every ownership write: the fencing token), AdjacentParentShardId (a merge's
// second parent) and WeatherdState (the processor state saved through
// stream.StateCheckpointer, handed to the next owner in Position.State; the
// item must stay under DynamoDB's 400 KB). An item without LeaseCounter, as
// vmware-go-kcl-v2 writes it, is taken by conditioning on its exact
// AssignedTo and LeaseTimeout and the absence of LeaseCounter.
//
// # Ownership writes
//
// Each is a conditional UpdateItem:
//
//   - take: set AssignedTo, LeaseTimeout and LeaseCounter+1, if owner,
//     timeout and counter are still what the worker read;
//   - renew: new LeaseTimeout and LeaseCounter+1, if AssignedTo is us and
//     the counter is ours;
//   - checkpoint: set Checkpoint (and WeatherdState) under the same
//     condition, so a worker that lost the lease gets stream.ErrLeaseLost
//     instead of overwriting the new owner's progress;
//   - release: remove AssignedTo (with SHARD_END when the shard is finished)
//     under the same condition.
//
// Expiry does not trust clocks: a worker notes, on its own monotonic clock,
// when it last saw each lease's (AssignedTo, LeaseTimeout, LeaseCounter)
// change; a lease unchanged for lease_duration is expired. The owner trusts
// its lease for lease_duration - renew_interval after its last successful
// ownership write was sent (not answered), so it stops, and hands the
// processor nothing more, before anyone else may take the lease. Each lease
// renews on its own; renewals and checkpoints are cut at the lease's
// validity.
//
// # Balancing
//
// A worker's share is ⌈S/W⌉ of the S processable leases, W being the owners
// of live leases plus itself. Below its share it takes every free or expired
// lease it needs in one pass; when none is free it steals one lease at a time
// from the busiest worker, only when that worker is above the share (or at it
// while the thief is two below), so counts settle at ⌈S/W⌉ or ⌊S/W⌋. A steal
// writes ClaimRequest; the owner sees it on its next renewal, calls
// Shutdown(Requested) after the current batch, then sets AssignedTo to the
// thief, which reads the table every quarter take_interval (at most 250ms)
// while its claim is pending and adopts the lease at once. A claim not
// honoured within graceful_handoff_timeout plus lease_duration is withdrawn.
//
// # Shards
//
// Shard sync creates a free lease for each new shard. A child is processed
// only when every parent is checkpointed SHARD_END or gone from ListShards
// (an orphan: logged and counted), starting at TRIM_HORIZON with its parents'
// WeatherdState (Position.ParentStates). At a shard's end the consumer calls
// Shutdown(ShardEndReached), then writes SHARD_END itself.
//
// A lease is deleted, at most 100 per sync, when its Checkpoint is SHARD_END
// (or it is an orphaned parent), its shard is no longer listed, and every
// child has a real checkpoint. A listed shard keeps its lease, or it would be
// re-created and read again; a child that has not checkpointed still needs
// its parents' leases for their states. The DeleteItem is conditioned on the
// state the scan saw, and a sync scans before it lists, so it never
// re-creates a lease another worker deleted.
package kcl
