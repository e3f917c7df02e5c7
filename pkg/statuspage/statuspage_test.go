package statuspage

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/api"
)

const token = "s3cret-token"

var now = time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)

func newFake() *fakeService {
	return &fakeService{
		now: now,
		alerts: []api.Alert{
			{Rule: "heavy-rain", Location: "sao-paulo", LocationName: "São Paulo", Timezone: "America/Sao_Paulo", Phase: api.PhasePending, Severity: "info", Since: now.Add(-3 * time.Minute)},
			{Rule: "strong-wind", Location: "oslo", LocationName: "Oslo", Timezone: "Europe/Oslo", Phase: api.PhaseFiring, Severity: "warning",
				Since: now.Add(-90 * time.Minute), FiredAt: now.Add(-80 * time.Minute), Values: map[string]float64{"windGust": 21.5, "windSpeed": 14}},
		},
		locations: []api.Location{
			{ID: "oslo", Name: "Oslo", Timezone: "Europe/Oslo", LastReadingAt: now.Add(-2 * time.Minute), Values: map[string]float64{"temperature": -3.5}},
			{ID: "sao-paulo", Name: "São Paulo", Timezone: "America/Sao_Paulo"},
		},
		silences: []api.Silence{
			{ID: "abc123", Matchers: api.Matchers{Rule: "heat", Location: "sao-paulo"}, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(5 * time.Hour), State: api.SilenceActive, CreatedBy: "ana", Comment: "known", Suppressed: 2},
			{ID: "old1", Matchers: api.Matchers{Rule: "heat"}, StartsAt: now.Add(-3 * time.Hour), EndsAt: now.Add(-time.Hour), State: api.SilenceExpired},
		},
		status: api.Status{Instance: "worker-a", Ready: true, Leases: []string{"shardId-000000000000", "shardId-000000000001"}},
	}
}

func serve(t *testing.T, svc api.Service, auth api.Auth, method, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	h := newHandler(svc, auth, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

func TestHandler_Page(t *testing.T) {
	resp, page := serve(t, newFake(), api.Auth{Token: token}, http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<title>weatherd · worker-a</title>`,
		`<span class="badge ok">ready</span>`,
		`<code>shardId-000000000000</code>, <code>shardId-000000000001</code>`,
		`<h2 id="h-alerts">Alerts <small>1 firing · 1 pending</small></h2>`,
		// Firing first; its times in Oslo's zone (UTC+1 in December).
		`<tr class="phase-firing" data-rule="strong-wind" data-location="oslo">`,
		`<time datetime="2026-12-02T18:30:00Z">Wed 2 Dec 19:30 CET</time> <small>(1h 30m ago)</small>`,
		`<span class="value">windGust 21.5</span> <span class="value">windSpeed 14</span>`,
		`<summary>Acknowledge</summary>`,
		// São Paulo's pending alert in its zone (UTC-3).
		`<time datetime="2026-12-02T19:57:00Z">Wed 2 Dec 16:57 -03</time> <small>(3m ago)</small>`,
		// Locations: local time now and the newest reading, in the zone.
		`<td data-label="Local time">Wed 21:00 CET <small>Europe/Oslo</small></td>`,
		`<time datetime="2026-12-02T19:58:00Z">Wed 2 Dec 20:58 CET</time> <small>(2m ago)</small>`,
		`<span class="value">temperature -3.5</span>`,
		`none yet`,
		// The silence for one location ends in that location's zone.
		`<tr data-silence="abc123">`,
		`<time datetime="2026-12-03T01:00:00Z">Wed 2 Dec 22:00 -03</time> <small>(in 5h 0m)</small>`,
		`<td data-label="Matches">rule=heat location=sao-paulo</td>`,
		`<label for="s-token">API token</label>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Index(page, `data-rule="strong-wind"`) > strings.Index(page, `data-rule="heavy-rain"`) {
		t.Error("the firing alert is not listed before the pending one")
	}
	if strings.Contains(page, "old1") {
		t.Error("an expired silence is listed")
	}
	if strings.Count(page, "<summary>Acknowledge</summary>") != 1 {
		t.Error("want an acknowledge form for the firing alert only")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`script-src 'nonce-([0-9a-f]{32})'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(page, `<script nonce="`+nonce[1]+`">`) || !strings.Contains(page, `<style nonce="`+nonce[1]+`">`) ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("Content-Security-Policy %q does not hold the page to its own style and script", csp)
	}
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("page loads something from elsewhere: %q", bad)
		}
	}
}

func TestHandler_Forms(t *testing.T) {
	silence := url.Values{"rule": {"strong-wind"}, "location": {"oslo"}, "duration": {"6h"}, "comment": {"storm known"}, "created_by": {"ana"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		auth     api.Auth
		path     string
		form     url.Values
		status   int
		location string // of a redirect
		says     string // on the page of a refusal
		silences int    // active ones afterwards
		acks     int
	}{
		{"SilenceAdded", api.Auth{Token: token}, "/ui/silences", with(silence, "token", token), http.StatusSeeOther, "/?done=silenced&id=s3", "", 2, 0},
		{"SilenceTokenPadded", api.Auth{Token: token}, "/ui/silences", with(silence, "token", " "+token+"\n"), http.StatusSeeOther, "/?done=silenced&id=s3", "", 2, 0},
		{"SilenceNoToken", api.Auth{Token: token}, "/ui/silences", silence, http.StatusUnauthorized, "", "API token: missing bearer token", 1, 0},
		{"SilenceWrongToken", api.Auth{Token: token}, "/ui/silences", with(silence, "token", "guess"), http.StatusUnauthorized, "", "API token: wrong bearer token", 1, 0},
		{"SilenceWritesDisabled", api.Auth{}, "/ui/silences", with(silence, "token", token), http.StatusForbidden, "", "API token: writes are disabled: no API token is configured", 1, 0},
		{"SilenceBadDuration", api.Auth{Token: token}, "/ui/silences", with(silence, "token", token, "duration", "forever"), http.StatusBadRequest, "", `duration: got &#34;forever&#34;, want a positive duration`, 1, 0},
		{"SilenceNoMatchers", api.Auth{Token: token}, "/ui/silences", url.Values{"duration": {"1h"}, "token": {token}}, http.StatusBadRequest, "", "matchers: at least one of rule, location and severity is required", 1, 0},
		{"Expired", api.Auth{Token: token}, "/ui/silences/expire", url.Values{"id": {"abc123"}, "token": {token}}, http.StatusSeeOther, "/?done=expired&id=abc123", "", 0, 0},
		{"ExpireUnknown", api.Auth{Token: token}, "/ui/silences/expire", url.Values{"id": {"nope1"}, "token": {token}}, http.StatusNotFound, "", "silence nope1: not found", 1, 0},
		{"ExpireBadID", api.Auth{Token: token}, "/ui/silences/expire", url.Values{"id": {"../x"}, "token": {token}}, http.StatusBadRequest, "", "id: not a silence id", 1, 0},
		{"Acked", api.Auth{Token: token}, "/ui/ack", url.Values{"location": {"oslo"}, "rule": {"strong-wind"}, "by": {"ana"}, "token": {token}}, http.StatusSeeOther, "/?done=acked", "", 1, 1},
		{"AckNotFiring", api.Auth{Token: token}, "/ui/ack", url.Values{"location": {"sao-paulo"}, "rule": {"heavy-rain"}, "by": {"ana"}, "token": {token}}, http.StatusNotFound, "", "heavy-rain at sao-paulo is not firing", 1, 0},
		{"AckWithoutBy", api.Auth{Token: token}, "/ui/ack", url.Values{"location": {"oslo"}, "rule": {"strong-wind"}, "token": {token}}, http.StatusBadRequest, "", "by: required", 1, 0},
		{"BodyTooLarge", api.Auth{Token: token}, "/ui/silences", with(silence, "token", token, "comment", strings.Repeat("x", MaxForm)), http.StatusBadRequest, "", "could not read the form", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newFake()
			resp, page := serve(t, svc, tc.auth, http.MethodPost, tc.path, tc.form)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; page:\n%s", resp.StatusCode, tc.status, page)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if tc.says != "" && !strings.Contains(page, `<p class="error" role="alert" id="error">`+tc.says) {
				t.Errorf("page does not say %q:\n%s", tc.says, page[strings.Index(page, "<main>"):])
			}
			active := 0
			for _, s := range svc.silences {
				if s.State != api.SilenceExpired {
					active++
				}
			}
			if active != tc.silences || len(svc.acks) != tc.acks {
				t.Errorf("%d silences active, %d acks; want %d and %d", active, len(svc.acks), tc.silences, tc.acks)
			}
			if strings.Contains(page, token) {
				t.Error("the page shows the token back")
			}
		})
	}
	t.Run("RefusedFormKeepsValues", func(t *testing.T) {
		_, page := serve(t, newFake(), api.Auth{Token: token}, http.MethodPost, "/ui/silences", with(silence, "token", "guess", "severity", "critical"))
		for _, want := range []string{`name="rule" value="strong-wind"`, `name="duration" value="6h"`, `name="comment" value="storm known"`, `<option value="critical" selected>`} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %s", want)
			}
		}
	})
}

