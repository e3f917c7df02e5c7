package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/weatherd/weatherd/pkg/secret"
)

// Auth decides who may call the API: writes always need the bearer token,
// reads only when Reads is set.
type Auth struct {
	// Token is http.api.token (or the content of http.api.token_file); with
	// none, writes are refused.
	Token secret.String
	// Reads makes reads need the token too (http.api.auth_reads).
	Reads bool
}

// AuthError is why a request was refused: Status is 401 or 403.
type AuthError struct {
	Status  int
	Message string
}

func (e *AuthError) Error() string { return e.Message }

// NoTokenMessage is the 403 answer while no token is configured.
const NoTokenMessage = "writes are disabled: no API token is configured; set http.api.token " +
	"(or the environment variable WEATHERD_HTTP_API_TOKEN, or http.api.token_file) " +
	"and send it as \"Authorization: Bearer <token>\""

// Check authorizes r by its Authorization header; write is true for
// requests that change something. It returns nil or an *AuthError.
func (a Auth) Check(r *http.Request, write bool) error {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if h != "" && (!found || !strings.EqualFold(scheme, "Bearer")) {
		if !write && !a.Reads {
			return nil
		}
		return &AuthError{Status: http.StatusUnauthorized, Message: "the Authorization header must be \"Bearer <token>\""}
	}
	return a.CheckToken(strings.TrimSpace(token), write)
}

// CheckToken authorizes a request that carries token ("" when none), for
// callers that take it elsewhere than the header, such as a form field.
func (a Auth) CheckToken(token string, write bool) error {
	if !write && !a.Reads {
		return nil
	}
	if a.Token.IsZero() {
		return &AuthError{Status: http.StatusForbidden, Message: NoTokenMessage}
	}
	if token == "" {
		return &AuthError{Status: http.StatusUnauthorized, Message: "missing bearer token: send \"Authorization: Bearer <token>\""}
	}
	// Hashing first makes the comparison take the same time whatever the
	// length of the guess.
	want := sha256.Sum256([]byte(a.Token.Reveal()))
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return &AuthError{Status: http.StatusUnauthorized, Message: "wrong bearer token"}
	}
	return nil
}
