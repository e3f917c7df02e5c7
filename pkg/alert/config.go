package alert

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/weatherd/weatherd/pkg/alert/match"
	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/secret"
)

// Config is the alerts section of the configuration.
type Config struct {
	Rules    []RuleConfig             `mapstructure:"rules"`
	Channels map[string]ChannelConfig `mapstructure:"channels"`
	State    StateConfig              `mapstructure:"state"`
	Outbox   OutboxConfig             `mapstructure:"outbox"`
	Inhibit  []InhibitConfig          `mapstructure:"inhibit"`
}

// RuleConfig is one alerts.rules[] entry.
type RuleConfig struct {
	Name string `mapstructure:"name"`
	// Expr fires the rule; Clear (default: not Expr) resolves it.
	Expr  string `mapstructure:"expr"`
	Clear string `mapstructure:"clear"`
	// For is how long, in observation time, Expr must hold before firing.
	For time.Duration `mapstructure:"for"`
	// Repeat re-notifies a still-firing alert this often (0: never).
	Repeat   time.Duration `mapstructure:"repeat"`
	Severity string        `mapstructure:"severity"`
	// Group makes rules tiers of one alert; within a group a higher Tier
	// supersedes a lower one at the same location.
	Group     string   `mapstructure:"group"`
	Tier      int      `mapstructure:"tier"`
	Locations []string `mapstructure:"locations"`
	Channels  []string `mapstructure:"channels"`
	// Summary names the rule for people ("Strong wind"); default: the
	// rule's name spelled out. Labels rename values in messages
	// (windGust: "gusts"), over the built-in labels.
	Summary string            `mapstructure:"summary"`
	Labels  map[string]string `mapstructure:"labels"`
	// Forecast, when set, makes the rule judge forecasts instead of
	// readings (forecast.go).
	Forecast ForecastConfig `mapstructure:"forecast"`
}

// ChannelConfig is one alerts.channels.<name> entry.
type ChannelConfig struct {
	Type string `mapstructure:"type"`
	// TopicARN and Format (email, sms or both) are for type sns.
	TopicARN string `mapstructure:"topic_arn"`
	Format   string `mapstructure:"format"`
	// URL, Secret or SecretFile, and Timeout are for type webhook.
	URL        string        `mapstructure:"url"`
	Secret     secret.String `mapstructure:"secret"`
	SecretFile string        `mapstructure:"secret_file"`
	Timeout    time.Duration `mapstructure:"timeout"`
	// MaxRetryAfter caps how long a webhook's Retry-After answer holds the
	// channel's notifications back (0: notify.DefaultMaxRetryAfter, 1h).
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after"`
	// MinSeverity drops notifications below it (a severity floor).
	MinSeverity string         `mapstructure:"min_severity"`
	Window      WindowConfig   `mapstructure:"window"`
	Digest      DigestConfig   `mapstructure:"digest"`
	Templates   TemplateConfig `mapstructure:"templates"`
	// Units (metric or imperial) and WindUnits (km/h, m/s, mph or kn) are
	// how messages show values; default metric with km/h.
	Units     string `mapstructure:"units"`
	WindUnits string `mapstructure:"wind_units"`
	// Subscriptions are created by `weatherd bootstrap` on the sns topic
	// (for LocalStack and the emulators; production manages them in IaC).
	Subscriptions []SubscriptionConfig `mapstructure:"subscriptions"`
}

// SubscriptionConfig is one SNS subscription bootstrap creates.
type SubscriptionConfig struct {
	Protocol string `mapstructure:"protocol"` // email, email-json, sms, http, https, sqs, lambda
	Endpoint string `mapstructure:"endpoint"`
}

// WindowConfig is a delivery window: notifications outside it are held until
// it opens. An empty Start means always open.
type WindowConfig struct {
	Start    string        `mapstructure:"start"`    // cron spec of each opening
	Duration time.Duration `mapstructure:"duration"` // how long each opening lasts
	// Timezone of Start; empty means the location's time zone (UTC when it has none).
	Timezone string `mapstructure:"timezone"`
	// HoldCritical holds critical notifications too; by default they bypass the window.
	HoldCritical bool `mapstructure:"hold_critical"`
}

