package alert

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/alert/state"
)

// This file writes the sentences people read in the default templates:
// "Strong wind expected in São Paulo at 15:00 (in 3 h): gusts up to
// 80 km/h". The location keeps its real name here; the SMS text and the
// email subject are transliterated when they are rendered (notify.FitSMS,
// notify.Subject), the email body is not.

// humanize fills the message fields of d: Title, Message, Facts, and for
// forecast notices OnsetLocal and Lead, in units u and time zone loc. The
// lead counts from now, the time of sending (a notice a delivery window
// held is sent with the time left then), or from the forecast's issue time
// when now is zero or earlier.
func humanize(d *messageData, u notify.Units, loc *time.Location, now time.Time) {
	ev := d.Event
	d.Units = u
	if ev.Kind == kindDigest {
		return
	}
	what := ev.Summary
	if what == "" {
		what = ev.Rule
	}
	in := " in " + ev.LocationName
	at := ev.ObservedAt.In(loc).Format("15:04")
	if f := ev.Forecast; f != nil {
		d.Facts = forecastFacts(f, ev.Labels, u)
		if !f.Onset.IsZero() {
			d.OnsetLocal = onsetText(f.Onset, f.IssuedAt, loc)
			from := f.IssuedAt
			if now.After(from) {
				from = now
			}
			d.Lead = leadText(f.Onset.Sub(from))
		}
		prev := ""
		if !f.PreviousOnset.IsZero() {
			prev = onsetText(f.PreviousOnset, f.IssuedAt, loc)
		}
		switch kindOf(ev) {
		case kindPredicted:
			d.Title = what + " expected" + in + " at " + d.OnsetLocal
			d.Message = d.Title + " (in " + d.Lead + ")"
		case kindUpdated:
			d.Title = what + " now expected" + in + " at " + d.OnsetLocal
			d.Message = d.Title + " (in " + d.Lead
			if prev != "" {
				d.Message += ", was " + prev
			}
			d.Message += ")"
		case kindForecastCancelled:
			d.Title = what + " no longer expected" + in
			d.Message = d.Title
			if prev != "" {
				d.Message += " (was forecast for " + prev + ")"
			}
			return
		}
	} else {
		d.Facts = valueFacts(ev.Values, ev.Labels, u)
		switch kindOf(ev) {
		case kindRepeat:
			d.Title = what + " continues" + in
		case kindResolved:
			d.Title = what + " over" + in
		default:
			d.Title = what + in
		}
		d.Message = d.Title + " at " + at
	}
	if ev.Kind == kindSummary {
		d.Message += " (" + d.Headline + ")"
	}
	if len(d.Facts) > 0 {
		parts := make([]string, len(d.Facts))
		for i, f := range d.Facts {
			parts[i] = f.Name + " " + f.Text
		}
		d.Message += ": " + strings.Join(parts, ", ")
	}
}

// kindOf is the kind a notice reads as: a held summary reads as its last
// change.
func kindOf(ev state.Event) string {
	if ev.Kind == kindSummary && len(ev.History) > 0 {
		return ev.History[len(ev.History)-1].Kind
	}
	return ev.Kind
}

func label(labels map[string]string, name string) string {
	if l := labels[name]; l != "" {
		return l
	}
	return notify.Label(name)
}

// valueFacts are a reading's values, by name, in the channel's units.
func valueFacts(vals map[string]float64, labels map[string]string, u notify.Units) []valueView {
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]valueView, 0, len(names))
	for _, n := range names {
		out = append(out, valueView{Name: label(labels, n), Text: u.Format(n, vals[n])})
	}
	return out
}

// forecastFacts are a forecast's extremes: "gusts up to 80 km/h",
// "temperature down to -2 °C".
func forecastFacts(f *state.Forecast, labels map[string]string, u notify.Units) []valueView {
	out := make([]valueView, 0, len(f.Extremes))
	for _, x := range f.Extremes {
		dir := "up to "
		if x.Low {
			dir = "down to "
		}
		out = append(out, valueView{Name: label(labels, x.Name), Text: dir + u.Format(x.Name, x.Value)})
	}
	return out
}

// onsetText is an onset in local time: "15:00" on the forecast's local
// day, "Thu 03:00" on another.
func onsetText(onset, issued time.Time, loc *time.Location) string {
	o, i := onset.In(loc), issued.In(loc)
	if o.YearDay() == i.YearDay() && o.Year() == i.Year() {
		return o.Format("15:04")
	}
	return o.Format("Mon 15:04")
}

// leadText is a lead time as people say it: "under 1 min", "45 min",
// "3 h", "2 h 30 min".
func leadText(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 1:
		return "under 1 min"
	case m < 60:
		return fmt.Sprintf("%d min", max(m, 0))
	case m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}
