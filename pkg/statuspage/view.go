package statuspage

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/api"
)

// view is what the template shows; times are already in their zones.
type view struct {
	Title          string
	Nonce          string // of the inline style and script (CSP)
	Note, Error    string
	LoadError      string
	ReadsNeedToken bool
	// Form holds a refused form's values, to fill the form again.
	Form url.Values

	Status    api.Status
	Generated stamp
	Locations []locationRow
	Alerts    []alertRow
	Silences  []silenceRow
	// Counts by phase, for the summary line.
	Firing, Pending, Other int
}

// stamp is a time as the page shows it: Text in a zone, ISO for the
// <time datetime> attribute, Rel relative to the page's time.
type stamp struct {
	Text, ISO, Rel string
}

type locationRow struct {
	ID, Name, Timezone string
	LocalNow           string
	Reading            stamp
	Stale              bool
	Values             map[string]float64
}

type alertRow struct {
	api.Alert
	Since, FiredAt stamp
	Class          string
}

type silenceRow struct {
	api.Silence
	Matchers     string
	Starts, Ends stamp
	Zone         string
}

// staleAfter marks a location whose newest reading is older than this.
const staleAfter = time.Hour

func (p *pageHandler) load(ctx context.Context, v *view) error {
	now := p.now()
	v.Status = p.svc.Status(ctx)
	v.Generated = at(now, now, time.UTC)
	locs, err := p.svc.Locations(ctx)
	if err != nil {
		return fmt.Errorf("locations: %w", err)
	}
	zones := map[string]*time.Location{}
	for _, l := range locs {
		z := zone(l.Timezone)
		zones[l.ID] = z
		row := locationRow{ID: l.ID, Name: l.Name, Timezone: z.String(), LocalNow: now.In(z).Format("Mon 15:04 MST"), Values: l.Values}
		if !l.LastReadingAt.IsZero() {
			row.Reading = at(l.LastReadingAt, now, z)
			row.Stale = now.Sub(l.LastReadingAt) > staleAfter
		}
		v.Locations = append(v.Locations, row)
	}
	alerts, err := p.svc.Alerts(ctx, api.Filter{})
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	// Firing first, then pending, then the rest; newest first within each.
	slices.SortStableFunc(alerts, func(a, b api.Alert) int {
		if d := phaseRank(a.Phase) - phaseRank(b.Phase); d != 0 {
			return d
		}
		return b.Since.Compare(a.Since)
	})
	for _, a := range alerts {
		z := zone(a.Timezone)
		if a.Timezone == "" && zones[a.Location] != nil {
			z = zones[a.Location]
		}
		row := alertRow{Alert: a, Class: "phase-" + phaseClass(a.Phase)}
		if !a.Since.IsZero() {
			row.Since = at(a.Since, now, z)
		}
		if !a.FiredAt.IsZero() {
			row.FiredAt = at(a.FiredAt, now, z)
		}
		switch a.Phase {
		case api.PhaseFiring:
			v.Firing++
		case api.PhasePending:
			v.Pending++
		default:
			v.Other++
		}
		v.Alerts = append(v.Alerts, row)
	}
	silences, err := p.svc.Silences(ctx)
	if err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	for _, s := range silences {
		if s.State == api.SilenceExpired {
			continue // the CLI and the API list those
		}
		// A silence for one location shows its times in that location's
		// zone; one spanning several, in UTC.
		z := time.UTC
		if lz := zones[s.Matchers.Location]; lz != nil {
			z = lz
		}
		v.Silences = append(v.Silences, silenceRow{
			Silence:  s,
			Matchers: matchers(s.Matchers),
			Starts:   at(s.StartsAt, now, z),
			Ends:     at(s.EndsAt, now, z),
			Zone:     z.String(),
		})
	}
	slices.SortStableFunc(v.Silences, func(a, b silenceRow) int { return a.EndsAt.Compare(b.EndsAt) })
	return nil
}

func phaseRank(p string) int {
	switch p {
	case api.PhaseFiring:
		return 0
	case api.PhasePending:
		return 1
	}
	return 2
}

// phaseClass keeps the CSS class to known words whatever the phase holds.
func phaseClass(p string) string {
	switch p {
	case api.PhaseFiring, api.PhasePending, "predicted", "updated":
		return p
	}
	return "other"
}

func zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return z
}

func at(t, now time.Time, z *time.Location) stamp {
	return stamp{
		Text: t.In(z).Format("Mon 2 Jan 15:04 MST"),
		ISO:  t.UTC().Format(time.RFC3339),
		Rel:  relative(t, now),
	}
}

// relative is "5m ago" or "in 5h 59m", rounded for a reader.
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		s = strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		s = fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func matchers(m api.Matchers) string {
	var s []string
	for _, f := range []struct{ k, v string }{{"rule", m.Rule}, {"location", m.Location}, {"severity", m.Severity}} {
		if f.v != "" {
			s = append(s, f.k+"="+f.v)
		}
	}
	return strings.Join(s, " ")
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
