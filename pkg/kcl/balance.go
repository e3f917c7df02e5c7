package kcl

import (
	"sort"

	"github.com/weatherd/weatherd/pkg/stream"
)

// shardInfo is what ListShards says about one shard.
type shardInfo struct {
	ID      string
	Parents []string // parent and, for a merge, adjacent parent
	Closed  bool     // has an ending sequence number
}

// eligible reports whether l can be processed now: the shard still exists in
// the stream, is not finished, and every parent it has is finished (read to
// SHARD_END) or gone from the stream (trimmed). A parent gone from the
// stream is not waited for even when its lease is unfinished (see
// orphanedParents): nothing is left to read from it, so waiting would stall
// the child forever.
func eligible(l lease, leases map[string]lease, shards map[string]shardInfo) bool {
	if l.finished() {
		return false
	}
	si, inStream := shards[l.ShardID]
	if !inStream {
		return false
	}
	for _, p := range unionParents(si.Parents, l.parents()) {
		_, listed := shards[p]
		if pl, ok := leases[p]; ok {
			if !pl.finished() && listed {
				return false
			}
			continue
		}
		if listed {
			return false // parent still in the stream, its lease not created yet
		}
	}
	return true
}

// orphanedParents lists, sorted, l's parents whose leases are not finished
// although ListShards no longer returns them: trimmed past the stream's
// retention before anyone read them to SHARD_END (every worker was down, or
// stuck, for that long). Their unread records are gone.
func orphanedParents(l lease, leases map[string]lease, shards map[string]shardInfo) []string {
	var out []string
	for _, p := range unionParents(shards[l.ShardID].Parents, l.parents()) {
		_, listed := shards[p]
		if pl, ok := leases[p]; ok && !pl.finished() && !listed {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func unionParents(a, b []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range append(append([]string(nil), a...), b...) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// startPosition says where a newly taken shard is read from: after its
// checkpoint; at TRIM_HORIZON for a child of a resharding (its parents are
// still known), so nothing written to it is missed, with the states its
// parents saved at their last checkpoints; else at the configured initial
// position.
func startPosition(l lease, leases map[string]lease, shards map[string]shardInfo, cfg Config) stream.Position {
	switch l.Checkpoint {
	case "":
	case TrimHorizon, Latest:
		// Java KCL writes these sentinels before the first real checkpoint.
		return stream.Position{Initial: l.Checkpoint}
	case AtTimestamp:
		// The sentinel carries no time: it is the configured one.
		return stream.Position{Initial: AtTimestamp, At: cfg.InitialAt}
	default:
		return stream.Position{AfterSequence: l.Checkpoint, State: l.state()}
	}
	child := false
	var states [][]byte
	for _, p := range unionParents(shards[l.ShardID].Parents, l.parents()) {
		pl, inTable := leases[p]
		_, inStream := shards[p]
		child = child || inTable || inStream
		if inTable && len(pl.State) > 0 {
			states = append(states, pl.state())
		}
	}
	if child {
		return stream.Position{Initial: TrimHorizon, ParentStates: states}
	}
	pos := stream.Position{Initial: cfg.InitialPosition}
	if cfg.InitialPosition == AtTimestamp {
		pos.At = cfg.InitialAt
	}
	return pos
}

// slot is one eligible lease as the balancer sees it.
type slot struct {
	ShardID string
	Owner   string // "" when free or expired
	Claimed bool   // someone asked to steal it already
}

// plan is what one take pass does.
type plan struct {
	Take  []string // free or expired leases to take, in order
	Steal string   // a lease to claim from the busiest worker, or ""
	// Target is this worker's fair share, ⌈S/W⌉ capped by the per-worker max.
	Target int
}

// planTakes decides a take pass for worker me. Workers are the owners of
// live eligible leases plus me; the fair share is ⌈S/W⌉. Below it, me takes
// every free lease it needs at once; only when none is free does it steal,
// one lease at a time, from the busiest worker, and only when that worker is
// above the share (or at it while me is two or more below), so the counts
// settle at ⌈S/W⌉ or ⌊S/W⌋ without ping-pong. slots keep their given order
// (the caller shuffles free ones to spread contention).
func planTakes(me string, slots []slot, maxLeases int, claimPending bool) plan {
	counts := map[string]int{me: 0}
	var free []string
	for _, s := range slots {
		if s.Owner == "" {
			free = append(free, s.ShardID)
			continue
		}
		counts[s.Owner]++
	}
	total, workers := len(slots), len(counts)
	target := (total + workers - 1) / workers
	if maxLeases > 0 && target > maxLeases {
		target = maxLeases
	}
	p := plan{Target: target}
	need := target - counts[me]
	if need <= 0 {
		return p
	}
	if len(free) > 0 {
		p.Take = free[:min(need, len(free))]
		return p
	}
	if claimPending {
		return p
	}
	owners := make([]string, 0, len(counts))
	for o := range counts {
		if o != me {
			owners = append(owners, o)
		}
	}
	sort.Slice(owners, func(i, j int) bool {
		if counts[owners[i]] != counts[owners[j]] {
			return counts[owners[i]] > counts[owners[j]]
		}
		return owners[i] < owners[j]
	})
	if len(owners) == 0 {
		return p
	}
	busiest := owners[0]
	if c := counts[busiest]; c > target || (c == target && need > 1) {
		for _, s := range slots {
			if s.Owner == busiest && !s.Claimed {
				p.Steal = s.ShardID
				break
			}
		}
	}
	return p
}
