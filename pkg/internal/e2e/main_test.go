package e2e

import (
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
)

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	m.Run()
	testkit.RemoveBinary()
}
