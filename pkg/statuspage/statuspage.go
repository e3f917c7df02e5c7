// Package statuspage serves weatherd's HTML status page at /: what is firing,
// each location's newest reading, the silences, and forms to silence and
// acknowledge, rendered on the server so it works without JavaScript.
package statuspage

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/api"
)

//go:embed templates/*.html
var templates embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"values": formatValues,
}).ParseFS(templates, "templates/*.html"))

// MaxForm caps a form's body: a silence's fields are far smaller.
const MaxForm = 16 << 10

// Handler serves the page and its forms over svc. The forms carry the API
// token in a field and are authorized by auth as the API's writes are; the
// page itself is a read, so it needs the token only when reads do.
func Handler(svc api.Service, auth api.Auth, log *slog.Logger) http.Handler {
	return newHandler(svc, auth, log, time.Now)
}

func newHandler(svc api.Service, auth api.Auth, log *slog.Logger, now func() time.Time) http.Handler {
	p := &pageHandler{svc: svc, auth: auth, log: log.With("component", "statuspage"), now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.show)
	mux.HandleFunc("POST /ui/view", p.viewWithToken)
	mux.HandleFunc("POST /ui/silences", p.form(p.addSilence))
	mux.HandleFunc("POST /ui/silences/expire", p.form(p.expireSilence))
	mux.HandleFunc("POST /ui/ack", p.form(p.ack))
	return mux
}

type pageHandler struct {
	svc  api.Service
	auth api.Auth
	log  *slog.Logger
	now  func() time.Time
}

// show renders the page. ?done= carries what the last form did, after its
// redirect (POST-redirect-GET: a reload does not submit again).
func (p *pageHandler) show(w http.ResponseWriter, r *http.Request) {
	var note string
	if done := r.URL.Query().Get("done"); done != "" {
		note = doneNote(done, r.URL.Query().Get("id"))
	}
	// When reads need the token, the page asks for it in a form (POST
	// /ui/view), never in the URL where logs and history would keep it.
	if p.auth.Reads {
		p.render(w, r, http.StatusOK, &view{Note: note, ReadsNeedToken: true}, nil)
		return
	}
	p.render(w, r, http.StatusOK, &view{Note: note}, nil)
}

// viewWithToken shows the page to whoever gives the token, for daemons whose
// reads need it.
func (p *pageHandler) viewWithToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
	if err := r.ParseForm(); err != nil {
		p.render(w, r, http.StatusBadRequest, &view{ReadsNeedToken: p.auth.Reads, Error: "could not read the form: " + err.Error()}, nil)
		return
	}
	if err := p.auth.CheckToken(strings.TrimSpace(r.PostForm.Get("token")), false); err != nil {
		p.render(w, r, authStatus(err), &view{ReadsNeedToken: true, Error: "API token: " + err.Error()}, nil)
		return
	}
	p.render(w, r, http.StatusOK, &view{}, nil)
}

func authStatus(err error) int {
	var ae *api.AuthError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusUnauthorized
}

// doneNote is the sentence for a form's outcome; unknown values show nothing
// so the query cannot put arbitrary text on the page.
func doneNote(done, id string) string {
	if id != "" && !api.ValidSilenceID(id) {
		id = ""
	}
	switch done {
	case "silenced":
		return "Silence " + id + " created."
	case "expired":
		return "Silence " + id + " expired."
	case "acked":
		return "Alert acknowledged: no reminders until it resolves."
	}
	return ""
}

// formAction does what a form asks and returns where to redirect (a query
// for /), or an error to show on the page with the form's values kept.
type formAction func(ctx context.Context, f url.Values) (string, error)

func (p *pageHandler) form(act formAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
		if err := r.ParseForm(); err != nil {
			p.render(w, r, http.StatusBadRequest, &view{Error: "could not read the form: " + err.Error()}, nil)
			return
		}
		f := r.PostForm
		if err := p.auth.CheckToken(strings.TrimSpace(f.Get("token")), true); err != nil {
			p.render(w, r, authStatus(err), &view{ReadsNeedToken: p.auth.Reads, Error: "API token: " + err.Error()}, f)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), api.Timeout)
		defer cancel()
		q, err := act(ctx, f)
		if err != nil {
			status, msg := errorStatus(err)
			if status >= 500 {
				p.log.Error("status page form failed", "path", r.URL.Path, "err", err)
			}
			p.render(w, r, status, &view{Error: msg}, f)
			return
		}
		http.Redirect(w, r, "/?"+q, http.StatusSeeOther)
	}
}

