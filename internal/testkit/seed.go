package testkit

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// SeedEnv names the environment variable that fixes the seed of every
// randomised test, to replay a failure: WEATHERD_TEST_SEED=42 go test ...
const SeedEnv = "WEATHERD_TEST_SEED"

// Seed returns the seed for a randomised test and logs it with how to rerun
// with it: the value of WEATHERD_TEST_SEED when set (a value that is not a
// number fails the test), else a fresh one, so that runs explore.
func Seed(tb testing.TB) uint64 {
	tb.Helper()
	seed, fixed := SeedFromEnv(tb)
	if !fixed {
		seed = uint64(time.Now().UnixNano())
	}
	tb.Logf("seed %d (rerun with %s=%d)", seed, SeedEnv, seed)
	return seed
}

// SeedFromEnv returns WEATHERD_TEST_SEED and whether it is set, for tests
// that otherwise run a fixed list of seeds.
func SeedFromEnv(tb testing.TB) (uint64, bool) {
	tb.Helper()
	v := os.Getenv(SeedEnv)
	if v == "" {
		return 0, false
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		tb.Fatalf("%s=%q: want an unsigned integer", SeedEnv, v)
	}
	return seed, true
}
