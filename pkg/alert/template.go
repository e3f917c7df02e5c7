package alert

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
)

// Default templates. Each is a text/template over a messageData; channels
// override them with templates.subject, templates.text and templates.sms.
const (
	defaultSubjectTemplate = `{{if eq .Kind "digest"}}Weather digest for {{.LocationName}}, {{date .Digest.To}}` +
		`{{else}}[{{if eq .State "resolved"}}RESOLVED{{else if eq .State "cancelled"}}CANCELLED{{else}}{{upper .Severity}}{{end}}] {{.Title}}{{end}}`

	defaultTextTemplate = `{{if eq .Kind "digest"}}{{template "digest" .}}{{else -}}
{{.Message}}.

Location:  {{.LocationName}} ({{.LocationID}})
Rule:      {{.Rule}}, severity {{.Severity}}{{if .Group}} (group {{.Group}}, tier {{.Tier}}){{end}}
Condition: {{.Expr}}
{{- with .Forecast}}
Forecast:  issued {{utc .IssuedAt}}
{{- if not .Onset.IsZero}}
Onset:     {{utc .Onset}} ({{localtime .Onset}} local time){{end}}
{{- else}}
Observed:  {{utc .ObservedAt}} ({{local .ObservedAt}} local time)
{{- if .Since.IsZero | not}}
Since:     {{utc .Since}}{{end}}{{end}}
{{- if .AckBy}}
Acknowledged by {{.AckBy}}{{with .AckComment}}: {{.}}{{end}}{{end}}
{{- if .History}}

While notifications were held:
{{- range .History}}
  {{utc .At}}  {{.Kind}}{{end}}{{end}}
{{end}}`

	defaultSMSTemplate = `{{if eq .Kind "digest"}}{{.LocationName}} {{date .Digest.To}}: ` +
		`{{.Show "temperature" .Digest.MinTemperature}}..{{.Show "temperature" .Digest.MaxTemperature}}, ` +
		`gust {{.Show "windGust" .Digest.MaxGust}}, rain {{.Show "rainAccumulation" .Digest.RainMM}}, ` +
		`{{len .Digest.Alerts}} alert(s)` +
		`{{with .Digest.Expected}}; expected: {{range $i, $x := .}}{{if $i}}, {{end}}{{$x.Summary}} {{localtime $x.Onset}}{{end}}{{end}}` +
		`{{else -}}
{{if eq .State "resolved" "cancelled"}}{{else}}{{upper .Severity}}: {{end}}{{.Message}}
{{- if and .AckBy (eq .State "resolved")}} (ack {{.AckBy}}){{end}}{{end}}`

	digestTemplate = `{{define "digest" -}}
Weather digest for {{.LocationName}} ({{.LocationID}})
{{utc .Digest.From}} to {{utc .Digest.To}}, {{.Digest.Readings}} readings.

Temperature: {{.Show "temperature" .Digest.MinTemperature}} to {{.Show "temperature" .Digest.MaxTemperature}}
Max gust:    {{.Show "windGust" .Digest.MaxGust}}
Rain:        {{.Show "rainAccumulation" .Digest.RainMM}} (max {{with .Digest.MaxRain}}{{$.Show "rainIntensity" .}}{{else}}{{$.Show "rainIntensity" 0.0}}{{end}})
{{if .Digest.Alerts}}
Alerts:
{{- range .Digest.Alerts}}
  {{.Rule}}: fired {{.Fired}}, resolved {{.Resolved}}{{with .AckBy}}, acknowledged by {{.}}{{end}}{{end}}
{{else}}
No alerts fired or resolved.
{{end}}
{{- with .Digest.Expected}}
Expected:
{{- range .}}
  {{localtime .Onset}}  {{.Summary}} ({{.Severity}}){{end}}
{{end}}{{end}}`
)

