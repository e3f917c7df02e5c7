package config

import (
	"testing"
)

// TestValidate_NeverFiringSchedule: a spec that parses but matches no time
// used to pass validate and then spin the poller.
func TestValidate_NeverFiringSchedule(t *testing.T) {
	_, err := Load(Source{Path: writeFile(t, "poller:\n  schedule: \"0 0 30 2 *\"\n"), Explicit: true, Env: envOf(nil)})
	if err == nil {
		t.Fatal("accepted a schedule that never fires")
	}
	got := problems(t, err)
	want := `poller.schedule: cron spec "0 0 30 2 *" never fires: no time in the next 5 years matches it`
	if len(got) != 1 || got[0] != want {
		t.Errorf("problems %q, want [%q]", got, want)
	}
}
