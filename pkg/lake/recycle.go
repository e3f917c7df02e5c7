package lake

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// A shard's buffer fills and is flushed every few seconds, so it is built
// from memory the previous buffers used: row chunks of every size and the
// slices that hold record bodies come back here after their flush, and
// output buffers are allocated at the size the last object of their kind
// needed. That keeps the garbage a reading leaves, and the copying of
// slices that grow by doubling, out of the hot path.

// A partition's rows are kept in chunks that start at minRowChunk rows and
// double up to maxRowChunk, so a partition with one late reading stays
// small and a large one grows without copying; there are chunkClasses
// sizes.
const (
	minChunkShift = 4
	chunkClasses  = 7
	minRowChunk   = 1 << minChunkShift
	maxRowChunk   = minRowChunk << (chunkClasses - 1)
)

// recycler holds what flushed buffers give back, up to maxBytes of row
// chunks (a flush's worth, well within lake.max_buffered_bytes) and
// 256 bodies slices. Unlike a sync.Pool, a garbage collection does
// not empty it: buffers fill every few seconds, more slowly than the heap
// turns over.
type recycler struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	chunks   [chunkClasses][][]bufRow
	bodies   freeList[[][]byte]
}

func newRecycler(maxBytes int64) *recycler {
	return &recycler{maxBytes: maxBytes, bodies: freeList[[][]byte]{max: 256}}
}

// bufRowSize is the memory of one buffered row.
const bufRowSize = int64(unsafe.Sizeof(bufRow{}))

// chunkClass is the class of a chunk of capacity n, or -1 for a capacity
// that is not one of the sizes.
func chunkClass(n int) int {
	if n < minRowChunk || n > maxRowChunk || n&(n-1) != 0 {
		return -1
	}
	return bits.TrailingZeros(uint(n)) - minChunkShift
}

// chunk returns an empty chunk of capacity size (one of the sizes).
func (r *recycler) chunk(size int) []bufRow {
	class := chunkClass(size)
	r.mu.Lock()
	if free := r.chunks[class]; len(free) > 0 {
		c := free[len(free)-1]
		free[len(free)-1] = nil
		r.chunks[class] = free[:len(free)-1]
		r.bytes -= int64(cap(c)) * bufRowSize
		r.mu.Unlock()
		return c
	}
	r.mu.Unlock()
	return make([]bufRow, 0, size)
}

// body returns an empty slice for a partition's record bodies.
func (r *recycler) body() [][]byte {
	b, _ := r.bodies.get()
	return b
}

// recycle takes back the row chunks and bodies slices of b, which is done
// with, cleared so they keep no strings or records alive; what does not fit
// the bounds is left to the garbage collector.
func (r *recycler) recycle(b *buffer) {
	for _, p := range b.gold {
		for _, c := range p.rows {
			class := chunkClass(cap(c))
			if class < 0 {
				continue
			}
			size := int64(cap(c)) * bufRowSize
			r.mu.Lock()
			if r.bytes+size <= r.maxBytes {
				clear(c[:cap(c)])
				r.chunks[class] = append(r.chunks[class], c[:0])
				r.bytes += size
			}
			r.mu.Unlock()
		}
		p.rows = nil
		if cap(p.bodies) > 0 {
			clear(p.bodies[:cap(p.bodies)])
			r.bodies.put(p.bodies[:0])
		}
		p.bodies = nil
	}
}

// freeList keeps up to max values for reuse and, unlike a sync.Pool,
// keeps them through garbage collections.
type freeList[T any] struct {
	mu  sync.Mutex
	max int
	xs  []T
}

func (f *freeList[T]) get() (x T, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.xs); n > 0 {
		x, ok = f.xs[n-1], true
		var zero T
		f.xs[n-1] = zero
		f.xs = f.xs[:n-1]
	}
	return x, ok
}

func (f *freeList[T]) put(x T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.xs) < f.max {
		f.xs = append(f.xs, x)
	}
}

// sizeHint is what the last object of one kind weighed per unit of input
// (a row, a byte of bodies), so the next one's output buffer is allocated
// once at about the right size.
type sizeHint struct {
	perUnit atomic.Uint64 // math.Float64bits of bytes per unit; 0 before the first object
}

// size is the buffer to allocate for units of input: the last object's
// weight with an eighth to spare, or guess bytes per unit before any.
func (h *sizeHint) size(units int, guess float64) int {
	if bits := h.perUnit.Load(); bits != 0 {
		guess = math.Float64frombits(bits) * 9 / 8
	}
	return int(float64(units)*guess) + 4096
}

// learn records an object of size bytes made from units of input.
func (h *sizeHint) learn(units, size int) {
	if units > 0 && size > 0 {
		h.perUnit.Store(math.Float64bits(float64(size) / float64(units)))
	}
}
