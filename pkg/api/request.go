package api

import (
	"fmt"
	"regexp"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/match"
)

// Bounds on what a silence request may hold.
const (
	MaxComment   = 1024
	MaxCreatedBy = 128
	// MaxSilence is the longest a silence may last; longer mutes belong in
	// the config.
	MaxSilence = 366 * 24 * time.Hour
)

var silenceID = regexp.MustCompile(`^[a-z0-9]{1,64}$`)

// ValidSilenceID reports whether id could be a silence id.
func ValidSilenceID(id string) bool { return silenceID.MatchString(id) }

// Severities a silence's severity matcher can select.
var severities = []string{"info", "warning", "critical"}

// Silence checks r and returns the silence it asks for as of now, with no
// id yet. Errors wrap ErrInvalid and name the field.
func (r SilenceRequest) Silence(now time.Time) (Silence, error) {
	invalid := func(field, format string, args ...any) (Silence, error) {
		return Silence{}, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	m := r.Matchers
	for _, f := range []struct{ name, p string }{{"rule", m.Rule}, {"location", m.Location}, {"severity", m.Severity}} {
		if err := match.Check(f.p); err != nil {
			return invalid("matchers."+f.name, "%v", err)
		}
	}
	if m.Rule == "" && m.Location == "" && m.Severity == "" {
		return invalid("matchers", "at least one of rule, location and severity is required (\"*\" matches every alert)")
	}
	if len(match.Literals(m.Severity)) > 0 && !anyMatches(m.Severity, severities) {
		return invalid("matchers.severity", "%q matches none of info, warning, critical", m.Severity)
	}
	if len(r.Comment) > MaxComment {
		return invalid("comment", "got %d bytes, want at most %d", len(r.Comment), MaxComment)
	}
	if len(r.CreatedBy) > MaxCreatedBy {
		return invalid("created_by", "got %d bytes, want at most %d", len(r.CreatedBy), MaxCreatedBy)
	}
	start := now
	if r.StartsAt != nil {
		start = *r.StartsAt
	}
	var end time.Time
	switch {
	case r.Duration != "" && r.EndsAt != nil:
		return invalid("duration", "give duration or ends_at, not both")
	case r.Duration != "":
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			return invalid("duration", "got %q, want a positive duration such as \"6h\" or \"90m\"", r.Duration)
		}
		end = start.Add(d)
	case r.EndsAt != nil:
		end = *r.EndsAt
	default:
		return invalid("duration", "required: give duration (e.g. \"6h\") or ends_at")
	}
	if !end.After(start) {
		return invalid("ends_at", "%s is not after starts_at %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	if !end.After(now) {
		return invalid("ends_at", "%s is in the past", end.UTC().Format(time.RFC3339))
	}
	if end.Sub(start) > MaxSilence {
		return invalid("ends_at", "the silence would last %s, want at most %s", end.Sub(start).Round(time.Minute), MaxSilence)
	}
	return Silence{
		Matchers:  m,
		StartsAt:  start.UTC(),
		EndsAt:    end.UTC(),
		CreatedAt: now.UTC(),
		Comment:   r.Comment,
		CreatedBy: r.CreatedBy,
	}, nil
}

func anyMatches(p string, values []string) bool {
	for _, v := range values {
		if match.Match(p, v) {
			return true
		}
	}
	return false
}

// Check validates an acknowledgement's fields.
func (r AckRequest) Check() error {
	switch {
	case r.By == "":
		return fmt.Errorf("%w: by: required (who acknowledges)", ErrInvalid)
	case len(r.By) > MaxCreatedBy:
		return fmt.Errorf("%w: by: got %d bytes, want at most %d", ErrInvalid, len(r.By), MaxCreatedBy)
	case len(r.Comment) > MaxComment:
		return fmt.Errorf("%w: comment: got %d bytes, want at most %d", ErrInvalid, len(r.Comment), MaxComment)
	}
	return nil
}
