package kcl

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	fenced "github.com/weatherd/weatherd/pkg/lease"
	"github.com/weatherd/weatherd/pkg/stream"
)

// Lease table attribute names. The first six are vmware-go-kcl-v2's; the
// others are weatherd's own, which that library ignores.
const (
	attrShardID        = "ShardID"
	attrAssignedTo     = "AssignedTo"
	attrLeaseTimeout   = "LeaseTimeout"
	attrCheckpoint     = "Checkpoint"
	attrParent         = "ParentShardId"
	attrClaimRequest   = "ClaimRequest"
	attrLeaseCounter   = "LeaseCounter"
	attrAdjacentParent = "AdjacentParentShardId"
	// attrState (binary) is the processor state saved with the checkpoint
	// (stream.StateCheckpointer), gzipped (lease.PackBlob). The whole item must
	// stay under DynamoDB's 400 KB limit, so processors keep it to a few
	// hundred KB at most before compression.
	attrState = "WeatherdState"
)

// leaseAttrs are the ownership attributes for the shared lease writes. A take
// also compares LeaseTimeout: vmware-go-kcl-v2 keeps no counter and versions
// a lease by it.
var leaseAttrs = fenced.Attrs{Key: attrShardID, Owner: attrAssignedTo, Counter: attrLeaseCounter, Timeout: attrLeaseTimeout, TimeoutVersions: true}

// lease is one item of the lease table as read.
type lease struct {
	ShardID      string
	AssignedTo   string // "" when free
	LeaseTimeout string // RFC3339Nano UTC, informational only (expiry is timed locally)
	Checkpoint   string // "" when never checkpointed
	// State is the processor state written with Checkpoint, as stored
	// (gzipped: lease.PackBlob; state() unpacks it); nil when none (never
	// written, or the item was last written by vmware-go-kcl-v2).
	State          []byte
	Parent         string
	AdjacentParent string
	ClaimRequest   string
	// Counter is bumped by every ownership write; HasCounter is false for an
	// item last written by vmware-go-kcl-v2, whose writes drop it.
	Counter    int64
	HasCounter bool
}

// version identifies an ownership state: a lease whose version does not
// change for the lease duration has not been renewed.
func (l lease) version() string {
	c := "-"
	if l.HasCounter {
		c = strconv.FormatInt(l.Counter, 10)
	}
	return l.AssignedTo + "|" + l.LeaseTimeout + "|" + c
}

// record is l's ownership state, which a take or a delete is conditioned on.
func (l lease) record() fenced.Record {
	return fenced.Record{Exists: true, Owner: l.AssignedTo, Timeout: l.LeaseTimeout, Counter: l.Counter, HasCounter: l.HasCounter}
}

// finished reports whether the shard has been read to its end.
func (l lease) finished() bool { return l.Checkpoint == stream.ShardEnd }

// parents lists the parent shard ids recorded on the item.
func (l lease) parents() []string {
	var ps []string
	for _, p := range []string{l.Parent, l.AdjacentParent} {
		if p != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

func leaseFromItem(item map[string]types.AttributeValue) lease {
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	l := lease{
		ShardID:        str(attrShardID),
		AssignedTo:     str(attrAssignedTo),
		LeaseTimeout:   str(attrLeaseTimeout),
		Checkpoint:     str(attrCheckpoint),
		Parent:         str(attrParent),
		AdjacentParent: str(attrAdjacentParent),
		ClaimRequest:   str(attrClaimRequest),
	}
	if v, ok := item[attrState].(*types.AttributeValueMemberB); ok {
		l.State = v.Value
	}
	if v, ok := item[attrLeaseCounter].(*types.AttributeValueMemberN); ok {
		if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			l.Counter, l.HasCounter = n, true
		}
	}
	return l
}

// expiryTracker decides when other workers' leases have expired without
// trusting their clocks: a lease whose version has not changed for the lease
// duration, timed on this process' monotonic clock, is expired.
type expiryTracker struct{ s *fenced.Sightings }

func newExpiryTracker(d time.Duration) *expiryTracker {
	return &expiryTracker{s: fenced.NewSightings(d)}
}

// observe records the versions read at now and forgets leases no longer in
// the table, so the tracker stays as small as the table.
func (t *expiryTracker) observe(now time.Time, ls []lease) {
	present := make(map[string]bool, len(ls))
	for _, l := range ls {
		present[l.ShardID] = true
		t.s.Observe(now, l.ShardID, l.version())
	}
	t.s.Forget(func(id string) bool { return present[id] })
}

// expired reports whether l has been seen unchanged for the lease duration.
func (t *expiryTracker) expired(now time.Time, l lease) bool {
	return t.s.Expired(now, l.ShardID, l.version())
}
