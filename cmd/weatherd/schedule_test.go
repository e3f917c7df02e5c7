package main

import (
	"strings"
	"testing"
)

// TestValidate_NeverFiringSchedule: `weatherd validate` rejects a cron spec
// that can never fire, naming the key.
func TestValidate_NeverFiringSchedule(t *testing.T) {
	code, out, errOut := runMain(t, "validate", "--config", writeConfig(t, "poller:\n  schedule: \"0 0 30 2 *\"\n"))
	want := `poller.schedule: cron spec "0 0 30 2 *" never fires: no time in the next 5 years matches it`
	if code != 2 || out != "" || strings.TrimSpace(errOut) != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, want)
	}
}
