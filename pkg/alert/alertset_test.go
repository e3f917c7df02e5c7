package alert

import (
	"slices"
	"testing"

	"github.com/weatherd/weatherd/pkg/alert/state"
)

func TestAlertSet_SortedByRuleAndReplaced(t *testing.T) {
	var s alertSet
	for _, rule := range []string{"rainy", "frost", "windy", "gusty"} {
		s.put(&state.Alert{Rule: rule, Seq: 1})
	}
	s.put(&state.Alert{Rule: "rainy", Seq: 2})
	var order []string
	for _, a := range s {
		order = append(order, a.Rule)
	}
	if got, want := order, []string{"frost", "gusty", "rainy", "windy"}; !slices.Equal(got, want) {
		t.Fatalf("rules in the set = %v, want %v", got, want)
	}
	if a := s.get("rainy"); a == nil || a.Seq != 2 {
		t.Fatalf("get(rainy) = %+v, want the second put (seq 2)", a)
	}
	if a := s.get("hail"); a != nil {
		t.Fatalf("get(hail) = %+v, want nil", a)
	}
}
