package kcl

import "sort"

// Leases returns the ids of the shards this worker holds a lease on, sorted.
func (w *Worker) Leases() []string {
	held := w.heldSnapshot()
	out := make([]string, 0, len(held))
	for _, hl := range held {
		out = append(out, hl.shardID)
	}
	sort.Strings(out)
	return out
}