func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, api.ErrInvalid):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), api.ErrInvalid.Error()+": ")
	case errors.Is(err, api.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, api.ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "the alert state store did not answer in time; try again"
	}
	return http.StatusInternalServerError, "internal error; the daemon's log has the details"
}

func (p *pageHandler) addSilence(ctx context.Context, f url.Values) (string, error) {
	req := api.SilenceRequest{
		Matchers: api.Matchers{
			Rule:     strings.TrimSpace(f.Get("rule")),
			Location: strings.TrimSpace(f.Get("location")),
			Severity: strings.TrimSpace(f.Get("severity")),
		},
		Duration:  strings.TrimSpace(f.Get("duration")),
		Comment:   strings.TrimSpace(f.Get("comment")),
		CreatedBy: strings.TrimSpace(f.Get("created_by")),
	}
	s, err := p.svc.AddSilence(ctx, req)
	if err != nil {
		return "", err
	}
	p.log.Info("silence added", "id", s.ID, "rule", s.Matchers.Rule, "location", s.Matchers.Location,
		"severity", s.Matchers.Severity, "ends_at", s.EndsAt, "created_by", s.CreatedBy, "via", "status page")
	return url.Values{"done": {"silenced"}, "id": {s.ID}}.Encode(), nil
}

func (p *pageHandler) expireSilence(ctx context.Context, f url.Values) (string, error) {
	id := f.Get("id")
	if !api.ValidSilenceID(id) {
		return "", fmt.Errorf("%w: id: not a silence id", api.ErrInvalid)
	}
	if err := p.svc.ExpireSilence(ctx, id); err != nil {
		return "", err
	}
	p.log.Info("silence expired", "id", id, "via", "status page")
	return url.Values{"done": {"expired"}, "id": {id}}.Encode(), nil
}

func (p *pageHandler) ack(ctx context.Context, f url.Values) (string, error) {
	req := api.AckRequest{By: strings.TrimSpace(f.Get("by")), Comment: strings.TrimSpace(f.Get("comment"))}
	if err := req.Check(); err != nil {
		return "", err
	}
	a, err := p.svc.Ack(ctx, f.Get("location"), f.Get("rule"), req)
	if err != nil {
		return "", err
	}
	p.log.Info("alert acknowledged", "rule", a.Rule, "location", a.Location, "by", req.By, "via", "status page")
	return url.Values{"done": {"acked"}}.Encode(), nil
}

// render fills v from the Service and writes the page. form holds the values
// of a refused form, shown again so nothing typed is lost (the token is not).
func (p *pageHandler) render(w http.ResponseWriter, r *http.Request, status int, v *view, form url.Values) {
	if !v.ReadsNeedToken {
		ctx, cancel := context.WithTimeout(r.Context(), api.Timeout)
		defer cancel()
		if err := p.load(ctx, v); err != nil {
			p.log.Error("status page: read state", "err", err)
			v.LoadError = "Could not read the alert state: " + errorMessage(err)
			if status == http.StatusOK {
				status = http.StatusServiceUnavailable
			}
		}
	}
	if form != nil {
		form.Del("token")
		v.Form = form
	}
	v.Title = "weatherd"
	if v.Status.Instance != "" {
		v.Title = "weatherd · " + v.Status.Instance
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	v.Nonce = hex.EncodeToString(nonce[:])
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		p.log.Error("status page: render", "err", err)
		http.Error(w, "could not render the status page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Only the page's own style and script (by this response's nonce, so
	// nothing injected would run); no form posts elsewhere, no framing (the
	// forms carry a token).
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+v.Nonce+"'; script-src 'nonce-"+v.Nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func errorMessage(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "the alert state store did not answer in time"
	}
	return "see the daemon's log"
}

func formatValues(v map[string]float64) []string {
	out := make([]string, 0, len(v))
	for _, k := range slices.Sorted(maps.Keys(v)) {
		out = append(out, k+" "+formatFloat(v[k]))
	}
	return out
}
