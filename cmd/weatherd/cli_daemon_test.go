package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/api"
)

// cliConfig runs a daemon with no AWS whose one rule fires at Oslo on the
// first reading and stays firing.
const cliConfig = `
locations:
  - {id: oslo, name: Oslo, lat: 59.91, lon: 10.75, timezone: Europe/Oslo}
  - {id: lisbon, name: Lisbon, lat: 38.72, lon: -9.14, timezone: Europe/Lisbon}
poller:
  schedule: "@every 1s"
alerts:
  rules:
    - name: always
      expr: temperature > -100
      for: 0s
      repeat: 0s
      severity: warning
      locations: [oslo]
      channels: [log]
`

// TestCLI_AgainstDaemon drives a running weatherd with the CLI: list the
// firing alert, add, list and expire a silence, acknowledge; table and JSON
// output; the token from the environment or a file; exit codes.
func TestCLI_AgainstDaemon(t *testing.T) {
	const token = "cli-test-token-0123456789"
	t.Setenv(tokenEnv, token) // the daemon's and the CLI's
	dir := t.TempDir()
	base := testkit.Daemon(t, dir, writeConfig(t, cliConfig))
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runMain(t, append(args, "--url", base)...)
	}
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := cli(args...)
		if code != 0 {
			t.Fatalf("weatherd %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	alerts := func(args ...string) []api.Alert {
		t.Helper()
		var out []api.Alert
		if err := json.Unmarshal([]byte(ok(append([]string{"alerts", "-o", "json"}, args...)...)), &out); err != nil {
			t.Fatalf("alerts -o json: %v", err)
		}
		return out
	}
	silences := func() []api.Silence {
		t.Helper()
		var out []api.Silence
		if err := json.Unmarshal([]byte(ok("silence", "ls", "-o", "json")), &out); err != nil {
			t.Fatalf("silence ls -o json: %v", err)
		}
		return out
	}

	testkit.WaitFor(t, "always firing at oslo", time.Minute, 200*time.Millisecond, func() (bool, string) {
		got := alerts("--state", "firing")
		return len(got) == 1 && got[0].Rule == "always" && got[0].Location == "oslo", "got " + ok("alerts")
	})
	if got := alerts("--location", "lisbon"); len(got) != 0 {
		t.Errorf("alerts --location lisbon: %+v, want none", got)
	}
	table := ok("alerts")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^LOCATION +RULE +SEVERITY +PHASE +SINCE +STATUS +VALUES$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^oslo +always +warning +firing +\d{4}-\d\d-\d\d \d\d:\d\d CET +- +.*temperature=`).MatchString(lines[1]) {
		t.Errorf("alerts table:\n%s", table)
	}
	// The columns line up: each header starts where its values do.
	if strings.Index(lines[0], "PHASE") != strings.Index(lines[1], "firing") {
		t.Errorf("alerts table columns not aligned:\n%s", table)
	}

	t.Run("Silence", func(t *testing.T) {
		id := strings.TrimSpace(ok("silence", "add", "--rule", "always", "--location", "oslo", "--for", "2h", "--comment", "cli test", "--created-by", "ci"))
		if !api.ValidSilenceID(id) {
			t.Fatalf("silence add printed %q, want the new silence's id", id)
		}
		ls := ok("silence", "ls")
		if !regexp.MustCompile(`(?m)^ID +MATCHERS +STATE +STARTS +ENDS +SUPPRESSED +CREATED BY +COMMENT$`).MatchString(ls) ||
			!regexp.MustCompile(`(?m)^`+id+` +rule=always location=oslo +active +\S+ \S+ UTC +\S+ \S+ UTC +\d+ +ci +cli test$`).MatchString(ls) {
			t.Errorf("silence ls:\n%s", ls)
		}
		all := silences()
		i := slices.IndexFunc(all, func(s api.Silence) bool { return s.ID == id })
		if i < 0 {
			t.Fatalf("silence ls -o json lacks %s: %+v", id, all)
		}
		s := all[i]
		if s.State != api.SilenceActive || s.Matchers != (api.Matchers{Rule: "always", Location: "oslo"}) || s.CreatedBy != "ci" || s.Comment != "cli test" {
			t.Errorf("silence: %+v", s)
		}
		if d := s.EndsAt.Sub(s.StartsAt); d != 2*time.Hour {
			t.Errorf("silence lasts %s, want 2h", d)
		}
		testkit.WaitFor(t, "the alert shown silenced", 10*time.Second, 200*time.Millisecond, func() (bool, string) {
			a := alerts("--location", "oslo")
			return len(a) == 1 && a[0].Silenced && slices.Contains(a[0].SilencedBy, id), ok("alerts")
		})

		if out := ok("silence", "expire", id); out != "silence "+id+" expired\n" {
			t.Errorf("silence expire: %q", out)
		}
		all = silences()
		if i := slices.IndexFunc(all, func(s api.Silence) bool { return s.ID == id }); i >= 0 && all[i].State != api.SilenceExpired {
			t.Errorf("after expire, the silence is %s", all[i].State)
		}
		code, _, errOut := cli("silence", "expire", id+"x")
		if code != 1 || !strings.Contains(errOut, "404 Not Found") {
			t.Errorf("expire an unknown silence: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("Ack", func(t *testing.T) {
		// The token from a file, with the environment's unset.
		t.Setenv(tokenEnv, "")
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := ok("ack", "oslo", "always", "--by", "ana", "--comment", "on it", "--token-file", file)
		if out != "always at oslo acknowledged by ana: no more reminders until it resolves\n" {
			t.Errorf("ack: %q", out)
		}
		a := alerts("--state", "acknowledged")
		if len(a) != 1 || !a[0].Acknowledged || a[0].Ack == nil || a[0].Ack.By != "ana" || a[0].Ack.Comment != "on it" {
			t.Errorf("acknowledged alerts: %+v", a)
		}
		if !strings.Contains(ok("alerts"), "acked by ana") {
			t.Errorf("alerts table does not show the ack:\n%s", ok("alerts"))
		}
	})

	t.Run("Refused", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(wrong, []byte("guess"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			env  string
			args []string
			want string
		}{
			{"", []string{"silence", "add", "--rule", "always", "--for", "1h"}, "weatherd: silence add: 401 Unauthorized: missing bearer token: send \"Authorization: Bearer <token>\" (no token was sent: set WEATHERD_HTTP_API_TOKEN or give --token-file)\n"},
			{"", []string{"silence", "add", "--rule", "always", "--for", "1h", "--token-file", wrong}, "weatherd: silence add: 401 Unauthorized: wrong bearer token\n"},
			{token, []string{"silence", "add", "--rule", "always", "--severity", "major", "--for", "1h"}, `weatherd: silence add: 400 Bad Request: matchers.severity: "major" matches none of info, warning, critical`},
			{token, []string{"ack", "lisbon", "always", "--by", "ana"}, "weatherd: ack lisbon always: 404 Not Found"},
		} {
			t.Setenv(tokenEnv, tc.env)
			code, out, errOut := cli(tc.args...)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, tc.want) {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
			}
		}
	})
}