func TestHandler_DoneNote(t *testing.T) {
	for target, want := range map[string]string{
		"/?done=silenced&id=s3":            `<p class="note" role="status" id="note">Silence s3 created.</p>`,
		"/?done=expired&id=abc123":         `<p class="note" role="status" id="note">Silence abc123 expired.</p>`,
		"/?done=acked":                     `<p class="note" role="status" id="note">Alert acknowledged`,
		"/?done=silenced&id=%3Cb%3Ex%3C/b": `<p class="note" role="status" id="note">Silence  created.</p>`,
		"/?done=whatever":                  ``,
	} {
		_, page := serve(t, newFake(), api.Auth{Token: token}, http.MethodGet, target, nil)
		if want == "" {
			if strings.Contains(page, `class="note"`) {
				t.Errorf("%s: a note for an unknown outcome", target)
			}
		} else if !strings.Contains(page, want) {
			t.Errorf("%s: page lacks %s", target, want)
		}
	}
}

func TestHandler_ReadsNeedToken(t *testing.T) {
	auth := api.Auth{Token: token, Reads: true}
	_, page := serve(t, newFake(), auth, http.MethodGet, "/", nil)
	if strings.Contains(page, "strong-wind") || strings.Contains(page, "shardId") || !strings.Contains(page, `action="/ui/view"`) {
		t.Errorf("without the token the page shows state or no token form:\n%s", page)
	}
	resp, page := serve(t, newFake(), auth, http.MethodPost, "/ui/view", url.Values{"token": {"guess"}})
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(page, "strong-wind") {
		t.Errorf("wrong token: status %d", resp.StatusCode)
	}
	resp, page = serve(t, newFake(), auth, http.MethodPost, "/ui/view", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-rule="strong-wind"`) {
		t.Errorf("right token: status %d, page:\n%s", resp.StatusCode, page)
	}
}

func TestHandler_StoreDown(t *testing.T) {
	svc := newFake()
	svc.err = io.ErrUnexpectedEOF
	resp, page := serve(t, svc, api.Auth{}, http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "Could not read the alert state: see the daemon&#39;s log") {
		t.Errorf("status %d, page:\n%s", resp.StatusCode, page)
	}
}
