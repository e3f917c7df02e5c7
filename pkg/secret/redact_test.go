package secret

import "testing"

func TestRedactor_Excerpt(t *testing.T) {
	r := NewRedactor("", "key123", "key123456789")
	for _, tc := range []struct {
		s     string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"a key123456789 b", 100, "a <secret> b"},                 // the longer one whole
		{"a key123 b key123456789", 100, "a <secret> b <secret>"}, // both
		{"0123456789key123456789 tail", 12, "0123456789<s…"},      // redacted, then cut
		{"0123456789é", 11, "0123456789…"},                        // no half rune
		{"exactly ten", 11, "exactly ten"},
	} {
		if got := r.Excerpt(tc.s, tc.limit); got != tc.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tc.s, tc.limit, got, tc.want)
		}
	}
	if got := NewRedactor().Redact("nothing " + Redacted); got != "nothing <secret>" {
		t.Errorf("empty redactor changed the text: %q", got)
	}
}
