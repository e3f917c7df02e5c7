package backoff

import (
	"testing"
	"time"
)

func TestExponential_Nominal(t *testing.T) {
	e := Exponential{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 100, 100, 200, 400, 800, 1000, 1000}
	for i, n := range []int{-1, 0, 1, 2, 3, 4, 5, 1 << 30} {
		if got := e.Nominal(n); got != want[i]*time.Millisecond {
			t.Errorf("Nominal(%d) = %s, want %s", n, got, want[i]*time.Millisecond)
		}
	}
	huge := Exponential{Base: time.Second, Max: 1<<63 - 1}
	if got := huge.Nominal(200); got <= 0 {
		t.Errorf("Nominal(200) with no practical cap = %s, want no overflow", got)
	}
}

func TestJitter_Bounds(t *testing.T) {
	d := 500 * time.Millisecond
	for _, tc := range []struct {
		u    float64
		want time.Duration
	}{{0, 250 * time.Millisecond}, {0.5, 375 * time.Millisecond}, {0.999999999, 499999999}} {
		if got := jitter(d, tc.u); got != tc.want {
			t.Errorf("jitter(%s, %v) = %s, want %s", d, tc.u, got, tc.want)
		}
	}
	if got := jitter(1, 0.99); got != 0 {
		t.Errorf("jitter(1ns) = %s, want 0", got)
	}
	if got := jitter(0, 0.5); got != 0 {
		t.Errorf("jitter(0) = %s, want 0", got)
	}
}

func TestExponential_Delay(t *testing.T) {
	e := Exponential{Base: 500 * time.Millisecond, Max: 8 * time.Second}
	for n := 1; n <= 6; n++ {
		d := e.Nominal(n)
		for range 1000 {
			if got := e.Delay(n); got < d/2 || got >= d {
				t.Fatalf("Delay(%d) = %s, want in [%s, %s)", n, got, d/2, d)
			}
		}
	}
}
