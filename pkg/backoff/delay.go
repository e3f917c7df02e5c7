package backoff

import (
	"math/rand/v2"
	"time"
)

// Exponential is a jittered exponential backoff. The nominal wait after
// the n-th consecutive failure is Base·2^(n-1), capped at Max; the wait
// used is drawn uniformly from [nominal/2, nominal) ("equal jitter"). Half
// of it is fixed, so waits keep growing with the failures; half is random,
// so shards, workers and replicas that failed together do not retry in step.
type Exponential struct {
	Base time.Duration
	Max  time.Duration
}

// Delay returns the wait after the n-th consecutive failure (n ≥ 1; less
// counts as 1).
func (e Exponential) Delay(n int) time.Duration {
	return jitter(e.Nominal(n), rand.Float64())
}

// Nominal is the wait after the n-th failure before jitter: Base·2^(n-1),
// capped at Max.
func (e Exponential) Nominal(n int) time.Duration {
	d := max(e.Base, 0)
	for i := 1; i < n && d < e.Max; i++ {
		if d > e.Max/2 {
			return e.Max // and no overflow
		}
		d *= 2
	}
	return min(d, e.Max)
}

// jitter maps u in [0, 1) to a wait in [d/2, d).
func jitter(d time.Duration, u float64) time.Duration {
	if d <= 0 {
		return 0
	}
	half := d / 2
	// float64 rounding must not reach d.
	off := min(time.Duration(u*float64(d-half)), d-half-1)
	return half + max(off, 0)
}
