package main

import (
	"regexp"
	"strings"
	"testing"
)

// Command-line mistakes exit 2 before any request; an unreachable daemon
// exits 1.
func TestCLI_Usage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"alerts", "extra"}, `alerts: unexpected argument "extra"`},
		{[]string{"silence"}, "silence: missing subcommand"},
		{[]string{"silence", "mute"}, `silence: unknown subcommand "mute"`},
		{[]string{"silence", "add", "--rule", "x"}, "silence add: --for is required"},
		{[]string{"silence", "add", "--for", "1h"}, "silence add: give at least one of --rule, --location, --severity"},
		{[]string{"silence", "add", "--rule", "x", "--for", "soon"}, `silence add: --for: got "soon"`},
		{[]string{"silence", "expire"}, "silence expire: missing arguments"},
		{[]string{"silence", "expire", "a", "b"}, `silence expire: unexpected argument "b"`},
		{[]string{"silence", "expire", "../etc"}, `silence expire: got id "../etc"`},
		{[]string{"ack", "oslo"}, "ack: missing arguments"},
		{[]string{"alerts", "-o", "yaml", "--url", "http://127.0.0.1:1"}, `alerts: -o: got "yaml", want table or json`},
		{[]string{"alerts", "--url", "ftp://x"}, `alerts: --url: got "ftp://x"`},
		{[]string{"alerts", "--nope"}, "alerts: flag provided but not defined: -nope"},
	} {
		code, out, errOut := runMain(t, tc.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "weatherd: "+tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
		// The command's own help follows, not the whole usage.
		if !regexp.MustCompile(`\n\nweatherd (alerts|ack|silence( add| ls| expire|)|silence add\|ls\|expire) --help shows (its|the subcommand's) usage and flags\.\n$`).MatchString(errOut) {
			t.Errorf("%q: stderr does not end with the command's help: %q", tc.args, errOut)
		}
	}
	code, _, errOut := runMain(t, "alerts", "--url", "http://127.0.0.1:1")
	if code != 1 || !strings.HasPrefix(errOut, "weatherd: alerts: GET /api/v1/alerts: dial tcp 127.0.0.1:1: connect: connection refused") {
		t.Errorf("unreachable daemon: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := runMain(t, "ack", "--help")
	if code != 0 || !strings.HasPrefix(out, "usage: weatherd ack LOCATION RULE") || !strings.Contains(out, tokenEnv) {
		t.Errorf("ack --help: exit %d, stdout %q", code, out)
	}
}
