package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/pkg/check"
)

func TestConfig_Validate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(good, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"None", Config{}, ""},
		{"Token", Config{Token: "0123456789abcdef"}, ""},
		{"TokenFile", Config{TokenFile: good, AuthReads: true}, ""},
		{"Short", Config{Token: "hunter2"}, "http.api.token: got 7 bytes, want at least 16 (e.g. openssl rand -hex 32)"},
		{"Both", Config{Token: "0123456789abcdef", TokenFile: good}, "http.api.token_file: set either token or token_file, not both"},
		{"EmptyFile", Config{TokenFile: empty}, `http.api.token_file: "` + empty + `" is empty; want the API token`},
		{"MissingFile", Config{TokenFile: filepath.Join(dir, "nope")}, `http.api.token_file: cannot read "` + filepath.Join(dir, "nope") + `": no such file or directory`},
		{"AuthReadsWithoutToken", Config{AuthReads: true}, "http.api.auth_reads: true needs a token: set http.api.token or http.api.token_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ps check.Problems
			c.cfg.Validate("http.api", &ps)
			got := ""
			if err := ps.Err(); err != nil {
				got = err.Error()
			}
			if got != c.want {
				t.Errorf("Validate = %q, want %q", got, c.want)
			}
		})
	}
	a, err := Config{TokenFile: good}.Auth()
	if err != nil || a.Token.Reveal() != "0123456789abcdef0123" || strings.Contains(a.Token.String(), "0123") {
		t.Errorf("Auth from a file = %v, %v", a.Token.Reveal(), err)
	}
}
