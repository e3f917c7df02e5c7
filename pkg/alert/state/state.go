// Package state stores each (rule, location) alert's state together with its
// outbox of notifications not yet delivered, with optimistic versioning so
// that only one writer ever records a given transition.
package state

import (
	"context"
	"errors"
	"slices"
	"time"
)

// ErrConflict means another writer changed the alert since it was read;
// reload it and decide again.
var ErrConflict = errors.New("alert state changed concurrently")

// Alert is the state of one rule at one location, and its outbox.
type Alert struct {
	Location string `json:"location"`
	Rule     string `json:"rule"`
	// Phase is inactive, pending or firing.
	Phase string `json:"phase"`
	// Since is when the condition started to hold (pending and firing).
	Since      time.Time `json:"since,omitzero"`
	FiredAt    time.Time `json:"fired_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// LastEval is the observation time of the last reading evaluated; older
	// readings are ignored.
	LastEval time.Time `json:"last_eval,omitzero"`
	// LastNotified is the observation time of the last firing or repeat notice.
	LastNotified time.Time `json:"last_notified,omitzero"`
	// Onset is a forecast alert's predicted onset as last announced.
	Onset time.Time `json:"onset,omitzero"`
	// Occurred is set when a forecast alert's onset came (or its linked
	// realtime rule fired): forecasts showing the weather still going on
	// are not a new prediction until one shows it gone.
	Occurred bool `json:"occurred,omitempty"`
	// Seq counts the transitions recorded; it makes notification ids unique.
	Seq    int64   `json:"seq"`
	Outbox []Entry `json:"outbox,omitempty"`
	// Ack, Suppressed and Unsent are the operator's view of the current
	// firing (see silences.go); a new firing clears them.
	Ack        *Ack `json:"ack,omitempty"`
	Suppressed int  `json:"suppressed,omitempty"`
	Unsent     bool `json:"unsent,omitempty"`
	// Values are the reading values of the last firing or repeat. Like
	// every values and labels map of an alert or event, it is never changed
	// once set: a change sets a new map, so copies share it.
	Values map[string]float64 `json:"values,omitempty"`
	// Version is the store's write counter, 0 for an alert never stored.
	Version int64 `json:"-"`
}

// Clone returns a copy a caller can change and Save: deep, except for the
// values and labels maps, which are never changed in place and so are
// shared (an alert's copies in the engine's cache, the memory store and
// each outbox entry were most of the heap at 100,000 locations).
func (a Alert) Clone() Alert {
	if a.Ack != nil {
		ack := *a.Ack
		a.Ack = &ack
	}
	a.Outbox = slices.Clone(a.Outbox)
	for i := range a.Outbox {
		a.Outbox[i] = a.Outbox[i].Clone()
	}
	return a
}

// Entry is one notification for one channel, kept until delivered.
type Entry struct {
	ID      string `json:"id"` // location/rule/seq/channel: stable across retries
	Channel string `json:"channel"`
	Event   Event  `json:"event"`
	// NotBefore holds the entry until its channel's delivery window opens.
	NotBefore time.Time `json:"not_before,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	// NextAttempt is when a failed entry is tried again.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Owner is the engine delivering it, until OwnedUntil; another engine
	// takes it over only after that.
	Owner      string    `json:"owner,omitempty"`
	OwnedUntil time.Time `json:"owned_until,omitzero"`
}

// Clone returns a deep copy.
func (e Entry) Clone() Entry {
	e.Event = e.Event.Clone()
	return e
}