// DigestConfig schedules a periodic summary per location.
type DigestConfig struct {
	Schedule string `mapstructure:"schedule"` // cron spec; empty means no digest
	Timezone string `mapstructure:"timezone"` // of Schedule; empty means UTC
}

// TemplateConfig overrides the text/template of each message part.
type TemplateConfig struct {
	Subject string `mapstructure:"subject"`
	Text    string `mapstructure:"text"`
	SMS     string `mapstructure:"sms"`
}

// StateConfig selects where alert state lives.
type StateConfig struct {
	Driver string `mapstructure:"driver"`
	Table  string `mapstructure:"table"`
}

// OutboxConfig bounds the notifications waiting for delivery.
type OutboxConfig struct {
	// Limit is the most notifications held or awaiting retry; past it Observe
	// fails so the stream is not checkpointed (backpressure, nothing dropped).
	Limit int `mapstructure:"limit"`
	// MaxBackoff caps the wait between delivery attempts of one notification.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// SendTimeout bounds one delivery attempt of one notification, retries
	// inside the channel included.
	SendTimeout time.Duration `mapstructure:"send_timeout"`
}

// Severities, lowest first.
var severities = []string{"info", "warning", "critical"}

func severityRank(s string) int {
	for i, x := range severities {
		if x == s {
			return i
		}
	}
	return -1
}

// cronParser accepts 5-field specs, descriptors (@daily, @every 1h) and CRON_TZ=.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate reports every problem in the section at key, including rule
// expressions that do not compile or are not boolean.
func (c Config) Validate(key string, ps *check.Problems) {
	names := make([]string, 0, len(c.Channels))
	for name := range c.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.Channels[name].validate(check.Key(check.Key(key, "channels"), name), ps)
	}
	switch c.State.Driver {
	case "memory":
	case "dynamodb":
		if c.State.Table == "" {
			ps.Add(check.Key(key, "state.table"), "required when %s is dynamodb", check.Key(key, "state.driver"))
		}
	default:
		ps.Add(check.Key(key, "state.driver"), "got %q, want memory or dynamodb", c.State.Driver)
	}
	c.validateInhibit(check.Key(key, "inhibit"), ps)
	if c.Outbox.Limit <= 0 {
		ps.Add(check.Key(key, "outbox.limit"), "got %d, want a positive number", c.Outbox.Limit)
	}
	if c.Outbox.MaxBackoff <= 0 {
		ps.Add(check.Key(key, "outbox.max_backoff"), "got %s, want a positive duration", c.Outbox.MaxBackoff)
	}
	switch {
	case c.Outbox.SendTimeout <= 0:
		ps.Add(check.Key(key, "outbox.send_timeout"), "got %s, want a positive duration", c.Outbox.SendTimeout)
	case c.State.Driver == "dynamodb" && c.Outbox.SendTimeout > claimTTL/2:
		// An engine sends only while its claim has claimTTL/2 left; a longer
		// send could outlive the claim and be repeated by another engine.
		ps.Add(check.Key(key, "outbox.send_timeout"), "got %s, want at most %s with %s dynamodb", c.Outbox.SendTimeout, claimTTL/2, check.Key(key, "state.driver"))
	}
	seen := map[string]int{}
	tiers := map[string]int{}
	for i, r := range c.Rules {
		rk := check.Index(check.Key(key, "rules"), i)
		switch {
		case r.Name == "":
			ps.Add(check.Key(rk, "name"), "required")
		case !match.ValidRule(r.Name):
			ps.Add(check.Key(rk, "name"), "got %q, want 1-64 of letters, digits, '_', '.' and '-'", r.Name)
		default:
			if j, dup := seen[r.Name]; dup {
				ps.Add(check.Key(rk, "name"), "duplicate name %q (also %s)", r.Name, check.Index(check.Key(key, "rules"), j))
			} else {
				seen[r.Name] = i
			}
		}
		if r.Expr == "" {
			ps.Add(check.Key(rk, "expr"), "required")
		} else if _, err := compileCondition(r.Expr); err != nil {
			ps.Add(check.Key(rk, "expr"), "%v", err)
		}
		if r.Clear != "" {
			if _, err := compileCondition(r.Clear); err != nil {
				ps.Add(check.Key(rk, "clear"), "%v", err)
			}
		}
		if r.For < 0 {
			ps.Add(check.Key(rk, "for"), "got %s, want a duration >= 0", r.For)
		}
		if r.Repeat < 0 {
			ps.Add(check.Key(rk, "repeat"), "got %s, want a duration >= 0 (0: never repeat)", r.Repeat)
		}
		if severityRank(r.Severity) < 0 {
			ps.Add(check.Key(rk, "severity"), "got %q, want info, warning or critical", r.Severity)
		}
		if r.Group != "" {
			gk := r.Group + "\x00" + fmt.Sprint(r.Tier)
			if j, dup := tiers[gk]; dup {
				ps.Add(check.Key(rk, "tier"), "group %q already has tier %d (%s)", r.Group, r.Tier, check.Index(check.Key(key, "rules"), j))
			} else {
				tiers[gk] = i
			}
		} else if r.Tier != 0 {
			ps.Add(check.Key(rk, "tier"), "set without a group")
		}
		if len(r.Locations) == 0 {
			ps.Add(check.Key(rk, "locations"), "required: location ids or globs, e.g. [\"*\"]")
		}
		for j, sel := range r.Locations {
			if _, err := path.Match(sel, ""); err != nil || sel == "" {
				ps.Add(check.Index(check.Key(rk, "locations"), j), "got %q, want a location id or a glob (path.Match syntax)", sel)
			}
		}
		if len(r.Channels) == 0 {
			ps.Add(check.Key(rk, "channels"), "required: at least one of alerts.channels")
		}
		for j, ch := range r.Channels {
			if _, ok := c.Channels[ch]; !ok {
				ps.Add(check.Index(check.Key(rk, "channels"), j), "unknown channel %q", ch)
			}
		}
		validateMessages(rk, r, ps)
		validateForecast(rk, c.Rules, i, ps)
	}
}

