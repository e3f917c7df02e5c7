package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
)

// maxNameLen keeps names valid for streams, tables and buckets alike and
// short enough to read in logs.
const maxNameLen = 40

var names struct {
	sync.Mutex
	used map[string]bool
}

// Name returns a fresh name that starts with prefix, unique across test
// processes, lowercase, at most 40 characters of [a-z0-9-], starting and
// ending with a letter or digit: valid for a Kinesis stream, a DynamoDB table,
// an S3 bucket and an SNS topic. Characters of prefix outside [a-z0-9] become
// '-', and a long prefix is shortened.
func Name(tb testing.TB, prefix string) string {
	tb.Helper()
	p := sanitize(prefix)
	for {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			tb.Fatalf("emulator: random name suffix: %v", err)
			return ""
		}
		suffix := hex.EncodeToString(b[:])
		max := maxNameLen - len(suffix) - 1
		head := strings.TrimRight(p[:min(len(p), max)], "-")
		name := head + "-" + suffix
		names.Lock()
		if !names.used[name] {
			if names.used == nil {
				names.used = make(map[string]bool)
			}
			names.used[name] = true
			names.Unlock()
			return name
		}
		names.Unlock()
	}
}

// sanitize lowercases prefix, turns runs of other characters than [a-z0-9]
// into one '-', trims '-' at both ends and falls back to "t".
func sanitize(prefix string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(prefix) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			sb.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			sb.WriteByte('-')
			dash = true
		}
	}
	p := strings.Trim(sb.String(), "-")
	if p == "" {
		return "t"
	}
	return p
}