// units of the values, for messages.
var units = map[string]string{
	"temperature": "°C", "temperatureApparent": "°C", "dewPoint": "°C",
	"windSpeed": "m/s", "windGust": "m/s", "windDirection": "°",
	"rainIntensity": "mm/h", "snowIntensity": "mm/h", "sleetIntensity": "mm/h",
	"freezingRainIntensity": "mm/h", "precipitationIntensity": "mm/h",
	"rainAccumulation": "mm", "snowAccumulation": "mm", "sleetAccumulation": "mm", "iceAccumulation": "mm",
	"humidity": "%", "cloudCover": "%", "precipitationProbability": "%", "hailProbability": "%",
	"pressureSurfaceLevel": "hPa", "pressureSeaLevel": "hPa",
	"visibility": "km", "cloudBase": "km", "cloudCeiling": "km",
}

var templateFuncs = template.FuncMap{
	"upper": strings.ToUpper,
	"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"num":   formatNum,
	// local and localtime are replaced per message with the location's zone.
	"local":     func(t time.Time) string { return t.UTC().Format("15:04") },
	"localtime": func(t time.Time) string { return t.UTC().Format("Mon 15:04") },
}

func formatNum(x any) string {
	switch v := x.(type) {
	case float64:
		return fmt.Sprintf("%.1f", v)
	case *float64:
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f", *v)
	}
	return fmt.Sprint(x)
}

// templates are one channel's parsed message templates.
type templates struct {
	subject, text, sms *template.Template

	mu     sync.Mutex
	byZone map[string]*zoned // by time zone name ("" is UTC)
}

// zoned is a copy of the templates whose "local" function formats in one
// time zone. It is made once per zone (the locations' zones, a fixed set)
// and then only executed, which is safe from several goroutines.
type zoned struct {
	subject, text, sms *template.Template
	loc                *time.Location
}

// inZone returns the templates for zone name; an unknown name is UTC.
func (t *templates) inZone(name string) (*zoned, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if z := t.byZone[name]; z != nil {
		return z, nil
	}
	loc := time.UTC
	if name != "" {
		if l, err := time.LoadLocation(name); err == nil {
			loc = l
		}
	}
	local := template.FuncMap{
		"local":     func(t time.Time) string { return t.In(loc).Format("15:04") },
		"localtime": func(t time.Time) string { return t.In(loc).Format("Mon 15:04") },
	}
	z := zoned{loc: loc}
	for _, p := range []struct{ dst, src **template.Template }{{&z.subject, &t.subject}, {&z.text, &t.text}, {&z.sms, &t.sms}} {
		c, err := (*p.src).Clone()
		if err != nil {
			return nil, err
		}
		*p.dst = c.Funcs(local)
	}
	if t.byZone == nil {
		t.byZone = map[string]*zoned{}
	}
	t.byZone[name] = &z
	return &z, nil
}

func parseTemplates(c TemplateConfig) (*templates, error) {
	pick := func(s, def string) string {
		if s != "" {
			return s
		}
		return def
	}
	var t templates
	for _, p := range []struct {
		dst  **template.Template
		name string
		src  string
	}{
		{&t.subject, "subject", pick(c.Subject, defaultSubjectTemplate)},
		{&t.text, "text", pick(c.Text, defaultTextTemplate)},
		{&t.sms, "sms", pick(c.SMS, defaultSMSTemplate)},
	} {
		tm, err := template.New(p.name).Funcs(templateFuncs).Parse(digestTemplate)
		if err == nil {
			tm, err = tm.Parse(p.src)
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", p.name, err)
		}
		*p.dst = tm
	}
	return &t, nil
}

// messageData is what templates see: the event plus derived fields.
type messageData struct {
	state.Event
	// State is firing or resolved (digest for digests): what the alert is now.
	State string
	// Headline says what happened, e.g. "is firing" or "fired and resolved".
	Headline  string
	ValueList []valueView
	Channel   string
	// Title ("Strong wind expected in São Paulo at 15:00") and Message (the
	// title with the lead time and values) read as sentences; Facts are
	// the values with human labels in the channel's Units; OnsetLocal and
	// Lead ("3 h") are set for forecast notices (message.go).
	Title      string
	Message    string
	Facts      []valueView
	OnsetLocal string
	Lead       string
	Units      notify.Units
}

type valueView struct{ Name, Text string }