func (ch ChannelConfig) validate(k string, ps *check.Problems) {
	for i, sub := range ch.Subscriptions {
		sk := check.Index(check.Key(k, "subscriptions"), i)
		if ch.Type != "sns" {
			ps.Add(sk, "subscriptions are for type sns, this channel is %q", ch.Type)
		}
		switch sub.Protocol {
		case "email", "email-json", "sms", "http", "https", "sqs", "lambda", "application", "firehose":
		default:
			ps.Add(check.Key(sk, "protocol"), "got %q, want email, email-json, sms, http, https, sqs or lambda", sub.Protocol)
		}
		if sub.Endpoint == "" {
			ps.Add(check.Key(sk, "endpoint"), "required")
		}
	}
	switch ch.Type {
	case "sns":
		if !strings.HasPrefix(ch.TopicARN, "arn:") {
			ps.Add(check.Key(k, "topic_arn"), "got %q, want an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", ch.TopicARN)
		}
		switch ch.Format {
		case "", "email", "sms", "both":
		default:
			ps.Add(check.Key(k, "format"), "got %q, want email, sms or both", ch.Format)
		}
	case "webhook":
		if u, err := url.Parse(ch.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.Add(check.Key(k, "url"), "got %q, want an http or https URL", redactURL(ch.URL))
		}
		switch {
		case ch.Secret.IsZero() && ch.SecretFile == "":
			// Also an unset ${VAR}: an empty key would sign with "".
			ps.Add(check.Key(k, "secret"), "required for a webhook (the HMAC-SHA256 key), or set secret_file")
		case !ch.Secret.IsZero() && ch.SecretFile != "":
			ps.Add(check.Key(k, "secret_file"), "set either secret or secret_file, not both")
		case ch.SecretFile != "":
			if _, err := readSecretFile(ch.SecretFile); err != nil {
				ps.Add(check.Key(k, "secret_file"), "%v", err)
			}
		case strings.TrimSpace(ch.Secret.Reveal()) == "":
			ps.Add(check.Key(k, "secret"), "is only white space; want the HMAC-SHA256 key")
		}
		if ch.Timeout < 0 {
			ps.Add(check.Key(k, "timeout"), "got %s, want a positive duration (0: default 10s)", ch.Timeout)
		}
		if ch.MaxRetryAfter < 0 {
			ps.Add(check.Key(k, "max_retry_after"), "got %s, want a positive duration (0: default %s)", ch.MaxRetryAfter, notify.DefaultMaxRetryAfter)
		}
	case "log":
	default:
		ps.Add(check.Key(k, "type"), "got %q, want sns, webhook or log", ch.Type)
	}
	if ch.Type != "webhook" && ch.MaxRetryAfter != 0 {
		ps.Add(check.Key(k, "max_retry_after"), "only for type webhook")
	}
	if ch.Type != "sns" && ch.Format != "" {
		ps.Add(check.Key(k, "format"), "only for type sns")
	}
	if _, err := notify.ParseUnits(ch.Units, ""); err != nil {
		ps.Add(check.Key(k, "units"), "%v", err)
	}
	if _, err := notify.ParseUnits("", ch.WindUnits); err != nil {
		ps.Add(check.Key(k, "wind_units"), "%v", err)
	}
	if ch.MinSeverity != "" && severityRank(ch.MinSeverity) < 0 {
		ps.Add(check.Key(k, "min_severity"), "got %q, want info, warning or critical", ch.MinSeverity)
	}
	if w := ch.Window; w.Start != "" || w.Duration != 0 || w.Timezone != "" {
		if s, err := cronParser.Parse(w.Start); err != nil {
			ps.Add(check.Key(k, "window.start"), "got %q, want a cron spec (e.g. \"0 7 * * *\"): %v", w.Start, err)
		} else if s.Next(time.Now()).IsZero() {
			ps.Add(check.Key(k, "window.start"), "cron spec %q never fires: no time in the next 5 years matches it", w.Start)
		}
		if w.Duration <= 0 {
			ps.Add(check.Key(k, "window.duration"), "got %s, want a positive duration", w.Duration)
		}
		checkZone(check.Key(k, "window.timezone"), w.Timezone, ps)
	}
	if d := ch.Digest; d.Schedule != "" || d.Timezone != "" {
		if s, err := cronParser.Parse(d.Schedule); err != nil {
			ps.Add(check.Key(k, "digest.schedule"), "got %q, want a cron spec (e.g. \"0 7 * * *\"): %v", d.Schedule, err)
		} else if s.Next(time.Now()).IsZero() {
			ps.Add(check.Key(k, "digest.schedule"), "cron spec %q never fires: no time in the next 5 years matches it", d.Schedule)
		}
		checkZone(check.Key(k, "digest.timezone"), d.Timezone, ps)
	}
	for _, t := range []struct{ key, text string }{
		{"templates.subject", ch.Templates.Subject},
		{"templates.text", ch.Templates.Text},
		{"templates.sms", ch.Templates.SMS},
	} {
		if t.text == "" {
			continue
		}
		if _, err := template.New(t.key).Funcs(templateFuncs).Parse(t.text); err != nil {
			ps.Add(check.Key(k, t.key), "%v", err)
		}
	}
}

func checkZone(k, tz string, ps *check.Problems) {
	if tz == "" {
		return
	}
	if _, err := time.LoadLocation(tz); err != nil {
		ps.Add(k, "unknown time zone %q", tz)
	}
}

// redactURL drops user info and the query, where webhook tokens tend to live.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}
