package notify

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each), without ESC.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExt are the extension-table characters: two septets each (ESC + char).
const gsmExt = "^{}\\[~]|€\f"

// SMSSegment is the number of GSM-7 characters one SMS segment holds.
const SMSSegment = 160

// lookalikes replace common characters that are not GSM-7 (°, typographic
// quotes and dashes) before falling back to stripping accents.
var lookalikes = map[rune]string{
	'°': "", '‘': "'", '’': "'", '“': "\"", '”': "\"", '–': "-", '—': "-",
	'…': "...", '\t': " ", '·': ".", '×': "x", '≥': ">=", '≤': "<=", 'º': "", 'ª': "a",
}

// septets is how many GSM-7 septets r takes, or 0 when it is not GSM-7.
func septets(r rune) int {
	switch {
	case strings.ContainsRune(gsmBasic, r):
		return 1
	case strings.ContainsRune(gsmExt, r):
		return 2
	}
	return 0
}

// IsGSM7 reports whether s can be sent in the GSM-7 alphabet.
func IsGSM7(s string) bool {
	for _, r := range s {
		if septets(r) == 0 {
			return false
		}
	}
	return true
}

// SeptetLen is the length of a GSM-7 text in septets.
func SeptetLen(s string) int {
	n := 0
	for _, r := range s {
		n += septets(r)
	}
	return n
}

// ToGSM7 transliterates s into the GSM-7 alphabet, so one segment holds 160
// characters instead of the 70 a single non-GSM character (such as "ã")
// would leave: accents outside GSM-7 are dropped ("São" -> "Sao"), common
// symbols get look-alikes ("°" is dropped), anything else becomes "?".
func ToGSM7(s string) string {
	return transliterate(s, func(r rune) bool { return septets(r) > 0 })
}

// ToASCII transliterates s to printable ASCII in the same way.
func ToASCII(s string) string {
	return transliterate(s, func(r rune) bool { return r < 0x7f && (r >= 0x20 || r == '\n') })
}

func transliterate(s string, ok func(rune) bool) string {
	var b strings.Builder
	for _, r := range s {
		if ok(r) {
			b.WriteRune(r)
			continue
		}
		if unicode.IsSpace(r) {
			b.WriteByte(' ')
			continue
		}
		if unicode.IsControl(r) {
			continue
		}
		if alt, found := lookalikes[r]; found {
			b.WriteString(alt)
			continue
		}
		wrote := false
		for _, d := range norm.NFD.String(string(r)) {
			if ok(d) {
				b.WriteRune(d)
				wrote = true
			}
		}
		if !wrote && !unicode.Is(unicode.Mn, r) {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// FitSMS transliterates text to GSM-7 and shortens it to at most max septets,
// cutting at a word boundary and ending with "..." when it had to cut.
func FitSMS(text string, max int) string {
	text = strings.Join(strings.Fields(ToGSM7(text)), " ")
	if SeptetLen(text) <= max {
		return text
	}
	const ellipsis = "..."
	budget := max - len(ellipsis)
	n, cut, lastSpace := 0, 0, -1
	for i, r := range text {
		w := septets(r)
		if n+w > budget {
			break
		}
		n += w
		cut = i + len(string(r))
		if r == ' ' {
			lastSpace = i
		}
	}
	// Prefer a word boundary unless it throws away much of the text.
	if lastSpace > 0 && lastSpace > cut*3/4 {
		cut = lastSpace
	}
	return strings.TrimRight(text[:cut], " ,;:-") + ellipsis
}

// Subject makes an email subject SNS accepts: printable ASCII on one line,
// fewer than 100 characters.
func Subject(s string) string {
	s = strings.Join(strings.Fields(ToASCII(s)), " ")
	if len(s) > 99 {
		s = strings.TrimRight(s[:96], " ") + "..."
	}
	return s
}
