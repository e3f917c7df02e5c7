// Package match holds the one pattern syntax weatherd's silences and
// inhibition rules select alerts with: path.Match globs, with "|" between
// alternatives ("strong-wind|heavy-*"); an empty pattern matches anything.
package match

import (
	"fmt"
	"path"
	"strings"
)

// MaxLen bounds a pattern, so a pattern from the API stays cheap to match.
const MaxLen = 256

// Check reports why p is not a valid pattern, or nil.
func Check(p string) error {
	if len(p) > MaxLen {
		return fmt.Errorf("got %d bytes, want at most %d", len(p), MaxLen)
	}
	if p == "" {
		return nil
	}
	for _, alt := range strings.Split(p, "|") {
		if alt == "" {
			return fmt.Errorf("%q has an empty alternative", p)
		}
		if _, err := path.Match(alt, ""); err != nil {
			return fmt.Errorf("%q: malformed glob %q", p, alt)
		}
	}
	return nil
}

// Match reports whether v matches p. A malformed p matches nothing; Check
// it first.
func Match(p, v string) bool {
	if p == "" {
		return true
	}
	for _, alt := range strings.Split(p, "|") {
		if ok, err := path.Match(alt, v); ok && err == nil {
			return true
		}
	}
	return false
}

// Literals returns the alternatives of p that hold no glob characters, so a
// config check can name an alternative that cannot match any configured id.
func Literals(p string) []string {
	var out []string
	for _, alt := range strings.Split(p, "|") {
		if alt != "" && !strings.ContainsAny(alt, `*?[\`) {
			out = append(out, alt)
		}
	}
	return out
}

// ValidRule reports whether s has the syntax of alerts.rules[].name, the
// rule id of an alert.
func ValidRule(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}