// Show formats v, a value of the reading value name (a float64, or a
// *float64 where nil is "n/a"), in the channel's units: {{.Show
// "windGust" .Digest.MaxGust}} is "108 km/h" or "67 mph".
func (d messageData) Show(name string, v any) string {
	switch x := v.(type) {
	case float64:
		return d.Units.Format(name, x)
	case *float64:
		if x != nil {
			return d.Units.Format(name, *x)
		}
	}
	return "n/a"
}

func newMessageData(ev state.Event, channel string, u notify.Units, loc *time.Location, now time.Time) messageData {
	d := messageData{Event: ev, Channel: channel, State: stateOf(ev)}
	switch ev.Kind {
	case kindFiring:
		d.Headline = "is firing"
	case kindRepeat:
		d.Headline = "is still firing"
	case kindResolved:
		d.Headline = "is resolved"
	case kindSummary:
		kinds := make([]string, 0, len(ev.History))
		for _, h := range ev.History {
			if h.Kind == kindRepeat {
				continue
			}
			kinds = append(kinds, map[string]string{kindFiring: "fired", kindResolved: "resolved",
				kindPredicted: "predicted", kindUpdated: "updated", kindForecastCancelled: "cancelled"}[h.Kind])
		}
		d.Headline = strings.Join(kinds, ", then ")
		if d.State == kindFiring {
			d.Headline += ", and is firing"
		}
	case kindPredicted:
		d.Headline = "is expected"
	case kindUpdated:
		d.Headline = "is expected at a new time"
	case kindForecastCancelled:
		d.Headline = "is no longer expected"
	}
	names := make([]string, 0, len(ev.Values))
	for n := range ev.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		txt := formatNum(ev.Values[n])
		if u := units[n]; u != "" {
			txt += " " + u
		}
		d.ValueList = append(d.ValueList, valueView{Name: n, Text: txt})
	}
	humanize(&d, u, loc, now)
	return d
}

// stateOf is what the alert is after ev: firing, resolved or digest; for
// forecast rules predicted, updated or cancelled.
func stateOf(ev state.Event) string {
	switch k := kindOf(ev); k {
	case kindDigest, kindResolved, kindPredicted, kindUpdated, kindForecastCancelled:
		return k
	}
	return kindFiring
}

// render turns an entry into the message a channel sends, showing values
// in units u.
func (t *templates) render(e state.Entry, u notify.Units, now time.Time) (notify.Message, error) {
	z, err := t.inZone(e.Event.Timezone)
	if err != nil {
		return notify.Message{}, fmt.Errorf("render %s: %w", e.ID, err)
	}
	d := newMessageData(e.Event, e.Channel, u, z.loc, now)
	exec := func(tm *template.Template) (string, error) {
		var b strings.Builder
		if err := tm.Execute(&b, d); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	subject, err := exec(z.subject)
	if err != nil {
		return notify.Message{}, fmt.Errorf("render subject of %s: %w", e.ID, err)
	}
	text, err := exec(z.text)
	if err != nil {
		return notify.Message{}, fmt.Errorf("render text of %s: %w", e.ID, err)
	}
	sms, err := exec(z.sms)
	if err != nil {
		return notify.Message{}, fmt.Errorf("render sms of %s: %w", e.ID, err)
	}
	rule := e.Event.Rule
	if e.Event.Kind == kindDigest {
		rule = kindDigest
	}
	m := notify.Message{
		ID:      e.ID,
		Subject: notify.Subject(subject),
		Text:    strings.TrimSpace(text) + "\n",
		SMS:     notify.FitSMS(sms, notify.SMSSegment),
		Attributes: map[string]string{
			"severity": e.Event.Severity,
			"rule":     rule,
			"location": e.Event.LocationID,
			"state":    d.State,
		},
	}
	body := struct {
		ID      string `json:"id"`
		Kind    string `json:"kind"`
		State   string `json:"state"`
		Subject string `json:"subject"`
		Text    string `json:"text"`
		state.Event
	}{e.ID, e.Event.Kind, d.State, m.Subject, m.Text, e.Event}
	if m.Body, err = json.Marshal(body); err != nil {
		return notify.Message{}, fmt.Errorf("encode webhook body of %s: %w", e.ID, err)
	}
	return m, nil
}
