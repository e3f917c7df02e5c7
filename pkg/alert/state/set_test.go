package state_test

import (
	"slices"
	"testing"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

func TestSet_SortedByRuleAndReplaced(t *testing.T) {
	var s state.Set
	for _, rule := range []string{"rainy", "frost", "windy", "gusty"} {
		s.Put(&state.Alert{Rule: rule, Seq: 1})
	}
	s.Put(&state.Alert{Rule: "rainy", Seq: 2})
	var order []string
	for _, a := range s {
		order = append(order, a.Rule)
	}
	if got, want := order, []string{"frost", "gusty", "rainy", "windy"}; !slices.Equal(got, want) {
		t.Fatalf("rules in the set = %v, want %v", got, want)
	}
	if a := s.Get("rainy"); a == nil || a.Seq != 2 {
		t.Fatalf("Get(rainy) = %+v, want the second Put (seq 2)", a)
	}
	if a := s.Get("hail"); a != nil {
		t.Fatalf("Get(hail) = %+v, want nil", a)
	}
}
