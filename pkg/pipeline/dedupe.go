package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/weather"
)

// recentPerLocation is K: a reading is a duplicate when its observation
// (location, observed_at — its event_id) is one of the last K observations
// this shard kept for its location. Readings merely older than the latest
// are kept: at a graceful leader handover the old poller's last puts can
// interleave with the new one's first, so a legit older observation may
// arrive after a newer one.
const recentPerLocation = 8

// maxStateLocations bounds the locations in a shard's saved state: with
// location ids of at most 64 bytes (the reading contract) and unix times
// of 10 digits a location takes ~160 bytes of JSON, so 2000 take ~320 KB.
// Beyond it the locations whose newest observation is oldest are forgotten
// (a duplicate of theirs would then get through).
const maxStateLocations = 2000

// MaxStateBytes bounds the encoded state whatever it holds (ids saved by a
// version that did not check them, far-off times): the state rides on the
// shard's lease item, which DynamoDB limits to 400 KB (409,600 bytes,
// attribute names included), and the lease's other attributes take well
// under 1 KB. Past it, too, the locations whose newest observation is
// oldest are forgotten.
const MaxStateBytes = 360_000

// stateVersion tags the saved state's format.
const stateVersion = 1

// savedState is the JSON saved with a checkpoint:
// {"v":1,"recent":{"<location id>":[<observed_at unix seconds>,...]}}, the
// observations of each location oldest first.
type savedState struct {
	V      int                `json:"v"`
	Recent map[string][]int64 `json:"recent"`
}

// observation is a reading kept after the last checkpoint.
type observation struct {
	seq string
	at  int64 // observed_at, unix seconds (event ids have second precision)
}

// dedupe is one shard's recent-observation set. base is the set as of the
// last checkpoint; hist holds, per location and in sequence order, the
// observations kept since, so the set as of any later sequence number can be
// computed for the checkpoint the lake asks for (which may be behind the
// records already processed). Each decision depends only on the checkpointed
// state and the records after it, so a replay from a checkpoint decides
// exactly as the first run did, and a retried batch as its first try.
type dedupe struct {
	base map[string][]int64
	hist map[string][]observation
}

func newDedupe() *dedupe {
	return &dedupe{base: map[string][]int64{}, hist: map[string][]observation{}}
}

// restore loads the state saved with the checkpoint the shard resumes from.
func (d *dedupe) restore(state []byte) error {
	d.base, d.hist = map[string][]int64{}, map[string][]observation{}
	if len(state) == 0 {
		return nil
	}
	recent, err := decodeState(state)
	if err != nil {
		return err
	}
	for loc, ats := range recent {
		if len(ats) > recentPerLocation {
			ats = ats[len(ats)-recentPerLocation:]
		}
		d.base[loc] = ats
	}
	return nil
}

// inherit starts a child shard of a resharding from its parents' saved
// states: a location's readings move to the child with the reshard, and a
// reading put once before it (on a parent) and again after it (on the
// child) is still recognised. Per location it keeps the K newest
// observations of all parents. A state that cannot be read is skipped and
// reported; the others are used.
func (d *dedupe) inherit(states [][]byte) error {
	d.base, d.hist = map[string][]int64{}, map[string][]observation{}
	var errs []error
	for _, st := range states {
		recent, err := decodeState(st)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for loc, ats := range recent {
			d.base[loc] = append(d.base[loc], ats...)
		}
	}
	for loc, ats := range d.base {
		slices.Sort(ats)
		ats = slices.Compact(ats)
		if len(ats) > recentPerLocation {
			ats = ats[len(ats)-recentPerLocation:]
		}
		d.base[loc] = ats
	}
	return errors.Join(errs...)
}

func decodeState(state []byte) (map[string][]int64, error) {
	var s savedState
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, fmt.Errorf("decode dedupe state: %w", err)
	}
	if s.V != stateVersion {
		return nil, fmt.Errorf("decode dedupe state: version %d, want %d", s.V, stateVersion)
	}
	return s.Recent, nil
}

