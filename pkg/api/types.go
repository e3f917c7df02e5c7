// Package api is weatherd's operator HTTP API under /api/v1: the wire types,
// the Service the daemon implements behind them, and the handler that decodes,
// authorizes and validates requests before they reach it.
package api

import (
	"context"
	"errors"
	"time"
)

// Alert phases as the API reports them; inactive alerts are never listed.
const (
	PhasePending = "pending"
	PhaseFiring  = "firing"
)

// Silence states.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// Alert is one rule at one location that is not inactive.
type Alert struct {
	Rule         string `json:"rule"`
	Location     string `json:"location"`
	LocationName string `json:"location_name,omitempty"`
	Timezone     string `json:"timezone,omitempty"`
	// Phase is pending or firing (forecast rules add more).
	Phase    string    `json:"phase"`
	Severity string    `json:"severity"`
	Since    time.Time `json:"since,omitzero"`
	FiredAt  time.Time `json:"fired_at,omitzero"`
	// Values are the readings that made the rule fire.
	Values map[string]float64 `json:"values,omitempty"`
	// Silenced lists the silences matching the alert now.
	Silenced   bool     `json:"silenced"`
	SilencedBy []string `json:"silenced_by,omitempty"`
	// InhibitedBy is the source alert, "rule@location", that inhibits it.
	Inhibited    bool   `json:"inhibited"`
	InhibitedBy  string `json:"inhibited_by,omitempty"`
	Acknowledged bool   `json:"acknowledged"`
	Ack          *Ack   `json:"ack,omitempty"`
	// Suppressed counts the notifications of this firing not sent because of
	// a silence, an inhibition or an acknowledgement.
	Suppressed int `json:"suppressed"`
}

// Ack is who acknowledged an alert, when, and why.
type Ack struct {
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Location is one configured location and its newest reading.
type Location struct {
	ID            string             `json:"id"`
	Name          string             `json:"name"`
	Timezone      string             `json:"timezone,omitempty"`
	Lat           float64            `json:"lat"`
	Lon           float64            `json:"lon"`
	LastReadingAt time.Time          `json:"last_reading_at,omitzero"`
	Values        map[string]float64 `json:"values,omitempty"`
}

// Matchers select alerts by rule, location id and severity, each a glob in
// path.Match syntax with "|" between alternatives; empty matches anything.
type Matchers struct {
	Rule     string `json:"rule,omitempty"`
	Location string `json:"location,omitempty"`
	Severity string `json:"severity,omitempty"`
}

// Silence mutes the notifications of the alerts its matchers select between
// StartsAt and EndsAt.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  Matchers  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedAt time.Time `json:"created_at"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	// State is pending, active or expired, as of the answer.
	State string `json:"state"`
	// Suppressed counts the notifications this silence kept from being sent.
	Suppressed int `json:"suppressed"`
}

// SilenceRequest is the body of POST /api/v1/silences: Duration (from now,
// or from StartsAt) or EndsAt.
type SilenceRequest struct {
	Matchers  Matchers   `json:"matchers"`
	Duration  string     `json:"duration,omitempty"`
	StartsAt  *time.Time `json:"starts_at,omitempty"`
	EndsAt    *time.Time `json:"ends_at,omitempty"`
	Comment   string     `json:"comment,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
}

// AckRequest is the body of POST /api/v1/alerts/{location}/{rule}/ack.
type AckRequest struct {
	By      string `json:"by"`
	Comment string `json:"comment,omitempty"`
}

// Status is this instance's view of itself.
type Status struct {
	Instance string   `json:"instance"`
	Version  string   `json:"version,omitempty"`
	Ready    bool     `json:"ready"`
	NotReady []string `json:"not_ready,omitempty"`
	// Leases are the ids of the stream shards this instance consumes.
	Leases []string `json:"leases"`
	Leader bool     `json:"leader"`
}

// Error is the body of every answer that is not 2xx.
type Error struct {
	Error string `json:"error"`
}

// Filter narrows GET /api/v1/alerts; empty fields match anything. State is
// a phase (pending, firing, ...) or one of silenced, inhibited, acknowledged.
type Filter struct {
	Location string `json:"location,omitempty"`
	Rule     string `json:"rule,omitempty"`
	State    string `json:"state,omitempty"`
}

// Service is what the API serves; the daemon implements it over the alert
// state store so every replica answers the same.
type Service interface {
	Alerts(ctx context.Context, f Filter) ([]Alert, error)
	Locations(ctx context.Context) ([]Location, error)
	Silences(ctx context.Context) ([]Silence, error)
	// AddSilence validates and stores a silence (ErrInvalid for bad input).
	AddSilence(ctx context.Context, req SilenceRequest) (Silence, error)
	// ExpireSilence ends a silence now (ErrNotFound when there is none).
	ExpireSilence(ctx context.Context, id string) error
	// Ack acknowledges a firing alert (ErrNotFound when it is not firing).
	Ack(ctx context.Context, location, rule string, req AckRequest) (Alert, error)
	Status(ctx context.Context) Status
}

// Errors a Service wraps so the handler answers 404, 400 or 409.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid request")
	ErrConflict = errors.New("conflict")
)
