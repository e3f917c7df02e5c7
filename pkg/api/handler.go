package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/alert/match"
	"github.com/weatherd/weatherd/pkg/weather"
)

// MaxBody caps a request body; a silence or an ack is far smaller.
const MaxBody = 64 << 10

// Timeout bounds one call to the Service (the store behind it is remote).
const Timeout = 10 * time.Second

// States GET /api/v1/alerts?state= accepts besides the phases.
var alertStates = []string{"pending", "firing", "predicted", "updated", "silenced", "inhibited", "acknowledged"}

// Handler serves the API under /api/v1/.
func Handler(svc Service, auth Auth, log *slog.Logger) http.Handler {
	h := &handler{svc: svc, auth: auth, log: log.With("component", "api")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/alerts", h.read(h.alerts))
	mux.HandleFunc("GET /api/v1/locations", h.read(h.locations))
	mux.HandleFunc("GET /api/v1/silences", h.read(h.silences))
	mux.HandleFunc("GET /api/v1/status", h.read(h.status))
	mux.HandleFunc("POST /api/v1/silences", h.write(h.addSilence))
	mux.HandleFunc("DELETE /api/v1/silences/{id}", h.write(h.expireSilence))
	mux.HandleFunc("POST /api/v1/alerts/{location}/{rule}/ack", h.write(h.ack))
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// allowed lists the methods an endpoint of mux answers at r's path, for a
// request whose method it does not.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/api/v1/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

type handler struct {
	svc  Service
	auth Auth
	log  *slog.Logger
}

// endpoint answers with a status and a body to encode as JSON (nil: none).
type endpoint func(ctx context.Context, r *http.Request) (int, any, error)

func (h *handler) read(e endpoint) http.HandlerFunc  { return h.serve(e, false) }
func (h *handler) write(e endpoint) http.HandlerFunc { return h.serve(e, true) }

func (h *handler) serve(e endpoint, write bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.auth.Check(r, write); err != nil {
			var ae *AuthError
			errors.As(err, &ae)
			if ae.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="weatherd"`)
			}
			writeError(w, ae.Status, ae.Message)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		status, body, err := e(ctx, r)
		if err != nil {
			status, msg := h.errorStatus(r, err)
			writeError(w, status, msg)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	}
}

// requestError is a problem with the request itself, answered as is.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func (h *handler) errorStatus(r *http.Request, err error) (int, string) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.status, re.msg
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, strings.TrimPrefix(err.Error(), ErrNotFound.Error()+": ")
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, strings.TrimPrefix(err.Error(), ErrConflict.Error()+": ")
	case errors.Is(err, context.DeadlineExceeded):
		h.log.Error("request timed out", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusServiceUnavailable, "the alert state store did not answer in time"
	default:
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusInternalServerError, "internal error; the daemon's log has the details"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client has gone: nothing to tell it
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

// query returns the query parameters, refusing any not in allowed so a
// typo (?locaton=) is not silently a wider answer.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	q := r.URL.Query()
	out := map[string]string{}
	for k, vs := range q {
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if !found {
			return nil, badRequest("unknown query parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, badRequest("query parameter %q given %d times", k, len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

func (h *handler) alerts(ctx context.Context, r *http.Request) (int, any, error) {
	q, err := query(r, "location", "rule", "state")
	if err != nil {
		return 0, nil, err
	}
	f := Filter{Location: q["location"], Rule: q["rule"], State: q["state"]}
	if f.Location != "" && !weather.ValidLocationID(f.Location) {
		return 0, nil, badRequest("location: got %q, want %s", clip(f.Location), weather.LocationIDRule)
	}
	if f.Rule != "" && !match.ValidRule(f.Rule) {
		return 0, nil, badRequest("rule: got %q, want a rule name", clip(f.Rule))
	}
	if f.State != "" && !contains(alertStates, f.State) {
		return 0, nil, badRequest("state: got %q, want one of %s", clip(f.State), strings.Join(alertStates, ", "))
	}
	out, err := h.svc.Alerts(ctx, f)
	if out == nil {
		out = []Alert{}
	}
	return http.StatusOK, out, err
}

func (h *handler) locations(ctx context.Context, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	out, err := h.svc.Locations(ctx)
	if out == nil {
		out = []Location{}
	}
	return http.StatusOK, out, err
}

func (h *handler) silences(ctx context.Context, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	out, err := h.svc.Silences(ctx)
	if out == nil {
		out = []Silence{}
	}
	return http.StatusOK, out, err
}

func (h *handler) status(ctx context.Context, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, h.svc.Status(ctx), nil
}

// silenceBody is SilenceRequest as sent, times as text so a bad one is
// reported with its field name.
type silenceBody struct {
	Matchers  Matchers `json:"matchers"`
	Duration  string   `json:"duration"`
	StartsAt  *string  `json:"starts_at"`
	EndsAt    *string  `json:"ends_at"`
	Comment   string   `json:"comment"`
	CreatedBy string   `json:"created_by"`
}

func (h *handler) addSilence(ctx context.Context, r *http.Request) (int, any, error) {
	var b silenceBody
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	req := SilenceRequest{Matchers: b.Matchers, Duration: b.Duration, Comment: b.Comment, CreatedBy: b.CreatedBy}
	var err error
	if req.StartsAt, err = parseTime("starts_at", b.StartsAt); err != nil {
		return 0, nil, err
	}
	if req.EndsAt, err = parseTime("ends_at", b.EndsAt); err != nil {
		return 0, nil, err
	}
	s, err := h.svc.AddSilence(ctx, req)
	if err != nil {
		return 0, nil, err
	}
	h.log.Info("silence added", "id", s.ID, "rule", s.Matchers.Rule, "location", s.Matchers.Location,
		"severity", s.Matchers.Severity, "ends_at", s.EndsAt, "created_by", s.CreatedBy)
	return http.StatusCreated, s, nil
}

func (h *handler) expireSilence(ctx context.Context, r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	if !ValidSilenceID(id) {
		return 0, nil, badRequest("silence id: got %q, want 1-64 of a-z and 0-9", clip(id))
	}
	if err := h.svc.ExpireSilence(ctx, id); err != nil {
		return 0, nil, err
	}
	h.log.Info("silence expired", "id", id)
	return http.StatusNoContent, nil, nil
}

func (h *handler) ack(ctx context.Context, r *http.Request) (int, any, error) {
	loc, rule := r.PathValue("location"), r.PathValue("rule")
	if !weather.ValidLocationID(loc) {
		return 0, nil, badRequest("location: got %q, want %s", clip(loc), weather.LocationIDRule)
	}
	if !match.ValidRule(rule) {
		return 0, nil, badRequest("rule: got %q, want a rule name", clip(rule))
	}
	var req AckRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	a, err := h.svc.Ack(ctx, loc, rule, req)
	if err != nil {
		return 0, nil, err
	}
	h.log.Info("alert acknowledged", "location", loc, "rule", rule, "by", req.By)
	return http.StatusOK, a, nil
}

// decode reads one JSON object into v, strictly: unknown fields, wrong
// types, trailing data and oversized bodies are errors naming the problem.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return badRequest("body: want one JSON object, got more after it")
		}
		return nil
	}
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body: larger than %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return badRequest("body: empty, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body: truncated JSON")
	case errors.As(err, &se):
		return badRequest("body: malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("body: got a JSON %s, want an object", te.Value)
		}
		return badRequest("%s: got a JSON %s, want %s", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("body: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	}
	return "a number"
}

func parseTime(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return nil, badRequest("%s: got %q, want an RFC 3339 time such as 2026-12-02T18:00:00Z", field, clip(*s))
	}
	return &t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip keeps echoed input short.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
