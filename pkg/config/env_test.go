package config

import (
	"reflect"
	"strings"
	"testing"

	weatherd "github.com/weatherd/weatherd"
)

// A WEATHERD_ variable that names no key is a problem named by the variable,
// like an unknown key in a file, and every one is reported at once.
func TestLoad_UnknownEnvironmentVariables(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"Typo", []string{"WEATHERD_POLER_SCHEDULE=x"},
			[]string{"WEATHERD_POLER_SCHEDULE: no such key (did you mean WEATHERD_POLLER_SCHEDULE?)"}},
		{"NotAKey", []string{"WEATHERD_COLOUR=blue"},
			[]string{"WEATHERD_COLOUR: no such key (a WEATHERD_ variable is a key path in upper case with '.' as '_'; see `weatherd validate --help`)"}},
		{"MapEntryTheFileDoesNotDefine", []string{"WEATHERD_ALERTS_CHANNELS_OPS_URL=https://example.com/hook"},
			[]string{"WEATHERD_ALERTS_CHANNELS_OPS_URL: no such key (the environment can override the fields of the alerts.channels entries the config file defines, not add one)"}},
		{"MapEntryFieldTypo", []string{"WEATHERD_ALERTS_CHANNELS_LOG_TYP=log"},
			[]string{"WEATHERD_ALERTS_CHANNELS_LOG_TYP: no such key (did you mean WEATHERD_ALERTS_CHANNELS_LOG_TYPE?)"}},
		{"AllAtOnceSorted", []string{"WEATHERD_LAKE_UR=file:///x", "HOME=/root", "WEATHERD_LAKE_URL=file:///y", "WEATHERD_LOG_LEVL=debug"},
			[]string{
				"WEATHERD_LAKE_UR: no such key (did you mean WEATHERD_LAKE_URL?)",
				"WEATHERD_LOG_LEVL: no such key (did you mean WEATHERD_LOG_LEVEL?)",
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(Source{Environ: c.environ})
			if err == nil {
				t.Fatal("loaded")
			}
			if got := problems(t, err); !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// Variables that start with WEATHERD_ but are not keys (the emulators', the
// tests', docker-compose.yml's build arguments) are left alone.
func TestLoad_ReservedEnvironmentVariables(t *testing.T) {
	environ := []string{
		"WEATHERD_EMU_KINESIS_PORT=4567", "WEATHERD_EMU_RUN_DIR=/tmp/x", "WEATHERD_TEST_S3_ENDPOINT=http://127.0.0.1:1",
		"WEATHERD_E2E_STRICT=1", "WEATHERD_BENCH_ROUNDS=5", "WEATHERD_VERSION=v1", "WEATHERD_COMMIT=abc",
		"PATH=/usr/bin", "WEATHERD=1",
	}
	if _, err := Load(Source{Environ: environ}); err != nil {
		t.Fatal(err)
	}
}

// Correct variables still override, lists included, and so do the fields of
// a map entry the file defines even when the file does not set that field.
func TestLoad_EnvironOverrides(t *testing.T) {
	p := writeFile(t, "alerts:\n  channels:\n    ops:\n      type: webhook\n      url: https://example.com/a\n      secret: s3cr3t\n")
	cfg, err := Load(Source{Path: p, Explicit: true, Environ: []string{
		"WEATHERD_POLLER_SCHEDULE=@every 1m",
		"WEATHERD_LOCATIONS=[{id: oslo, name: Oslo, lat: 59.91, lon: 10.75}, {id: bergen, name: Bergen, lat: 60.39, lon: 5.32}]",
		"WEATHERD_ALERTS_CHANNELS_OPS_URL=https://example.com/b",
		"WEATHERD_ALERTS_CHANNELS_OPS_MIN_SEVERITY=critical",
		"WEATHERD_SHUTDOWN_TIMEOUT=40s",
		"WEATHERD_POLLER_CONCURRENCY=2",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Poller.Schedule != "@every 1m" || cfg.ShutdownTimeout.String() != "40s" || cfg.Poller.Concurrency != 2 {
		t.Errorf("schedule %q shutdown_timeout %s concurrency %d", cfg.Poller.Schedule, cfg.ShutdownTimeout, cfg.Poller.Concurrency)
	}
	var ids []string
	for _, l := range cfg.Locations {
		ids = append(ids, l.ID)
	}
	if !reflect.DeepEqual(ids, []string{"oslo", "bergen"}) {
		t.Errorf("locations %q", ids)
	}
	if ch := cfg.Alerts.Channels["ops"]; ch.URL != "https://example.com/b" || ch.MinSeverity != "critical" {
		t.Errorf("alerts.channels.ops = %+v", ch)
	}
}

// No key's variable falls under a reserved name, or the key could not be set.
func TestReserved_NoKeyIsReserved(t *testing.T) {
	v, err := loadViper(t)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]reflect.Type{}
	var sections []string
	envKeys(reflect.TypeOf(Config{}), v, "", keys, &sections)
	if len(keys) < 50 {
		t.Fatalf("only %d keys found", len(keys))
	}
	for k := range keys {
		if Reserved(EnvName(k)) {
			t.Errorf("%s: its variable %s is reserved", k, EnvName(k))
		}
	}
}

// loadViper returns the embedded default's settings.
func loadViper(tb testing.TB) (map[string]any, error) {
	tb.Helper()
	return readYAML(weatherd.DefaultConfig, "embedded config.yaml", func(string) (string, bool) { return "", false })
}

// A YAML syntax error names the line where the file goes wrong, not the line
// where the enclosing mapping starts.
func TestLoad_YAMLSyntaxErrorLine(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"DedentedKey", "log:\n  level: info\n format: json\n", "line 3: did not find expected key"},
		{"OverIndentedKey", "log:\n  level: info\n   format: json\n", "line 3: mapping values are not allowed in this context"},
		{"DeepInTheFile", "log:\n  level: info\nhttp:\n  listen: \":1\"\n    x: 1\n", "line 5: did not find expected key"},
		{"Tab", "log:\n\tlevel: info\n", "line 2: found character that cannot start any token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.yaml)
			_, err := Load(Source{Path: p, Explicit: true, Environ: []string{}})
			if want := "bad configuration: " + p + ": " + c.want; err == nil || err.Error() != want {
				t.Errorf("error %v\nwant  %s", err, want)
			}
		})
	}
}

// The API token comes from WEATHERD_HTTP_API_TOKEN, held as a secret.
func TestLoad_APITokenFromEnvironment(t *testing.T) {
	cfg, err := Load(Source{Environ: []string{"WEATHERD_HTTP_API_TOKEN=env-token-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.HTTP.API.Token.Reveal(); got != "env-token-0123456789" {
		t.Errorf("http.api.token = %q", got)
	}
	if s := cfg.String(); strings.Contains(s, "env-token") {
		t.Errorf("the config summary shows the token: %s", s)
	}
	_, err = Load(Source{Environ: []string{"WEATHERD_HTTP_API_TOKEN=short"}})
	if err == nil || !strings.Contains(err.Error(), "http.api.token: got 5 bytes, want at least 16") {
		t.Errorf("a short token: %v", err)
	}
}
