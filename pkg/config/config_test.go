package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/check"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(tb testing.TB, body string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func problems(tb testing.TB, err error) []string {
	tb.Helper()
	var ce *check.Error
	if !errors.As(err, &ce) {
		tb.Fatalf("error %v (%T) is not a *check.Error", err, err)
	}
	if !errors.Is(err, ErrConfig) {
		tb.Fatalf("error %v does not match ErrConfig", err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.Error())
	}
	return out
}

func TestDefault(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatalf("embedded default does not load: %v", err)
	}
	if cfg.HTTP.Listen != ":9108" || cfg.ShutdownTimeout != 25*time.Second || cfg.Log.Level != "info" || cfg.Log.Format != "text" {
		t.Errorf("documented defaults changed: listen=%q shutdown=%s log=%s/%s", cfg.HTTP.Listen, cfg.ShutdownTimeout, cfg.Log.Level, cfg.Log.Format)
	}
	if cfg.Poller.Provider != "simulated" || cfg.Stream.Driver != "memory" || cfg.Lake.URL != "file://./lake" || cfg.Alerts.State.Driver != "memory" {
		t.Errorf("embedded default is not the in-process flow: %s", cfg)
	}
	if cfg.AWS.Region != "us-east-1" || cfg.AWS.Endpoint != "" || cfg.Consumer.ApplicationName != "weatherd" || cfg.Consumer.InitialPosition != "TRIM_HORIZON" {
		t.Errorf("aws/consumer defaults changed: %+v %+v", cfg.AWS, cfg.Consumer)
	}
	if len(cfg.Locations) < 3 {
		t.Errorf("want a few sample cities, got %d", len(cfg.Locations))
	}
}

