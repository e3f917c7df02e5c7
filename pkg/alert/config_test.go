package alert_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/config"
)

func validConfig() alert.Config {
	return alert.Config{
		Rules: []alert.RuleConfig{{
			Name: "strong-wind", Expr: "windGust >= 17.2 || windSpeed >= 13.9", Clear: "windGust < 14",
			For: 10 * time.Minute, Repeat: 3 * time.Hour, Severity: "warning",
			Locations: []string{"*"}, Channels: []string{"log"},
		}},
		Channels: map[string]alert.ChannelConfig{"log": {Type: "log"}},
		State:    alert.StateConfig{Driver: "memory"},
		Outbox:   testkit.MustDefault[alert.OutboxConfig]("alerts.outbox"),
	}
}

func problems(c alert.Config) []string {
	var ps check.Problems
	c.Validate("alerts", &ps)
	if ps.Err() == nil {
		return nil
	}
	return strings.Split(ps.Err().Error(), "\n")
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*alert.Config)
		want   []string
	}{
		{"Valid", func(*alert.Config) {}, nil},
		{"UnknownField", func(c *alert.Config) { c.Rules[0].Expr = "windgust > 20" },
			[]string{`alerts.rules[0].expr: unknown field "windgust"`}},
		{"UnknownFieldInClear", func(c *alert.Config) { c.Rules[0].Clear = "gust < 3" },
			[]string{`alerts.rules[0].clear: unknown field "gust"`}},
		{"NonBoolean", func(c *alert.Config) { c.Rules[0].Expr = "windGust * 3.6" },
			[]string{`alerts.rules[0].expr: must be a boolean expression, got float64`}},
		{"Syntax", func(c *alert.Config) { c.Rules[0].Expr = "windGust >" },
			[]string{`alerts.rules[0].expr: unexpected token EOF (1:10)`}},
		{"NegativeDurations", func(c *alert.Config) { c.Rules[0].For = -time.Minute; c.Rules[0].Repeat = -time.Hour },
			[]string{`alerts.rules[0].for: got -1m0s, want a duration >= 0`,
				`alerts.rules[0].repeat: got -1h0m0s, want a duration >= 0 (0: never repeat)`}},
		{"UnknownChannel", func(c *alert.Config) { c.Rules[0].Channels = []string{"log", "pager"} },
			[]string{`alerts.rules[0].channels[1]: unknown channel "pager"`}},
		{"Severity", func(c *alert.Config) { c.Rules[0].Severity = "high" },
			[]string{`alerts.rules[0].severity: got "high", want info, warning or critical`}},
		{"BadGlob", func(c *alert.Config) { c.Rules[0].Locations = []string{"[sao"} },
			[]string{`alerts.rules[0].locations[0]: got "[sao", want a location id or a glob (path.Match syntax)`}},
		{"DuplicateNameAndTier", func(c *alert.Config) {
			r := c.Rules[0]
			r.Group, r.Tier = "wind", 1
			c.Rules = []alert.RuleConfig{r, r}
		}, []string{`alerts.rules[1].name: duplicate name "strong-wind" (also alerts.rules[0])`,
			`alerts.rules[1].tier: group "wind" already has tier 1 (alerts.rules[0])`}},
		{"BadWindowCron", func(c *alert.Config) {
			c.Channels["sms"] = alert.ChannelConfig{Type: "sns", TopicARN: "arn:aws:sns:us-east-1:000000000000:t", Format: "sms",
				Window: alert.WindowConfig{Start: "0 25 * * *", Duration: time.Hour, Timezone: "Mars/Olympus"}}
		}, []string{`alerts.channels.sms.window.start: got "0 25 * * *", want a cron spec (e.g. "0 7 * * *"): end of range (25) above maximum (23): 25`,
			`alerts.channels.sms.window.timezone: unknown time zone "Mars/Olympus"`}},
		{"WindowWithoutDuration", func(c *alert.Config) {
			c.Channels["log"] = alert.ChannelConfig{Type: "log", Window: alert.WindowConfig{Start: "0 7 * * *"}}
		}, []string{`alerts.channels.log.window.duration: got 0s, want a positive duration`}},
		{"BadDigestCron", func(c *alert.Config) {
			c.Channels["log"] = alert.ChannelConfig{Type: "log", Digest: alert.DigestConfig{Schedule: "daily"}}
		}, []string{`alerts.channels.log.digest.schedule: got "daily", want a cron spec (e.g. "0 7 * * *"): expected exactly 5 fields, found 1: [daily]`}},
		{"ChannelTypes", func(c *alert.Config) {
			c.Channels["a"] = alert.ChannelConfig{Type: "pager"}
			c.Channels["b"] = alert.ChannelConfig{Type: "sns", Format: "fax"}
			c.Channels["c"] = alert.ChannelConfig{Type: "webhook", URL: "ftp://x?token=abc"}
		}, []string{
			`alerts.channels.a.type: got "pager", want sns, webhook or log`,
			`alerts.channels.b.topic_arn: got "", want an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)`,
			`alerts.channels.b.format: got "fax", want email, sms or both`,
			`alerts.channels.c.url: got "ftp://x?…", want an http or https URL`,
			`alerts.channels.c.secret: required for a webhook (the HMAC-SHA256 key), or set secret_file`,
		}},
		{"NeverFiringCron", func(c *alert.Config) {
			c.Channels["log"] = alert.ChannelConfig{Type: "log", Window: alert.WindowConfig{Start: "0 7 30 2 *", Duration: time.Hour},
				Digest: alert.DigestConfig{Schedule: "0 7 31 4 *"}}
		}, []string{`alerts.channels.log.window.start: cron spec "0 7 30 2 *" never fires: no time in the next 5 years matches it`,
			`alerts.channels.log.digest.schedule: cron spec "0 7 31 4 *" never fires: no time in the next 5 years matches it`}},
		{"Template", func(c *alert.Config) {
			c.Channels["log"] = alert.ChannelConfig{Type: "log", Templates: alert.TemplateConfig{SMS: "{{.Rule"}}
		}, []string{`alerts.channels.log.templates.sms: template: templates.sms:1: unclosed action`}},
		{"SendTimeoutBeyondTheClaim", func(c *alert.Config) {
			c.State = alert.StateConfig{Driver: "dynamodb", Table: "t"}
			c.Outbox.SendTimeout = 2 * time.Minute
		}, []string{`alerts.outbox.send_timeout: got 2m0s, want at most 1m0s with alerts.state.driver dynamodb`}},
		{"ForecastRule", func(c *alert.Config) {
			c.Rules = append(c.Rules, alert.RuleConfig{
				Name: "wind-ahead", Expr: "windGust >= 17.2", Severity: "warning", Locations: []string{"*"}, Channels: []string{"log"},
				Summary: "Strong wind", Labels: map[string]string{"windGust": "gusts"},
				Forecast: alert.ForecastConfig{Within: 12 * time.Hour, UpdateShift: 2 * time.Hour, Realtime: "strong-wind"},
			})
		}, nil},
		{"ForecastRuleProblems", func(c *alert.Config) {
			c.Rules[0].Group = "wind"
			c.Rules = append(c.Rules,
				alert.RuleConfig{Name: "a", Expr: "windGust > 1", Clear: "windGust < 1", For: time.Minute, Severity: "info",
					Locations: []string{"*"}, Channels: []string{"log"}, Group: "wind", Tier: 2,
					Forecast: alert.ForecastConfig{UpdateShift: -time.Hour, Realtime: "nope"}},
				alert.RuleConfig{Name: "b", Expr: "windGust > 1", Severity: "info", Locations: []string{"*"}, Channels: []string{"log"},
					Forecast: alert.ForecastConfig{Within: time.Hour, Realtime: "a"}})
		}, []string{
			`alerts.rules[1].group: group "wind" mixes forecast and realtime rules (see rules[0]); use one group for each`,
			`alerts.rules[1].forecast.within: got 0s, want how far ahead to look, from 1m to 384h0m0s (e.g. 12h)`,
			`alerts.rules[1].forecast.update_shift: got -1h0m0s, want a duration >= 0 (0: default 1h0m0s)`,
			`alerts.rules[1].forecast.realtime: unknown rule "nope"`,
			`alerts.rules[1].for: not used by forecast rules (the forecast's steps decide); remove it`,
			`alerts.rules[1].clear: not used by forecast rules (the forecast's steps decide); remove it`,
			`alerts.rules[2].forecast.realtime: rule "a" is a forecast rule; want a realtime rule`,
		}},
		{"MessagesAndUnits", func(c *alert.Config) {
			c.Rules[0].Labels = map[string]string{"gust": "gusts", "windSpeed": " "}
			c.Channels["log"] = alert.ChannelConfig{Type: "log", Units: "si", WindUnits: "knots"}
		}, []string{
			`alerts.channels.log.units: got "si", want metric or imperial`,
			`alerts.channels.log.wind_units: got "knots", want km/h, m/s, mph or kn`,
			`alerts.rules[0].labels.gust: unknown value "gust" (want one of the reading values, e.g. windGust)`,
			`alerts.rules[0].labels.windSpeed: got " ", want 1-40 characters`,
		}},
		{"OutboxUnset", func(c *alert.Config) { c.Outbox = alert.OutboxConfig{MaxBackoff: -time.Second} }, []string{
			`alerts.outbox.limit: got 0, want a positive number`,
			`alerts.outbox.max_backoff: got -1s, want a positive duration`,
			`alerts.outbox.send_timeout: got 0s, want a positive duration`,
		}},
		{"StateDriver", func(c *alert.Config) { c.State = alert.StateConfig{Driver: "dynamodb"} },
			[]string{`alerts.state.table: required when alerts.state.driver is dynamodb`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			if got := problems(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestConfig_EmptyWebhookSecret: an empty key would sign every request with
// "", which any receiver could forge; each way of getting one names its key.
func TestConfig_EmptyWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	empty, blank := filepath.Join(dir, "empty"), filepath.Join(dir, "blank")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(blank, []byte(" \n\t\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		hook string
		want string
	}{
		{"EmptyFile", nil, "secret_file: " + empty,
			`alerts.channels.hook.secret_file: "` + empty + `" is empty; want the HMAC-SHA256 key`},
		{"BlankFile", nil, "secret_file: " + blank,
			`alerts.channels.hook.secret_file: "` + blank + `" is empty; want the HMAC-SHA256 key`},
		{"UnsetVariable", nil, "secret: ${WEBHOOK_SECRET}",
			`alerts.channels.hook.secret: required for a webhook (the HMAC-SHA256 key), or set secret_file`},
		{"BlankVariable", map[string]string{"WEBHOOK_SECRET": "  "}, "secret: \"${WEBHOOK_SECRET}\"",
			`alerts.channels.hook.secret: is only white space; want the HMAC-SHA256 key`},
		{"BlankOverride", map[string]string{"WEBHOOK_SECRET": "k", "WEATHERD_ALERTS_CHANNELS_HOOK_SECRET": " "}, "secret: ${WEBHOOK_SECRET}",
			`alerts.channels.hook.secret: is only white space; want the HMAC-SHA256 key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(file, []byte("alerts:\n  channels:\n    hook:\n      type: webhook\n      url: https://example.com/in\n      "+tc.hook+"\n"), 0o600)
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			_, err := config.Load(config.Source{Path: file, Explicit: true, Env: env})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Load error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// TestConfig_Load checks the documented validation example (docs/alerts.md) through the real loader and
// that the embedded default's alerts section is valid.
func TestConfig_Load(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	if _, err := config.Load(config.Source{Env: noEnv}); err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(file, []byte(`alerts:
  rules:
    - {name: a, expr: "windGust > 1", severity: warning, locations: ["*"], channels: [log]}
    - {name: b, expr: "rainIntensity > 1", severity: info, locations: ["*"], channels: [log]}
    - {name: c, expr: "windgust > 20", for: 10m, severity: critical, locations: ["*"], channels: [log, sms]}
`), 0o600)
	_, err := config.Load(config.Source{Path: file, Explicit: true, Env: noEnv})
	want := "alerts.rules[2].channels[1]: unknown channel \"sms\"\nalerts.rules[2].expr: unknown field \"windgust\""
	if err == nil || !sameLines(err.Error(), want) {
		t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
	}
}

func sameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	sortStrings(x)
	sortStrings(y)
	return reflect.DeepEqual(x, y)
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// TestConfig_LoadForecastRule reads a forecast rule, labels and channel
// units through the real (strict) loader.
func TestConfig_LoadForecastRule(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	file := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(file, []byte(`alerts:
  rules:
    - name: frost-tonight
      summary: Frost
      expr: temperature <= 0
      labels: {temperature: low}
      forecast: {within: 18h, update_shift: 2h}
      severity: warning
      locations: ["*"]
      channels: [log]
  channels:
    log: {type: log, units: imperial, wind_units: kn}
`), 0o600)
	cfg, err := config.Load(config.Source{Path: file, Explicit: true, Env: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	var r alert.RuleConfig
	for _, x := range cfg.Alerts.Rules {
		if x.Name == "frost-tonight" {
			r = x
		}
	}
	want := alert.ForecastConfig{Within: 18 * time.Hour, UpdateShift: 2 * time.Hour}
	if r.Forecast != want || r.Summary != "Frost" || r.Labels["temperature"] != "low" {
		t.Errorf("rule = %+v", r)
	}
	if ch := cfg.Alerts.Channels["log"]; ch.Units != "imperial" || ch.WindUnits != "kn" {
		t.Errorf("channel = %+v", ch)
	}
}
