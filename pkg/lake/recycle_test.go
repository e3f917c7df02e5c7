package lake

import (
	"testing"
	"time"
)

func TestChunkClass(t *testing.T) {
	for n, want := range map[int]int{16: 0, 32: 1, 64: 2, 512: 5, 1024: 6, 0: -1, 8: -1, 48: -1, 2048: -1} {
		if got := chunkClass(n); got != want {
			t.Errorf("chunkClass(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestRecycler_ReusesClearedChunksWithinItsBound: a flushed buffer's chunks
// come back empty and cleared (no strings kept alive), by size, and no
// more than maxBytes of them are kept.
func TestRecycler_ReusesClearedChunksWithinItsBound(t *testing.T) {
	r := newRecycler(3 * 16 * bufRowSize) // room for three 16-row chunks
	b := newBuffer()
	p := &goldPart{hour: time.Unix(0, 0), bodies: make([][]byte, 2, 8)}
	p.bodies[0], p.bodies[1] = []byte("a"), []byte("b")
	for range 4 {
		c := r.chunk(16)
		if cap(c) != 16 || len(c) != 0 {
			t.Fatalf("chunk(16): len %d cap %d", len(c), cap(c))
		}
		c = append(c, bufRow{eventID: "e", locationID: "l"})
		p.rows = append(p.rows, c)
	}
	b.gold[0] = p
	r.recycle(&b)
	if p.rows != nil || p.bodies != nil {
		t.Fatal("recycle left the part holding its rows or bodies")
	}
	if got := len(r.chunks[0]); got != 3 {
		t.Fatalf("kept %d chunks, want 3 (the bound)", got)
	}
	if r.bytes != 3*16*bufRowSize {
		t.Fatalf("accounted %d bytes, want %d", r.bytes, 3*16*bufRowSize)
	}
	c := r.chunk(16)
	if len(c) != 0 || cap(c) != 16 || c[:1][0].eventID != "" {
		t.Fatalf("a recycled chunk is not empty and cleared: len %d cap %d first %+v", len(c), cap(c), c[:1][0])
	}
	if r.bytes != 2*16*bufRowSize {
		t.Fatalf("after one taken: %d bytes accounted, want %d", r.bytes, 2*16*bufRowSize)
	}
	if c := r.chunk(32); cap(c) != 32 {
		t.Fatalf("chunk(32) with none kept: cap %d", cap(c))
	}
	bs := r.body()
	if len(bs) != 0 || cap(bs) != 8 || bs[:1][0] != nil {
		t.Fatalf("a recycled bodies slice is not empty and cleared: len %d cap %d", len(bs), cap(bs))
	}
	if bs := r.body(); bs != nil {
		t.Fatalf("a second bodies slice from a recycler that kept one: cap %d", cap(bs))
	}
}

func TestSizeHint(t *testing.T) {
	var h sizeHint
	if got := h.size(1000, 40); got != 40*1000+4096 {
		t.Errorf("before any object: %d, want the guess %d", got, 40*1000+4096)
	}
	h.learn(1000, 55_000) // 55 bytes per unit
	if got, want := h.size(2000, 40), 2000*55*9/8+4096; got != want {
		t.Errorf("after one object: %d, want %d (its weight with an eighth to spare)", got, want)
	}
	h.learn(0, 10) // nothing to learn from
	if got, want := h.size(2000, 40), 2000*55*9/8+4096; got != want {
		t.Errorf("after an empty object: %d, want still %d", got, want)
	}
}

func TestFreeList_KeepsAtMostMax(t *testing.T) {
	f := freeList[int]{max: 2}
	for i := range 3 {
		f.put(i)
	}
	var got []int
	for {
		x, ok := f.get()
		if !ok {
			break
		}
		got = append(got, x)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatalf("got %v back, want [1 0] (the first two, last in first out)", got)
	}
}
