package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/pkg/api"
)

func TestNew_URL(t *testing.T) {
	for url, want := range map[string]string{
		"http://127.0.0.1:9108":     "",
		"https://weatherd.example/": "",
		"127.0.0.1:9108":            `--url: got "127.0.0.1:9108", want http://host:port`,
		"ftp://x":                   `--url: got "ftp://x", want http://host:port`,
		"http://u:pw@host:1":        `--url: got "http://u:xxxxx@host:1", want no user, query or fragment`,
		"http://host:1/?token=oops": `want no user, query or fragment`,
		"http://[::1":               `--url: got "http://[::1", want http://host:port`,
	} {
		_, err := New(url, "")
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", url, err, want)
		}
	}
}

func TestClient_Do(t *testing.T) {
	var gotAuth, gotPath, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.RequestURI()
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		switch r.URL.Path {
		case "/api/v1/silences":
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"abc","state":"active","matchers":{"rule":"x"}}`)
		case "/api/v1/silences/abc":
			w.WriteHeader(http.StatusNoContent)
		case "/api/v1/alerts":
			io.WriteString(w, `[{"rule":"r","location":"oslo","phase":"firing"}]`)
		case "/api/v1/alerts/s%C3%A3o/r%2Fx/ack":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"wrong bearer token"}`)
		case "/api/v1/locations":
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>\n<body>bad   gateway</body></html>")
		case "/api/v1/status":
			io.WriteString(w, `{"instance":"`+strings.Repeat("x", MaxResponse)+`"}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := New(srv.URL+"/", "tok")
	if err != nil {
		t.Fatal(err)
	}

	s, err := c.AddSilence(ctx, api.SilenceRequest{Matchers: api.Matchers{Rule: "x"}, Duration: "1h"})
	if err != nil || s.ID != "abc" || gotAuth != "Bearer tok" || gotBody != `{"matchers":{"rule":"x"},"duration":"1h"}` {
		t.Errorf("AddSilence: %+v %v; sent %q %q", s, err, gotAuth, gotBody)
	}
	if err := c.ExpireSilence(ctx, "abc"); err != nil || gotPath != "/api/v1/silences/abc" {
		t.Errorf("ExpireSilence: %v (%s)", err, gotPath)
	}
	a, err := c.Alerts(ctx, api.Filter{Location: "oslo", State: "firing"})
	if err != nil || len(a) != 1 || gotPath != "/api/v1/alerts?location=oslo&state=firing" {
		t.Errorf("Alerts: %+v %v (%s)", a, err, gotPath)
	}
	_, err = c.Ack(ctx, "são", "r/x", api.AckRequest{By: "ana"})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 || err.Error() != "401 Unauthorized: wrong bearer token" {
		t.Errorf("Ack: %v", err)
	}
	if _, err = c.Locations(ctx); err == nil || err.Error() != "502 Bad Gateway: <html> <body>bad gateway</body></html>" {
		t.Errorf("Locations: %v", err)
	}
	if _, err = c.Status(ctx); err == nil || !strings.Contains(err.Error(), "answer larger than") {
		t.Errorf("Status: %v", err)
	}
	if strings.Contains(srv.URL, "tok") {
		t.Fatal("test server URL holds the token")
	}
}
