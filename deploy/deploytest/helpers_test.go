package deploytest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
	"go.yaml.in/yaml/v3"
)

// MustRead returns the file at rel (slash-separated, from the repository root).
func MustRead(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.Root(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustModule returns the module path from go.mod.
func MustModule(tb testing.TB) string {
	tb.Helper()
	for _, line := range strings.Split(string(MustRead(tb, "go.mod")), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	tb.Fatal("go.mod has no module line")
	return ""
}

// MustJSON decodes the JSON file at rel into v, rejecting unknown fields when
// v is a struct.
func MustJSON(tb testing.TB, rel string, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(MustRead(tb, rel)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
}

// MustYAML decodes the YAML file at rel into v.
func MustYAML(tb testing.TB, rel string, v any) {
	tb.Helper()
	if err := yaml.Unmarshal(MustRead(tb, rel), v); err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
}

// environ turns a name-to-value map into KEY=VALUE entries, so config.Load
// also rejects a misspelt WEATHERD_ variable in it.
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// MustRun runs a command in the repository root and returns its combined
// output, failing with that output when it exits non-zero.
func MustRun(tb testing.TB, env []string, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = testkit.Root(tb)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// jsonUnmarshalLoose decodes JSON into v, ignoring fields v does not have
// (for formats, like Grafana's, with many fields the tests do not read).
func jsonUnmarshalLoose(b []byte, v any) error { return json.Unmarshal(b, v) }
