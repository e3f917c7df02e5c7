package alert

import (
	"slices"
	"testing"

	"github.com/weatherd/weatherd/pkg/weather"
)

func TestGroupByLocation(t *testing.T) {
	var rs []weather.Reading
	for _, id := range []string{"b", "a", "b", "c", "a", "b"} {
		rs = append(rs, weather.Reading{Location: weather.EventLocation{ID: id}})
	}
	ids, idx, starts := groupByLocation(rs)
	if want := []string{"b", "a", "c"}; !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v (order of first appearance)", ids, want)
	}
	if want := []int32{0, 2, 5, 1, 4, 3}; !slices.Equal(idx, want) {
		t.Fatalf("idx = %v, want %v (stream order within each location)", idx, want)
	}
	if want := []int32{0, 3, 5, 6}; !slices.Equal(starts, want) {
		t.Fatalf("starts = %v, want %v", starts, want)
	}
	ids, idx, starts = groupByLocation(nil)
	if len(ids) != 0 || len(idx) != 0 || !slices.Equal(starts, []int32{0}) {
		t.Fatalf("empty batch: ids %v idx %v starts %v", ids, idx, starts)
	}
}
