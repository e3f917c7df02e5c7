package match

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, v string
		want bool
	}{
		{"", "anything", true},
		{"thunderstorm", "thunderstorm", true},
		{"thunderstorm", "thunder", false},
		{"strong-wind|heavy-rain", "heavy-rain", true},
		{"strong-wind|heavy-rain", "rain", false},
		{"heavy-*", "heavy-rain", true},
		{"heavy-*|gust?", "gusty", true},
		{"[", "[", false},
	} {
		if got := Match(c.p, c.v); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.p, c.v, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for p, want := range map[string]string{
		"":                             "",
		"a|b*":                         "",
		"a||b":                         `"a||b" has an empty alternative`,
		"a|[":                          `"a|[": malformed glob "["`,
		string(make([]byte, MaxLen+1)): "got 257 bytes, want at most 256",
	} {
		err := Check(p)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("Check(%.10q) = %q, want %q", p, got, want)
			}
		} else if want != "" {
			t.Errorf("Check(%.10q) = nil, want %q", p, want)
		}
	}
}
