package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "weatherd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		code, out, _ := runMain(t, arg)
		if code != 0 || !regexp.MustCompile(`^weatherd dev \(commit unknown, go1\.\d+.* linux/amd64\)\n$`).MatchString(out) {
			t.Errorf("%s: %d %q", arg, code, out)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"validate", "--nope"}, {"validate", "extra"}} {
		code, _, errOut := runMain(t, args...)
		if code != 2 || !strings.Contains(errOut, "usage: weatherd") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	t.Run("Help", func(t *testing.T) {
		code, out, errOut := runMain(t, "--help")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		// Each command's summary starts in the same column.
		col := -1
		for _, c := range commands {
			line := regexp.MustCompile(`(?m)^  ` + c.name + ` +`).FindString(out)
			if line == "" {
				t.Errorf("no line for %s in\n%s", c.name, out)
			} else if col == -1 {
				col = len(line)
			} else if len(line) != col {
				t.Errorf("%s's summary starts at column %d, want %d like the others:\n%s", c.name, len(line), col, out)
			}
		}
		for _, want := range []string{"--config FILE", "./config.yaml", "WEATHERD_LAKE_URL", config.EnvPrefix + " + the key path"} {
			if !strings.Contains(out, want) {
				t.Errorf("usage does not mention %q:\n%s", want, out)
			}
		}
		for _, r := range append(append([]string{}, config.ReservedEnvPrefixes...), config.ReservedEnvNames...) {
			if !strings.Contains(strings.Join(strings.Fields(out), " "), r) {
				t.Errorf("usage does not name the reserved %s:\n%s", r, out)
			}
		}
	})
}

// `weatherd <command> --help` prints that command's usage and flags on
// stdout and exits 0, without loading the configuration.
func TestCommandHelp(t *testing.T) {
	t.Setenv("WEATHERD_POLER_SCHEDULE", "x") // would fail a configuration load
	for _, cmd := range []string{"run", "validate", "bootstrap", "healthcheck"} {
		for _, flag := range []string{"--help", "-h"} {
			code, out, errOut := runMain(t, cmd, flag)
			if code != 0 || errOut != "" {
				t.Errorf("%s %s: exit %d, stderr %q", cmd, flag, code, errOut)
			}
			for _, want := range []string{
				"usage: weatherd " + cmd + " [--config FILE]\n\n" + summary(cmd) + "\n",
				"\nflags:\n  --config FILE\n        configuration FILE merged over the embedded default (default \"config.yaml\")\n",
				"WEATHERD_LAKE_URL",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("%s %s: stdout lacks %q:\n%s", cmd, flag, want, out)
				}
			}
		}
	}
	code, out, _ := runMain(t, "version", "--help")
	if code != 0 || out != "usage: weatherd version\n\nprint version, commit and Go version\n" {
		t.Errorf("version --help: exit %d, stdout %q", code, out)
	}
	code, out, _ = runMain(t, "help", "run")
	if code != 0 || !strings.HasPrefix(out, "usage: weatherd run [--config FILE]\n") {
		t.Errorf("help run: exit %d, stdout %q", code, out)
	}
}

// A misspelt WEATHERD_ variable fails validate like a bad key in the file; a
// correct one, list values included, still applies.
func TestValidate_Environment(t *testing.T) {
	t.Run("Misspelt", func(t *testing.T) {
		t.Setenv("WEATHERD_POLER_SCHEDULE", "x")
		code, out, errOut := runMain(t, "validate")
		if code != 2 || out != "" || errOut != "WEATHERD_POLER_SCHEDULE: no such key (did you mean WEATHERD_POLLER_SCHEDULE?)\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("Correct", func(t *testing.T) {
		t.Setenv("WEATHERD_POLLER_SCHEDULE", "@every 1m")
		t.Setenv("WEATHERD_LOCATIONS", "[{id: oslo, name: Oslo, lat: 59.91, lon: 10.75}]")
		t.Setenv("WEATHERD_EMU_KINESIS_PORT", "4567")
		code, out, errOut := runMain(t, "validate")
		if code != 0 || out != "config OK\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		t.Setenv("WEATHERD_LOCATIONS", "[{id: oslo, name: Oslo, lat: 99, lon: 10.75}]")
		if code, _, errOut := runMain(t, "validate"); code != 2 || errOut != "locations[0].lat: got 99, want -90 to 90\n" {
			t.Errorf("the list override is not applied: exit %d, stderr %q", code, errOut)
		}
	})
}

