// Package notify delivers rendered alert notifications to one channel each:
// an SNS topic (email and SMS texts in one publish), a signed webhook, or the log.
package notify

import (
	"context"
	"log/slog"
)

// Message is one rendered notification.
type Message struct {
	// ID is stable across retries (receivers may dedupe on it).
	ID      string
	Subject string // email subject: ASCII, < 100 characters, one line
	Text    string // email and default body
	SMS     string // one GSM-7 segment unless the template asks for more
	// Attributes are SNS message attributes / webhook fields: severity, rule,
	// location, state.
	Attributes map[string]string
	// Body is the webhook's JSON document.
	Body []byte
}

// Sender delivers a message to one channel. An error means it was not
// delivered and may be retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Log writes each notification as one slog line.
type Log struct{ log *slog.Logger }

var _ Sender = (*Log)(nil)

// NewLog returns a Sender that logs at info level.
func NewLog(log *slog.Logger) *Log { return &Log{log: log} }

// Send logs m.
func (l *Log) Send(ctx context.Context, m Message) error {
	l.log.LogAttrs(ctx, slog.LevelInfo, "alert notification",
		slog.String("id", m.ID),
		slog.String("state", m.Attributes["state"]),
		slog.String("rule", m.Attributes["rule"]),
		slog.String("location", m.Attributes["location"]),
		slog.String("severity", m.Attributes["severity"]),
		slog.String("subject", m.Subject),
		slog.String("text", m.SMS),
	)
	return nil
}
