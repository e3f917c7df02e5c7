package weather

import (
	"strings"
	"testing"
	"unicode"
)

func TestColumns_Names(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Columns {
		var snake strings.Builder
		for _, r := range c.Name {
			if unicode.IsUpper(r) {
				snake.WriteByte('_')
			}
			snake.WriteRune(unicode.ToLower(r))
		}
		if c.Column != snake.String() {
			t.Errorf("column of %q is %q, want %q", c.Name, c.Column, snake.String())
		}
		if !valueName(c.Name) {
			t.Errorf("%q is not a value name", c.Name)
		}
		if c.Kind != Double && c.Kind != Int32 {
			t.Errorf("%q has kind %d", c.Name, c.Kind)
		}
		if seen[c.Name] {
			t.Errorf("%q listed twice", c.Name)
		}
		seen[c.Name] = true
	}
	for _, n := range rawOnlyNames {
		if seen[n] {
			t.Errorf("%q is both a column and raw-only", n)
		}
	}
}
