package testkit

import (
	"testing"
	"time"
)

// WaitFor calls cond every interval until it returns true, and fails tb when
// within has passed without that. cond's string says what it saw (e.g.
// "produced 40 of 100"); the failure message quotes the last one. cond may
// call tb.Fatal itself (e.g. when the process under test exits).
func WaitFor(tb testing.TB, what string, within, interval time.Duration, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if state == "" {
				tb.Fatalf("%s: not reached within %s", what, within)
			}
			tb.Fatalf("%s: not reached within %s (last: %s)", what, within, state)
		}
		time.Sleep(interval)
	}
}
