package kcl

import (
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
)

func TestConfig_MaxClockSkew(t *testing.T) {
	c := testkit.Default[Config](t, "consumer")
	if c.MaxClockSkew != time.Hour {
		t.Errorf("default consumer.max_clock_skew = %s, want 1h", c.MaxClockSkew)
	}
	c.MaxClockSkew = 500 * time.Millisecond
	if err := validate(c); err == nil || err.Error() != "consumer.max_clock_skew: got 500ms, want at least 1s" {
		t.Errorf("Validate = %v", err)
	}
}
