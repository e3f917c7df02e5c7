package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/weather"
)

const token = "0123456789abcdef-token"

var locations = []weather.Location{
	{ID: "toronto", Name: "Toronto", Lat: 43.65, Lon: -79.38, Timezone: "America/Toronto"},
	{ID: "sao-paulo", Name: "São Paulo", Lat: -23.55, Lon: -46.63, Timezone: "America/Sao_Paulo"},
}

// service is a real alert engine (memory state) with gusty firing at
// toronto, plus a fixed status.
type service struct{ *alert.Engine }

func (service) Status(context.Context) api.Status {
	return api.Status{Instance: "test-1", Ready: true, Leases: []string{"shardId-000000000001"}}
}

func newService(t *testing.T) service {
	t.Helper()
	e, err := alert.New(alert.Config{
		Rules:    []alert.RuleConfig{{Name: "gusty", Expr: "windGust >= 20", Severity: "warning", Locations: []string{"*"}, Channels: []string{"log"}}},
		Channels: map[string]alert.ChannelConfig{"log": {Type: "log"}},
		State:    alert.StateConfig{Driver: "memory"},
		Outbox:   testkit.Default[alert.OutboxConfig](t, "alerts.outbox"),
	}, locations, alert.Deps{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	vals := weather.Values{}
	vals.Set("windGust", 25)
	calm := weather.Values{}
	calm.Set("windGust", 3)
	err = e.Observe(context.Background(), []weather.Reading{
		weather.NewReading(locations[0], "simulated", at, at, vals),
		weather.NewReading(locations[1], "simulated", at, at, calm),
	})
	if err != nil {
		t.Fatal(err)
	}
	return service{e}
}

func TestHandler(t *testing.T) {
	svc := newService(t)
	withToken := api.Handler(svc, api.Auth{Token: token}, slog.New(slog.DiscardHandler))
	noToken := api.Handler(svc, api.Auth{}, slog.New(slog.DiscardHandler))
	authReads := api.Handler(svc, api.Auth{Token: token, Reads: true}, slog.New(slog.DiscardHandler))
	bearer := "Bearer " + token
	silence := `{"matchers":{"rule":"gusty"},"duration":"6h","comment":"storm week","created_by":"ana"}`

	tests := []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		auth    string
		body    string
		status  int
		want    string // in the body; for errors, the exact message
		isError bool
	}{
		{name: "AlertsAll", path: "/api/v1/alerts", status: 200, want: `"location": "toronto"`},
		{name: "AlertsByLocation", path: "/api/v1/alerts?location=sao-paulo", status: 200, want: "[]"},
		{name: "AlertsByRule", path: "/api/v1/alerts?rule=gusty&state=firing", status: 200, want: `"phase": "firing"`},
		{name: "AlertsByState", path: "/api/v1/alerts?state=pending", status: 200, want: "[]"},
		{name: "AlertsBadState", path: "/api/v1/alerts?state=loud", status: 400, isError: true,
			want: `state: got "loud", want one of pending, firing, predicted, updated, silenced, inhibited, acknowledged`},
		{name: "AlertsUnknownParameter", path: "/api/v1/alerts?locaton=toronto", status: 400, isError: true,
			want: `unknown query parameter "locaton" (want location, rule, state)`},
		{name: "AlertsBadLocation", path: "/api/v1/alerts?location=To%20ronto", status: 400, isError: true,
			want: `location: got "To ronto", want ` + weather.LocationIDRule},
		{name: "AlertsRepeatedParameter", path: "/api/v1/alerts?rule=a&rule=b", status: 400, isError: true, want: `query parameter "rule" given 2 times`},
		{name: "Locations", path: "/api/v1/locations", status: 200, want: `"name": "São Paulo"`},
		{name: "Status", path: "/api/v1/status", status: 200, want: `"leases": [` + "\n" + `    "shardId-000000000001"`},
		{name: "SilencesEmpty", path: "/api/v1/silences", status: 200, want: "[]"},
		{name: "NoSuchEndpoint", path: "/api/v1/alert", status: 404, isError: true, want: "no endpoint GET /api/v1/alert"},
		{name: "WrongMethod", method: "PUT", path: "/api/v1/silences", auth: bearer, status: 405, isError: true, want: "PUT /api/v1/silences: method not allowed (allowed: GET, POST)"},
		{name: "WrongMethodOnAnId", path: "/api/v1/silences/abc123", status: 405, isError: true, want: "GET /api/v1/silences/abc123: method not allowed (allowed: DELETE)"},
		{name: "WrongMethodOnAck", path: "/api/v1/alerts/toronto/gusty/ack", status: 405, isError: true, want: "GET /api/v1/alerts/toronto/gusty/ack: method not allowed (allowed: POST)"},

		{name: "WriteWithoutConfiguredToken", h: noToken, method: "POST", path: "/api/v1/silences", auth: bearer, body: silence, status: 403, isError: true, want: api.NoTokenMessage},
		{name: "WriteMissingToken", method: "POST", path: "/api/v1/silences", body: silence, status: 401, isError: true, want: `missing bearer token: send "Authorization: Bearer <token>"`},
		{name: "WriteWrongToken", method: "POST", path: "/api/v1/silences", auth: "Bearer " + token + "x", body: silence, status: 401, isError: true, want: "wrong bearer token"},
		{name: "WriteBasicAuth", method: "POST", path: "/api/v1/silences", auth: "Basic YTpi", body: silence, status: 401, isError: true, want: `the Authorization header must be "Bearer <token>"`},
		{name: "WriteRightToken", method: "POST", path: "/api/v1/silences", auth: bearer, body: silence, status: 201, want: `"state": "active"`},
		{name: "ReadsOpenByDefault", h: noToken, path: "/api/v1/silences", status: 200, want: `"created_by": "ana"`},
		{name: "ReadsNeedTokenWhenConfigured", h: authReads, path: "/api/v1/alerts", status: 401, isError: true, want: `missing bearer token: send "Authorization: Bearer <token>"`},
		{name: "ReadsWithToken", h: authReads, path: "/api/v1/alerts", auth: bearer, status: 200, want: `"rule": "gusty"`},

		{name: "UnknownField", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"matcher":{"rule":"gusty"},"duration":"1h"}`, status: 400, isError: true, want: `unknown field "matcher"`},
		{name: "BadTime", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"matchers":{"rule":"gusty"},"ends_at":"tomorrow"}`, status: 400, isError: true,
			want: `ends_at: got "tomorrow", want an RFC 3339 time such as 2026-12-02T18:00:00Z`},
		{name: "WrongType", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"matchers":{"rule":7},"duration":"1h"}`, status: 400, isError: true, want: `matchers.rule: got a JSON number, want a string`},
		{name: "BadDuration", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"matchers":{"rule":"gusty"},"duration":"6 hours"}`, status: 400, isError: true,
			want: `duration: got "6 hours", want a positive duration such as "6h" or "90m"`},
		{name: "NoMatchers", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"duration":"1h"}`, status: 400, isError: true,
			want: `matchers: at least one of rule, location and severity is required ("*" matches every alert)`},
		{name: "EndsBeforeStart", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"matchers":{"rule":"gusty"},"starts_at":"2030-01-02T00:00:00Z","ends_at":"2030-01-01T00:00:00Z"}`, status: 400, isError: true,
			want: `ends_at: 2030-01-01T00:00:00Z is not after starts_at 2030-01-02T00:00:00Z`},
		{name: "TrailingData", method: "POST", path: "/api/v1/silences", auth: bearer, body: silence + `{}`, status: 400, isError: true, want: "body: want one JSON object, got more after it"},
		{name: "EmptyBody", method: "POST", path: "/api/v1/silences", auth: bearer, status: 400, isError: true, want: "body: empty, want a JSON object"},
		{name: "BodyTooLarge", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"comment":"` + strings.Repeat("x", api.MaxBody) + `"}`, status: 413, isError: true, want: "body: larger than 65536 bytes"},
		{name: "LongComment", method: "POST", path: "/api/v1/silences", auth: bearer, body: `{"matchers":{"rule":"gusty"},"duration":"1h","comment":"` + strings.Repeat("x", 1025) + `"}`, status: 400, isError: true,
			want: "comment: got 1025 bytes, want at most 1024"},

		{name: "ExpireBadID", method: "DELETE", path: "/api/v1/silences/NOT-AN-ID", auth: bearer, status: 400, isError: true, want: `silence id: got "NOT-AN-ID", want 1-64 of a-z and 0-9`},
		{name: "ExpireUnknown", method: "DELETE", path: "/api/v1/silences/abc123", auth: bearer, status: 404, isError: true, want: `no silence "abc123"`},
		{name: "ExpireWithoutToken", method: "DELETE", path: "/api/v1/silences/abc123", status: 401, isError: true, want: `missing bearer token: send "Authorization: Bearer <token>"`},

		{name: "AckBadRule", method: "POST", path: "/api/v1/alerts/toronto/gu$ty/ack", auth: bearer, body: `{"by":"ana"}`, status: 400, isError: true, want: `rule: got "gu$ty", want a rule name`},
		{name: "AckUnknownRule", method: "POST", path: "/api/v1/alerts/toronto/calm/ack", auth: bearer, body: `{"by":"ana"}`, status: 404, isError: true, want: `no rule "calm" in alerts.rules`},
		{name: "AckNotFiring", method: "POST", path: "/api/v1/alerts/sao-paulo/gusty/ack", auth: bearer, body: `{"by":"ana"}`, status: 404, isError: true, want: `alert gusty at sao-paulo is not firing`},
		{name: "AckWithoutBy", method: "POST", path: "/api/v1/alerts/toronto/gusty/ack", auth: bearer, body: `{"comment":"x"}`, status: 400, isError: true, want: `by: required (who acknowledges)`},
		{name: "AckUnknownField", method: "POST", path: "/api/v1/alerts/toronto/gusty/ack", auth: bearer, body: `{"by":"ana","until":"1h"}`, status: 400, isError: true, want: `unknown field "until"`},
		{name: "Ack", method: "POST", path: "/api/v1/alerts/toronto/gusty/ack", auth: bearer, body: `{"by":"ana","comment":"on it"}`, status: 200, want: `"acknowledged": true`},
		{name: "AckedListed", path: "/api/v1/alerts?state=acknowledged", status: 200, want: `"by": "ana"`},
		{name: "SilencedListed", path: "/api/v1/alerts?state=silenced", status: 200, want: `"silenced": true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = withToken
			}
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", method, tt.path, rec.Code, body, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.isError {
				var e api.Error
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error != tt.want {
					t.Errorf("error body %s, want {\"error\": %q}", body, tt.want)
				}
				if tt.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if tt.status == 405 {
					if allow, want := rec.Header().Get("Allow"), strings.TrimSuffix(tt.want[strings.LastIndex(tt.want, "allowed: ")+len("allowed: "):], ")"); allow != want {
						t.Errorf("Allow = %q, want %q", allow, want)
					}
				}
				return
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("body %s lacks %s", body, tt.want)
			}
		})
	}
}

func TestHandler_ExpireSilence(t *testing.T) {
	svc := newService(t)
	h := api.Handler(svc, api.Auth{Token: token}, slog.New(slog.DiscardHandler))
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := do("POST", "/api/v1/silences", `{"matchers":{"location":"toronto"},"duration":"1h"}`)
	var s api.Silence
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || rec.Code != 201 || s.ID == "" || !(s.EndsAt.Sub(s.StartsAt) == time.Hour) {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	if rec := do("DELETE", "/api/v1/silences/"+s.ID, ""); rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("DELETE = %d %s, want 204 and no body", rec.Code, rec.Body)
	}
	var list []api.Silence
	rec = do("GET", "/api/v1/silences", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 1 || list[0].State != api.SilenceExpired {
		t.Fatalf("GET after DELETE = %s", rec.Body)
	}
	if rec := do("DELETE", "/api/v1/silences/"+s.ID, ""); rec.Code != 204 {
		t.Errorf("second DELETE = %d, want 204 (expiring an expired silence does nothing)", rec.Code)
	}
}
