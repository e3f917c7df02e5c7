// Package client calls a running weatherd's /api/v1, for the command line.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/secret"
)

// Timeout bounds one call, connection to last byte: the daemon answers from
// its state store within api.Timeout.
const Timeout = 15 * time.Second

// MaxResponse bounds what a response body may hold; a daemon with thousands
// of alerts answers well within it.
const MaxResponse = 8 << 20

// Client talks to one daemon.
type Client struct {
	base  *url.URL
	token secret.String
	http  *http.Client
}

// New returns a client for the daemon at base (http://host:port), sending
// token (when not empty) as the bearer token.
func New(base string, token secret.String) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url: got %q, want http://host:port or https://host:port", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("--url: got %q, want no user, query or fragment", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, token: token, http: &http.Client{Timeout: Timeout}}, nil
}

// StatusError is a non-2xx answer, with the daemon's message.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Alerts lists the alerts f selects.
func (c *Client) Alerts(ctx context.Context, f api.Filter) ([]api.Alert, error) {
	q := url.Values{}
	for k, v := range map[string]string{"location": f.Location, "rule": f.Rule, "state": f.State} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []api.Alert
	return out, c.do(ctx, http.MethodGet, "/api/v1/alerts", q, nil, &out)
}

// Locations lists the configured locations with their newest readings.
func (c *Client) Locations(ctx context.Context) ([]api.Location, error) {
	var out []api.Location
	return out, c.do(ctx, http.MethodGet, "/api/v1/locations", nil, nil, &out)
}

// Silences lists the silences the daemon keeps.
func (c *Client) Silences(ctx context.Context) ([]api.Silence, error) {
	var out []api.Silence
	return out, c.do(ctx, http.MethodGet, "/api/v1/silences", nil, nil, &out)
}

// AddSilence creates a silence.
func (c *Client) AddSilence(ctx context.Context, req api.SilenceRequest) (api.Silence, error) {
	var out api.Silence
	return out, c.do(ctx, http.MethodPost, "/api/v1/silences", nil, req, &out)
}

// ExpireSilence ends a silence now.
func (c *Client) ExpireSilence(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(id), nil, nil, nil)
}

// Ack acknowledges the firing alert of rule at location.
func (c *Client) Ack(ctx context.Context, location, rule string, req api.AckRequest) (api.Alert, error) {
	var out api.Alert
	p := "/api/v1/alerts/" + url.PathEscape(location) + "/" + url.PathEscape(rule) + "/ack"
	return out, c.do(ctx, http.MethodPost, p, nil, req, &out)
}

// Status is the daemon's view of itself.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var out api.Status
	return out, c.do(ctx, http.MethodGet, "/api/v1/status", nil, nil, &out)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The error names the URL, never the token (it travels in a header).
		return fmt.Errorf("%s %s: %w", method, path, unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if len(b) > MaxResponse {
		return fmt.Errorf("%s %s: answer larger than %d bytes", method, path, MaxResponse)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Status: resp.StatusCode, Message: errorMessage(b)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// errorMessage is the api.Error the daemon sent, or the start of whatever
// else answered (a proxy's HTML page, say).
func errorMessage(b []byte) string {
	var e api.Error
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(no message)"
	}
	return s
}

// unwrapURL drops url.Error's quoting of the whole URL, keeping its cause.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
