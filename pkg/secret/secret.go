// Package secret holds a string type for credentials that never prints itself.
package secret

import "log/slog"

// Redacted is what a Secret shows wherever it is printed, logged or encoded.
const Redacted = "<secret>"

// String is a credential such as an API key. Formatting, logging and JSON or
// text encoding show "<secret>"; only Reveal gives the value.
type String string

// Reveal returns the secret value, for the one place that sends it.
func (s String) Reveal() string { return string(s) }

// IsZero reports whether no secret was configured.
func (s String) IsZero() bool { return s == "" }

func (s String) String() string   { return Redacted }
func (s String) GoString() string { return Redacted }

// LogValue keeps the value out of slog output.
func (s String) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText keeps the value out of JSON, YAML and text encodings.
func (s String) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
