package lake

import "math"

// The gold schema is Row, generated from weather.Columns, the one list of
// value columns: after changing that list, run go generate ./pkg/lake.
//go:generate go run ./internal/rowgen

// int32Slab hands out *int32 from shared arrays, so the code columns of a
// batch of rows cost a few allocations instead of one per value.
type int32Slab []int32

func (s *int32Slab) ptr(x int32) *int32 {
	if s == nil {
		// Not &x: that would move x to the heap on every call, the slab's
		// included.
		p := new(int32)
		*p = x
		return p
	}
	if len(*s) == cap(*s) {
		*s = make([]int32, 0, 4096)
	}
	*s = append(*s, x)
	return &(*s)[len(*s)-1]
}

// toInt32 keeps a code value only when it is a whole number that fits INT32;
// anything else becomes null in gold (raw/ keeps the original).
func toInt32(v *float64, ints *int32Slab) *int32 {
	if v == nil || *v != math.Trunc(*v) || *v < math.MinInt32 || *v > math.MaxInt32 {
		return nil
	}
	return ints.ptr(int32(*v))
}