// A YAML syntax error names the line where the file goes wrong.
func TestValidate_YAMLErrorLine(t *testing.T) {
	p := writeConfig(t, "log:\n  level: info\n format: json\n")
	code, _, errOut := runMain(t, "validate", "--config", p)
	if want := "bad configuration: " + p + ": line 3: did not find expected key\n"; code != 2 || errOut != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}

func TestValidate_EmbeddedDefault(t *testing.T) {
	code, out, errOut := runMain(t, "validate", "--config", filepath.Join("..", "..", "config.yaml"))
	if code != 0 || out != "config OK\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestValidate_BadInputs: each bad input exits 2 with one line naming its key.
func TestValidate_BadInputs(t *testing.T) {
	cases := []struct{ name, yaml, line string }{
		{"BadCron", "poller:\n  schedule: \"every 5 minutes\"\n", `poller.schedule: bad cron spec "every 5 minutes": `},
		{"UnknownKey", "alerts:\n  channel:\n    x: {type: log}\n", "alerts.channel: unknown key"},
		{"DuplicateLocation", "locations:\n  - {id: a, name: A, lat: 1, lon: 2}\n  - {id: a, name: B, lat: 3, lon: 4}\n", `locations[1].id: duplicate id "a" (also locations[0])`},
		{"MalformedLakeURL", "lake:\n  url: \"s3://\"\n", `lake.url: s3 URL "s3://" has no bucket`},
		{"MissingAPIKey", "poller:\n  provider: tomorrowio\n  tomorrowio:\n    api_key: \"\"\n", `poller.tomorrowio.api_key: required when poller.provider is "tomorrowio"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMain(t, "validate", "--config", writeConfig(t, tc.yaml))
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.line) {
				t.Errorf("stderr lines %q, want one starting with %q", lines, tc.line)
			}
		})
	}
	t.Run("AllAtOnce", func(t *testing.T) {
		var all strings.Builder
		all.WriteString("poller:\n  schedule: \"every 5 minutes\"\n  provider: tomorrowio\n  tomorrowio:\n    api_key: \"\"\n")
		all.WriteString("locations:\n  - {id: a, name: A, lat: 1, lon: 2}\n  - {id: a, name: B, lat: 3, lon: 4}\n")
		all.WriteString("lake:\n  url: \"s3://\"\n")
		code, _, errOut := runMain(t, "validate", "--config", writeConfig(t, all.String()))
		if n := len(strings.Split(strings.TrimSpace(errOut), "\n")); code != 2 || n != 4 {
			t.Errorf("exit %d with %d lines, want 2 with 4:\n%s", code, n, errOut)
		}
	})
	t.Run("RunRefusesToo", func(t *testing.T) {
		code, _, errOut := runMain(t, "run", "--config", writeConfig(t, "lake:\n  url: \"s3://\"\n"))
		if code != 2 || !strings.Contains(errOut, "lake.url: ") {
			t.Errorf("run: exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("MissingFile", func(t *testing.T) {
		code, _, errOut := runMain(t, "validate", "--config", "/nonexistent/weatherd.yaml")
		if code != 2 || !strings.Contains(errOut, "/nonexistent/weatherd.yaml") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestRun_EmbeddedDefault runs the real binary on the embedded default, in a
// fresh directory with no AWS and no API key: readings flow, metrics move,
// alerts fire and resolve, the lake fills, and SIGTERM stops it cleanly.
func TestRun_EmbeddedDefault(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"WEATHERD_HTTP_LISTEN=127.0.0.1:0",
		"WEATHERD_POLLER_SCHEDULE=@every 1s",
		"WEATHERD_POLLER_SIMULATED_FRONT_EVERY=20s",
		"WEATHERD_POLLER_SIMULATED_FRONT_DURATION=8s",
		"WEATHERD_LAKE_FLUSH_MAX_AGE=2s",
		"TOMORROW_API_KEY=",
	)
	var logs testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("weatherd output:\n%s", logs.String())
		}
	}()
	var addr string // the port the kernel gave, as weatherd logs it
	testkit.WaitFor(t, "the listening log line", 15*time.Second, 20*time.Millisecond, func() (bool, string) {
		select {
		case err := <-exited:
			exited <- err
			return false, fmt.Sprintf("weatherd exited: %v", err)
		default:
		}
		addr = testkit.ListenAddr(logs.String())
		return addr != "", "no listening line yet"
	})
	// waitMetrics polls /metrics until cond holds; an unreachable endpoint
	// is waited out, and named if the wait fails.
	waitMetrics := func(what string, within time.Duration, cond func(m testkit.Metrics) (bool, string)) {
		t.Helper()
		testkit.WaitFor(t, what, within, 100*time.Millisecond, func() (bool, string) {
			m, err := testkit.Scrape(addr)
			if err != nil {
				return false, err.Error()
			}
			return cond(m)
		})
	}

	testkit.WaitFor(t, "/readyz 200", 15*time.Second, 100*time.Millisecond, func() (bool, string) { return testkit.Ready(addr) })
	if code, _, err := testkit.Get(addr, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d %v, want 200", code, err)
	}
	waitMetrics("readings produced and consumed", 20*time.Second, func(m testkit.Metrics) (bool, string) {
		p, c := m["weatherd_readings_produced_total"], m["weatherd_consumer_records_total"]
		return p >= 10 && c >= 10, fmt.Sprintf("produced %v, consumed %v", p, c)
	})
	// Forecasts are records too: count the realtime polls on their own.
	waitMetrics("10 realtime polls", 20*time.Second, func(m testkit.Metrics) (bool, string) {
		n := m[`weatherd_poll_requests_total{outcome="ok",provider="simulated"}`]
		return n >= 10, fmt.Sprintf("poll ok = %v", n)
	})
	// The forecast fetched at start, one per location, reaches the lake.
	waitMetrics("forecasts fetched and written", 40*time.Second, func(m testkit.Metrics) (bool, string) {
		f, g := m[`weatherd_forecast_requests_total{outcome="ok",provider="simulated"}`], m[`weatherd_lake_objects_written_total{kind="forecast_gold"}`]
		return f == 5 && g >= 1, fmt.Sprintf("%v forecasts fetched, %v forecast gold objects written", f, g)
	})
	waitMetrics("a lake flush", 20*time.Second, func(m testkit.Metrics) (bool, string) {
		n := m[`weatherd_lake_objects_written_total{kind="gold"}`]
		return n >= 1, fmt.Sprintf("%v gold objects written", n)
	})
	waitMetrics("an alert firing and resolving", 40*time.Second, func(m testkit.Metrics) (bool, string) {
		f, r := m[`weatherd_alert_transitions_total{rule="strong-wind",state="firing"}`], m[`weatherd_alert_transitions_total{rule="strong-wind",state="resolved"}`]
		return f >= 1 && r >= 1, fmt.Sprintf("strong-wind fired %v times, resolved %v times", f, r)
	})
	if !strings.Contains(logs.String(), "msg=poll ") {
		t.Error("no poll log line")
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("did not stop within shutdown_timeout")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	for _, kind := range []string{"raw", "gold"} {
		matches, _ := filepath.Glob(filepath.Join(dir, "lake", kind, "year=*", "month=*", "day=*", "hour=*", "*"))
		if len(matches) == 0 {
			t.Errorf("no %s objects under ./lake", kind)
		}
	}
	if !strings.Contains(logs.String(), "weatherd stopped cleanly") {
		t.Error("no clean-stop log line")
	}
}

// TestMain removes the binary TestRun_EmbeddedDefault builds.
func TestMain(m *testing.M) {
	code := m.Run()
	testkit.RemoveBinary()
	os.Exit(code)
}
