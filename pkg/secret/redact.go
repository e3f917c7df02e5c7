package secret

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Redactor replaces known secrets in text that may quote them: an API's or
// a webhook receiver's error body echoing the key, a transport error naming
// a URL.
type Redactor struct {
	hidden []string
}

// NewRedactor returns a Redactor for hidden. Empty strings are ignored;
// longer strings are replaced first, so one that contains another is
// replaced whole.
func NewRedactor(hidden ...string) Redactor {
	var hs []string
	for _, h := range hidden {
		if h != "" {
			hs = append(hs, h)
		}
	}
	sort.SliceStable(hs, func(i, j int) bool { return len(hs[i]) > len(hs[j]) })
	return Redactor{hidden: hs}
}

// Redact returns s with every hidden string replaced by Redacted.
func (r Redactor) Redact(s string) string {
	for _, h := range r.hidden {
		s = strings.ReplaceAll(s, h, Redacted)
	}
	return s
}

// Excerpt returns s redacted, then cut to at most limit bytes on a UTF-8
// boundary, with "…" marking a cut. Redacting before cutting matters: a
// secret straddling the cut would otherwise no longer match whole, and its
// first part would be quoted.
func (r Redactor) Excerpt(s string, limit int) string {
	s = r.Redact(s)
	if len(s) <= limit {
		return s
	}
	cut := max(limit, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
