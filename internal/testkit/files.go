package testkit

import (
	"os"
	"testing"
)

// DirNames lists the names of dir's entries, sorted (what os.ReadDir
// returns); the test fails if dir cannot be read.
func DirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}
