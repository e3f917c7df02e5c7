package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
)

// TestTemplates_LocalTimePerZone renders entries of locations in different
// zones, interleaved, through one set of templates: each SMS shows its own
// location's local time (the templates are bound once per zone, not per
// message).
func TestTemplates_LocalTimePerZone(t *testing.T) {
	tm, err := parseTemplates(TemplateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i, tc := range []struct{ zone, want string }{
		{"America/Sao_Paulo", "09:00"},
		{"America/Toronto", "07:00"},
		{"", "12:00"},
		{"America/Sao_Paulo", "09:00"},
		{"Not/A_Zone", "12:00"},
		{"America/Toronto", "07:00"},
	} {
		e := state.Entry{ID: "x", Channel: "sms", Event: state.Event{
			Kind: kindFiring, Rule: "strong-wind", Severity: "warning", LocationID: "l", LocationName: "L",
			Timezone: tc.zone, ObservedAt: at,
		}}
		m, err := tm.render(e, notify.Units{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.SMS, " "+tc.want) {
			t.Errorf("entry %d (zone %q): sms %q, want local time %s", i, tc.zone, m.SMS, tc.want)
		}
	}
	if n := len(tm.byZone); n != 4 {
		t.Errorf("templates bound for %d zones, want 4", n)
	}
}