// duplicate reports whether the observation (loc, at) of the record seq is
// one of the last K kept for loc before seq; if not, it is kept. A record
// kept before (a retried batch) is kept again without being counted twice.
func (d *dedupe) duplicate(loc string, at int64, seq string) bool {
	h := d.hist[loc]
	i := sort.Search(len(h), func(i int) bool { return !stream.SeqLess(h[i].seq, seq) })
	if i < len(h) && h[i].seq == seq {
		return false
	}
	if d.recent(loc, h[:i], func(a int64) bool { return a == at }) {
		return true
	}
	if i == len(h) {
		d.hist[loc] = append(h, observation{seq, at})
	} else {
		d.hist[loc] = append(h[:i], append([]observation{{seq, at}}, h[i:]...)...)
	}
	return false
}

// recent calls match on the last K observations of loc given its kept
// observations h after the checkpoint, newest first, until it returns true.
func (d *dedupe) recent(loc string, h []observation, match func(int64) bool) bool {
	n := 0
	for i := len(h) - 1; i >= 0 && n < recentPerLocation; i, n = i-1, n+1 {
		if match(h[i].at) {
			return true
		}
	}
	b := d.base[loc]
	for i := len(b) - 1; i >= 0 && n < recentPerLocation; i, n = i-1, n+1 {
		if match(b[i]) {
			return true
		}
	}
	return false
}

// at returns the set as of sequence number seq: the checkpointed set plus
// the observations kept up to seq, never any after it.
func (d *dedupe) at(seq string) map[string][]int64 {
	out := make(map[string][]int64, len(d.base)+len(d.hist))
	for loc, b := range d.base {
		out[loc] = b
	}
	for loc, h := range d.hist {
		n := sort.Search(len(h), func(i int) bool { return stream.SeqLess(seq, h[i].seq) })
		if n == 0 {
			continue
		}
		var ats []int64
		d.recent(loc, h[:n], func(a int64) bool { ats = append(ats, a); return false })
		for l, r := 0, len(ats)-1; l < r; l, r = l+1, r-1 {
			ats[l], ats[r] = ats[r], ats[l]
		}
		out[loc] = ats
	}
	size := stateOverhead
	for loc, ats := range out {
		size += entrySize(loc, ats)
	}
	if len(out) <= maxStateLocations && size <= MaxStateBytes {
		return out
	}
	// Keep the locations seen most recently, newest first, as long as both
	// bounds allow; one that does not fit is skipped, so a huge id cannot
	// push out the many small ones after it.
	locs := make([]string, 0, len(out))
	for loc := range out {
		locs = append(locs, loc)
	}
	newest := func(loc string) int64 { ats := out[loc]; return ats[len(ats)-1] }
	sort.Slice(locs, func(i, j int) bool {
		if a, b := newest(locs[i]), newest(locs[j]); a != b {
			return a > b
		}
		return locs[i] < locs[j]
	})
	kept, size := 0, stateOverhead
	for _, loc := range locs {
		n := entrySize(loc, out[loc])
		if kept < maxStateLocations && size+n <= MaxStateBytes {
			kept++
			size += n
			continue
		}
		delete(out, loc)
	}
	return out
}

// stateOverhead is the encoded size of an empty state, {"v":1,"recent":{}}.
const stateOverhead = len(`{"v":1,"recent":{}}`)

// entrySize is the exact encoded size of one location of the state,
// `"<id>":[t,...]` and the comma that separates it from the next.
func entrySize(loc string, ats []int64) int {
	n := len(loc) + 2
	if !weather.ValidLocationID(loc) {
		b, _ := json.Marshal(loc) // escapes
		n = len(b)
	}
	n += len(`:[],`)
	var buf [24]byte
	for i, a := range ats {
		if i > 0 {
			n++
		}
		n += len(strconv.AppendInt(buf[:0], a, 10))
	}
	return n
}

// encode is the saved form of a set.
func encodeState(recent map[string][]int64) ([]byte, error) {
	b, err := json.Marshal(savedState{V: stateVersion, Recent: recent})
	if err != nil {
		return nil, fmt.Errorf("encode dedupe state: %w", err)
	}
	return b, nil
}

// commit makes recent, the set as of the checkpoint seq just written, the
// new base, and forgets the observations kept up to seq.
func (d *dedupe) commit(seq string, recent map[string][]int64) {
	d.base = recent
	for loc, h := range d.hist {
		n := sort.Search(len(h), func(i int) bool { return stream.SeqLess(seq, h[i].seq) })
		if n == len(h) {
			delete(d.hist, loc)
			continue
		}
		// In place: the slice keeps its capacity for the observations to
		// come, and nothing else refers to it.
		m := copy(h, h[n:])
		clear(h[m:])
		d.hist[loc] = h[:m]
	}
}
