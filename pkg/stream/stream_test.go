package stream

import "testing"

func TestSeqLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"9", "10", true},
		{"10", "9", false},
		{"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588899", true},
		{"5", "5", false},
		{"123", "124", true},
	} {
		if got := SeqLess(tc.a, tc.b); got != tc.want {
			t.Errorf("SeqLess(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
