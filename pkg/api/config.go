package api

import (
	"errors"
	"fmt"
	"os"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/secret"
)

// Config is the http.api section.
type Config struct {
	// Token (env WEATHERD_HTTP_API_TOKEN) or TokenFile is the bearer token
	// writes need; with neither, writes answer 403.
	Token     secret.String `mapstructure:"token"`
	TokenFile string        `mapstructure:"token_file"`
	// AuthReads makes reads need the token too.
	AuthReads bool `mapstructure:"auth_reads"`
}

// MinTokenBytes is the shortest token accepted: a guessable one is no lock.
const MinTokenBytes = 16

// Validate reports every problem of the section at key.
func (c Config) Validate(key string, ps *check.Problems) {
	switch {
	case !c.Token.IsZero() && c.TokenFile != "":
		ps.Add(check.Key(key, "token_file"), "set either token or token_file, not both")
	case !c.Token.IsZero() && len(c.Token.Reveal()) < MinTokenBytes:
		ps.Add(check.Key(key, "token"), "got %d bytes, want at least %d (e.g. openssl rand -hex 32)", len(c.Token.Reveal()), MinTokenBytes)
	case c.TokenFile != "":
		if _, err := c.Auth(); err != nil {
			ps.Add(check.Key(key, "token_file"), "%v", err)
		}
	case c.AuthReads:
		ps.Add(check.Key(key, "auth_reads"), "true needs a token: set %s or %s", check.Key(key, "token"), check.Key(key, "token_file"))
	}
}

// Auth returns the API's authorization, reading TokenFile if set.
func (c Config) Auth() (Auth, error) {
	a := Auth{Token: c.Token, Reads: c.AuthReads}
	if c.TokenFile == "" {
		return a, nil
	}
	tok, err := secret.ReadFile(c.TokenFile)
	switch {
	case errors.Is(err, secret.ErrEmptyFile):
		return Auth{}, fmt.Errorf("%q is empty; want the API token", c.TokenFile)
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return Auth{}, fmt.Errorf("cannot read %q: %v", c.TokenFile, err)
	case len(tok.Reveal()) < MinTokenBytes:
		return Auth{}, fmt.Errorf("%q holds %d bytes, want at least %d", c.TokenFile, len(tok.Reveal()), MinTokenBytes)
	}
	a.Token = tok
	return a, nil
}