func TestLoad_FileMergesOverDefault(t *testing.T) {
	p := writeFile(t, "log:\n  level: debug\nlake:\n  url: file:///var/lib/weatherd\n")
	cfg, err := Load(Source{Path: p, Explicit: true, Env: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "debug" || cfg.Log.Format != "text" {
		t.Errorf("log = %+v, want level debug and the default format", cfg.Log)
	}
	if cfg.Lake.URL != "file:///var/lib/weatherd" || cfg.Lake.Flush.MaxAge != 30*time.Second {
		t.Errorf("lake = %+v", cfg.Lake)
	}
}

func TestLoad_EnvironmentOverridesEveryKind(t *testing.T) {
	env := envOf(map[string]string{
		"WEATHERD_LAKE_URL":                "s3://bucket/prefix",
		"WEATHERD_AWS_ENDPOINTS_KINESIS":   "http://127.0.0.1:4568",
		"WEATHERD_SHUTDOWN_TIMEOUT":        "40s",
		"WEATHERD_POLLER_ENABLED":          "false",
		"WEATHERD_AWS_S3_FORCE_PATH_STYLE": "true",
		"WEATHERD_POLLER_SCHEDULE":         "*/10 * * * *",
		"WEATHERD_LOCATIONS":               "[{id: oslo, name: Oslo, lat: 59.91, lon: 10.75}]",
	})
	cfg, err := Load(Source{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Lake.URL != "s3://bucket/prefix" || cfg.AWS.EndpointFor("kinesis") != "http://127.0.0.1:4568" || cfg.AWS.EndpointFor("s3") != "" {
		t.Errorf("string overrides not applied: %s %+v", cfg.Lake.URL, cfg.AWS)
	}
	if cfg.ShutdownTimeout != 40*time.Second || cfg.Poller.Enabled || !cfg.AWS.S3ForcePathStyle {
		t.Errorf("typed overrides not applied: %s %v %v", cfg.ShutdownTimeout, cfg.Poller.Enabled, cfg.AWS.S3ForcePathStyle)
	}
	if cfg.Poller.Schedule != "*/10 * * * *" {
		t.Errorf("schedule = %q", cfg.Poller.Schedule)
	}
	if len(cfg.Locations) != 1 || cfg.Locations[0].ID != "oslo" || cfg.Locations[0].Lat != 59.91 {
		t.Errorf("locations = %+v", cfg.Locations)
	}
}

func TestLoad_ExpandsVariablesInValuesOnly(t *testing.T) {
	p := writeFile(t, "lake:\n  url: ${LAKE}\nlog:\n  level: ${LEVEL}\n")
	cfg, err := Load(Source{Path: p, Explicit: true, Env: envOf(map[string]string{"LAKE": "file:///data/lake", "LEVEL": "warn"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Lake.URL != "file:///data/lake" || cfg.Log.Level != "warn" {
		t.Errorf("got url %q level %q", cfg.Lake.URL, cfg.Log.Level)
	}
	// A value with YAML syntax in it stays one string.
	cfg, err = Load(Source{Path: p, Explicit: true, Env: envOf(map[string]string{"LAKE": "file:///x\nlog: {level: debug}", "LEVEL": "warn"})})
	if err == nil {
		t.Fatalf("a newline inside lake.url was accepted: %q", cfg.Lake.URL)
	}
}

// TestValidate_BadInputs is the operator's list: each bad input is refused
// with one line naming its key, and all of them are reported together.
func TestValidate_BadInputs(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"BadCron", "poller:\n  schedule: \"every five minutes\"\n", `poller.schedule: bad cron spec "every five minutes": `},
		{"UnknownKey", "poller:\n  colour: blue\n", "poller.colour: unknown key"},
		{"UnknownTopLevelKey", "lakes:\n  url: file:///x\n", "lakes: unknown key"},
		{"UnknownKeyInListItem", "locations:\n  - {id: a, name: A, lat: 1, lon: 2, elevation: 3}\n", "locations[0].elevation: unknown key"},
		{"DuplicateLocation", "locations:\n  - {id: lisbon, name: Lisbon, lat: 38.72, lon: -9.14}\n  - {id: lisbon, name: Again, lat: 1, lon: 2}\n", `locations[1].id: duplicate id "lisbon" (also locations[0])`},
		{"MalformedLakeURL", "lake:\n  url: \"ftp://example.com/lake\"\n", `lake.url: URL "ftp://example.com/lake" has scheme "ftp": want file or s3`},
		{"LakeURLWithoutScheme", "lake:\n  url: ./lake\n", `lake.url: URL "./lake" has no scheme: want file:// or s3://`},
		{"MissingAPIKey", "poller:\n  provider: tomorrowio\n", `poller.tomorrowio.api_key: required when poller.provider is "tomorrowio" (set TOMORROW_API_KEY, or api_key_file)`},
		{"WrongType", "shutdown_timeout: soon\n", "shutdown_timeout: "},
		{"BadLogLevel", "log:\n  level: loud\n", `log.level: got "loud", want debug, info, warn or error`},
		// The elector's id is the consumer's worker id, never configured.
		{"LeaderIDNotAKey", "poller:\n  leader:\n    id: me\n", "poller.leader.id: unknown key"},
		{"SimulatedFrontEvery", "poller:\n  simulated:\n    front_every: 0s\n", "poller.simulated.front_every: got 0s, want a positive duration"},
		{"SimulatedFrontDuration", "poller:\n  simulated:\n    front_duration: 5m\n", "poller.simulated.front_duration: got 5m0s, want at most simulated.front_every (4m0s)"},
		{"LimitsNegative", "poller:\n  openmeteo:\n    limits:\n      per_hour: -1\n", "poller.openmeteo.limits.per_hour: got -1, want 0 (unlimited) or more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{Path: writeFile(t, tc.yaml), Explicit: true, Env: envOf(nil)})
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			got := problems(t, err)
			found := false
			for _, p := range got {
				found = found || strings.HasPrefix(p, tc.want)
			}
			if !found {
				t.Errorf("problems %q\nwant one starting with %q", got, tc.want)
			}
		})
	}

	t.Run("AllAtOnce", func(t *testing.T) {
		_, err := Load(Source{Path: "testdata/bad.yaml", Explicit: true, Env: envOf(nil)})
		got := problems(t, err)
		want := []string{"poller.colour: unknown key"}
		if fmt.Sprint(got[:1]) != fmt.Sprint(want) {
			t.Errorf("decode problems = %q, want %q first", got, want)
		}
		_, err = Load(Source{Path: writeFile(t, strings.Replace(mustRead(t, "testdata/bad.yaml"), "  colour: blue\n", "", 1)), Explicit: true, Env: envOf(nil)})
		got = problems(t, err)
		for _, key := range []string{"poller.schedule:", "poller.tomorrowio.api_key:", "locations[1].id:", "lake.url:"} {
			n := 0
			for _, p := range got {
				if strings.HasPrefix(p, key) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("want exactly one problem for %s, got %d in %q", key, n, got)
			}
		}
	})
}

func mustRead(tb testing.TB, p string) string {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestLoad_MissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := Load(Source{Path: missing, Explicit: true, Env: envOf(nil)}); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("explicit missing file: err = %v, want a config error naming the file", err)
	}
	if _, err := Load(Source{Path: missing, Explicit: false, Env: envOf(nil)}); err != nil {
		t.Errorf("implicit missing ./config.yaml should fall back to the embedded default: %v", err)
	}
}

// TestSecrets_NeverLeak proves the API key does not show up in the config's
// printed, logged or error forms.
func TestSecrets_NeverLeak(t *testing.T) {
	const key = "tok_SUPERSECRET_123"
	cfg, err := Load(Source{Env: envOf(map[string]string{
		"TOMORROW_API_KEY":         key,
		"WEATHERD_POLLER_PROVIDER": "tomorrowio",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Poller.TomorrowIO.APIKey.Reveal() != key {
		t.Fatalf("key not loaded from ${TOMORROW_API_KEY}")
	}
	var logged strings.Builder
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("config", "cfg", cfg, "poller", cfg.Poller, "key", cfg.Poller.TomorrowIO.APIKey)
	printed := fmt.Sprintf("%v %+v %#v %s", cfg, *cfg, cfg.Poller, cfg.Poller.TomorrowIO.APIKey)
	for name, out := range map[string]string{"log": logged.String(), "fmt": printed} {
		if strings.Contains(out, key) {
			t.Errorf("%s output leaks the key: %s", name, out)
		}
	}
	if !strings.Contains(printed, "<secret>") {
		t.Errorf("printed form does not show <secret>: %s", printed)
	}
	// A problem elsewhere in the file does not echo the key either.
	_, err = Load(Source{Path: writeFile(t, "poller:\n  provider: tomorrowio\n  tomorrowio:\n    api_key: [1, 2]\n"), Explicit: true, Env: envOf(map[string]string{"TOMORROW_API_KEY": key})})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("err = %v", err)
	}
}

func TestWarnings(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if ws := Warnings(cfg); len(ws) != 0 {
		t.Errorf("the embedded default warns: %q", ws)
	}
	cfg.Poller.Forecast.Enabled = false
	if ws, want := Warnings(cfg), "poller.forecast.enabled is false, so the forecast rules of alerts.rules (strong-wind-ahead) get no forecasts from this poller and never fire; enable forecasts or remove the rules"; len(ws) != 1 || ws[0] != want {
		t.Errorf("forecast rules without forecasts: %q, want [%q]", ws, want)
	}
	cfg.Poller.Forecast.Enabled = true
	cfg.Stream.Driver = "kinesis"
	if ws := Warnings(cfg); len(ws) != 1 || !strings.HasPrefix(ws[0], "poller.leader.enabled is false with stream.driver kinesis") {
		t.Errorf("kinesis without leadership: %q", ws)
	}
	cfg.Poller.Leader.Enabled = true
	if ws := Warnings(cfg); len(ws) != 0 {
		t.Errorf("kinesis with leadership: %q", ws)
	}
	cfg.Stream.Driver = "memory"
	if ws := Warnings(cfg); len(ws) != 1 || !strings.HasPrefix(ws[0], "poller.leader.enabled is true with stream.driver memory") {
		t.Errorf("memory with leadership: %q", ws)
	}
}