// Event is what a notification is about; channels render it with templates.
type Event struct {
	Kind         string             `json:"kind"` // firing, repeat, resolved, summary, digest
	Rule         string             `json:"rule,omitempty"`
	Severity     string             `json:"severity"`
	Group        string             `json:"group,omitempty"`
	Tier         int                `json:"tier,omitempty"`
	Expr         string             `json:"expr,omitempty"`
	LocationID   string             `json:"location_id"`
	LocationName string             `json:"location_name"`
	Timezone     string             `json:"timezone,omitempty"`
	ObservedAt   time.Time          `json:"observed_at"`
	Since        time.Time          `json:"since,omitzero"`
	Values       map[string]float64 `json:"values,omitempty"`
	// AckBy and AckComment tell who acknowledged the alert (resolved notices).
	AckBy      string `json:"ack_by,omitempty"`
	AckComment string `json:"ack_comment,omitempty"`
	// History lists the transitions a summary stands for, oldest first.
	History []Change `json:"history,omitempty"`
	Digest  *Digest  `json:"digest,omitempty"`
	// Summary is the rule's human name ("Strong wind"); Labels the human
	// names of Values ("windGust": "gusts").
	Summary string            `json:"summary,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Forecast is set for the notices of forecast rules.
	Forecast *Forecast `json:"forecast,omitempty"`
}

// Forecast is what a forecast notice says: when the weather is expected
// and how strong, according to the forecast issued at IssuedAt.
type Forecast struct {
	IssuedAt time.Time `json:"issued_at"`
	Onset    time.Time `json:"onset,omitzero"` // zero in a cancellation
	// PreviousOnset is the onset announced before (updates, cancellations).
	PreviousOnset time.Time `json:"previous_onset,omitzero"`
	// Extremes are, for each value the rule reads, its extreme over the
	// expected event, in the order the rule uses them.
	Extremes []Extreme `json:"extremes,omitempty"`
}

// Extreme is the highest (or, for Low, lowest) forecast value of one name.
type Extreme struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Low   bool    `json:"low,omitempty"`
}

// Expected is one forecast alert a digest lists.
type Expected struct {
	Rule     string    `json:"rule"`
	Summary  string    `json:"summary,omitempty"`
	Severity string    `json:"severity"`
	Onset    time.Time `json:"onset"`
}

// Clone returns a copy a caller can change: deep, except for the values
// and labels maps, which are shared (see Alert.Clone).
func (e Event) Clone() Event {
	e.History = slices.Clone(e.History)
	if e.Digest != nil {
		d := *e.Digest
		d.Alerts = slices.Clone(d.Alerts)
		d.Expected = slices.Clone(d.Expected)
		e.Digest = &d
	}
	if e.Forecast != nil {
		f := *e.Forecast
		f.Extremes = slices.Clone(f.Extremes)
		e.Forecast = &f
	}
	return e
}

// Change is one transition inside a summary.
type Change struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
}

// Digest is a period's summary of one location.
type Digest struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Readings int           `json:"readings"`
	Alerts   []DigestAlert `json:"alerts,omitempty"`
	// Pointers: nil when no reading carried the value.
	MinTemperature *float64 `json:"min_temperature,omitempty"`
	MaxTemperature *float64 `json:"max_temperature,omitempty"`
	MaxGust        *float64 `json:"max_gust,omitempty"`
	MaxRain        *float64 `json:"max_rain_intensity,omitempty"`
	// RainMM is rain intensity integrated over time (gaps over an hour skipped).
	RainMM float64 `json:"rain_mm"`
	// Expected lists the forecast alerts active when the digest was made.
	Expected []Expected `json:"expected,omitempty"`
}

// DigestAlert counts one rule's transitions in a digest period.
type DigestAlert struct {
	Rule     string `json:"rule"`
	Fired    int    `json:"fired"`
	Resolved int    `json:"resolved"`
	// AckBy is who acknowledged the rule's last firing in the period.
	AckBy string `json:"ack_by,omitempty"`
}

// Store keeps alerts. Implementations are safe for concurrent use.
type Store interface {
	// Init prepares the store (creates the table when missing).
	Init(ctx context.Context) error
	// Load returns every stored alert of a location.
	Load(ctx context.Context, location string) ([]Alert, error)
	// Get returns one alert; ok is false when it was never stored.
	Get(ctx context.Context, location, rule string) (a Alert, ok bool, err error)
	// Save writes a if the stored version is still a.Version (0: absent) and
	// then sets a.Version to the new version; otherwise it returns ErrConflict.
	// A saved alert is not changed afterwards (Memory keeps it).
	Save(ctx context.Context, a *Alert) error
	// Pending returns every alert whose outbox is not empty.
	Pending(ctx context.Context) ([]Alert, error)
	// All returns every stored alert, for the operator API.
	All(ctx context.Context) ([]Alert, error)
	// Silences returns every stored silence.
	Silences(ctx context.Context) ([]Silence, error)
	// SaveSilence writes s like Save writes an alert: only if the stored
	// version is still s.Version (0: absent), else ErrConflict.
	SaveSilence(ctx context.Context, s *Silence) error
	// DeleteSilence removes s if the stored version is still s.Version,
	// else ErrConflict; a silence already gone is not an error.
	DeleteSilence(ctx context.Context, s Silence) error
}
