package alert_test

import (
	"reflect"
	"testing"

	"github.com/weatherd/weatherd/pkg/alert"
)

func TestConfig_ValidateInhibit(t *testing.T) {
	tests := []struct {
		name    string
		inhibit []alert.InhibitConfig
		want    []string
	}{
		{
			name:    "Valid",
			inhibit: []alert.InhibitConfig{{Source: alert.MatcherConfig{Rule: "strong-*"}, Target: alert.MatcherConfig{Severity: "info|warning", Location: "sao-*"}, Equal: []string{"location"}}},
		},
		{
			name: "EveryProblemNamed",
			inhibit: []alert.InhibitConfig{
				{Source: alert.MatcherConfig{Rule: "thunderstorm"}, Target: alert.MatcherConfig{Rule: "strong-wind|heavy-rain"}, Equal: []string{"location", "zone", "location"}},
				{Target: alert.MatcherConfig{Rule: "gust[", Severity: "major"}},
				{Source: alert.MatcherConfig{Rule: "x*"}, Target: alert.MatcherConfig{Location: "a||b"}},
			},
			want: []string{
				`alerts.inhibit[0].source.rule: unknown rule "thunderstorm" (known: strong-wind)`,
				`alerts.inhibit[0].target.rule: unknown rule "heavy-rain" (known: strong-wind)`,
				`alerts.inhibit[0].equal[1]: got "zone", want one of location, severity`,
				`alerts.inhibit[0].equal[2]: "location" given twice`,
				`alerts.inhibit[1].source: at least one of rule, location and severity is required`,
				`alerts.inhibit[1].target.rule: "gust[": malformed glob "gust["`,
				`alerts.inhibit[1].target.severity: unknown severity "major" (known: info, warning, critical)`,
				`alerts.inhibit[2].source.rule: "x*" matches no rule`,
				`alerts.inhibit[2].target.location: "a||b" has an empty alternative`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Inhibit = tt.inhibit
			got := problems(c)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
