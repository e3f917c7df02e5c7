// Package tomorrowio fetches current observations from the Tomorrow.io v4
// realtime API and turns them into reading events.
package tomorrowio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/provider"
	"github.com/weatherd/weatherd/pkg/provider/httpx"
	"github.com/weatherd/weatherd/pkg/secret"
	"github.com/weatherd/weatherd/pkg/weather"
)

// Name is the provider's name in readings and metric labels.
const Name = "tomorrowio"

// Client fetches realtime observations from Tomorrow.io.
type Client struct {
	base  string
	units string
	key   secret.String
	http  *httpx.Client
	log   *slog.Logger
}

var _ provider.Provider = (*Client)(nil)

// New returns a client for cfg, which Validate accepted. The key comes from
// cfg.APIKey or is read from cfg.APIKeyFile; timeout bounds each HTTP
// attempt. opts are for tests.
func New(cfg Config, timeout time.Duration, reg prometheus.Registerer, log *slog.Logger, opts ...httpx.Option) (*Client, error) {
	key := cfg.APIKey
	if cfg.APIKeyFile != "" {
		var err error
		key, err = secret.ReadFile(cfg.APIKeyFile)
		switch {
		case errors.Is(err, secret.ErrEmptyFile):
			return nil, fmt.Errorf("tomorrowio: api_key_file %s is empty", cfg.APIKeyFile)
		case err != nil:
			return nil, fmt.Errorf("tomorrowio: read api_key_file: %w", err)
		}
	}
	if key.IsZero() {
		return nil, errors.New("tomorrowio: no API key (set poller.tomorrowio.api_key or api_key_file)")
	}
	var ps check.Problems
	cfg.Validate("poller.tomorrowio", &ps)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("tomorrowio: %w", err)
	}
	log = log.With("component", "provider", "provider", Name)
	hc, err := httpx.New(httpx.Config{
		Provider:     Name,
		Timeout:      timeout,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Attempts:     cfg.Attempts,
		Limits:       cfg.Limits,
		Secrets:      []string{key.Reveal()},
		ErrorMessage: errorMessage,
	}, reg, log, opts...)
	if err != nil {
		return nil, fmt.Errorf("tomorrowio: %w", err)
	}
	c := &Client{
		base:  strings.TrimRight(cfg.BaseURL, "/"),
		units: cfg.Units,
		key:   key,
		http:  hc,
		log:   log,
	}
	return c, nil
}

// Name implements provider.Provider.
func (c *Client) Name() string { return Name }

// Fetch gets the current observation of loc.
func (c *Client) Fetch(ctx context.Context, loc weather.Location) (weather.Reading, error) {
	q := url.Values{}
	q.Set("location", coord(loc.Lat)+","+coord(loc.Lon))
	q.Set("units", c.units)
	h := http.Header{}
	h.Set("apikey", c.key.Reveal())
	body, err := c.http.Get(ctx, "GET /weather/realtime", c.base+"/weather/realtime?"+q.Encode(), h)
	if err != nil {
		return weather.Reading{}, fmt.Errorf("tomorrowio %s: %w", loc.ID, err)
	}
	obs, err := Parse(body)
	if err != nil {
		return weather.Reading{}, fmt.Errorf("tomorrowio %s: %w", loc.ID, err)
	}
	if len(obs.Warnings) > 0 {
		c.log.Debug("API warnings", "location", loc.ID, "warnings", secret.NewRedactor(c.key.Reveal()).Redact(string(obs.Warnings)))
	}
	if c.units == UnitsImperial {
		ToMetric(&obs.Values)
	}
	return weather.NewReading(loc, Name, obs.Time, c.http.Now(), obs.Values), nil
}

func coord(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// Observation is a parsed realtime response.
type Observation struct {
	Time   time.Time
	Values weather.Values
	// Warnings is the raw warnings[] array, if any.
	Warnings json.RawMessage
}

type response struct {
	Data *struct {
		Time   string                     `json:"time"`
		Values map[string]json.RawMessage `json:"values"`
	} `json:"data"`
	Warnings json.RawMessage `json:"warnings"`
}

// valueName is what weather.Decode accepts as a value name; other names are
// skipped so one odd field cannot make the whole reading poison.
var valueName = regexp.MustCompile(`^[a-z][A-Za-z0-9]{0,63}$`)

var null = []byte("null")

// Parse reads a realtime response body. Null values are kept as nulls, any
// numeric value is kept (also ones this version does not know), non-numeric
// ones are skipped. Malformed JSON or a missing data.time is ErrBadResponse.
func Parse(body []byte) (Observation, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return Observation{}, fmt.Errorf("%w: realtime response is not JSON of the expected shape: %v", provider.ErrBadResponse, err)
	}
	if r.Data == nil {
		return Observation{}, fmt.Errorf("%w: realtime response has no data object", provider.ErrBadResponse)
	}
	if r.Data.Time == "" {
		return Observation{}, fmt.Errorf("%w: realtime response has no data.time", provider.ErrBadResponse)
	}
	t, err := time.Parse(time.RFC3339, r.Data.Time)
	if err != nil {
		return Observation{}, fmt.Errorf("%w: realtime data.time %q is not an RFC 3339 time", provider.ErrBadResponse, r.Data.Time)
	}
	vals := parseValues(r.Data.Values)
	if len(r.Warnings) > 0 && (bytes.Equal(bytes.TrimSpace(r.Warnings), null) || string(bytes.TrimSpace(r.Warnings)) == "[]") {
		r.Warnings = nil
	}
	return Observation{Time: t.UTC(), Values: vals, Warnings: r.Warnings}, nil
}

// parseValues keeps null values as nulls and any numeric value (also ones
// this version does not know); names that are not value names and
// non-numeric values are skipped.
func parseValues(raws map[string]json.RawMessage) weather.Values {
	var vals weather.Values
	for name, raw := range raws {
		if !valueName.MatchString(name) {
			continue
		}
		raw = bytes.TrimSpace(raw)
		if bytes.Equal(raw, null) {
			vals.SetNull(name)
			continue
		}
		if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
			continue // a string, bool, object or array
		}
		x, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			continue
		}
		vals.Set(name, x)
	}
	return vals
}

// apiError is Tomorrow.io's error body.
type apiError struct {
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorMessage turns an error body into "Invalid Auth (401001): message".
func errorMessage(body []byte) string {
	var e apiError
	if json.Unmarshal(body, &e) != nil || (e.Code == 0 && e.Type == "" && e.Message == "") {
		return ""
	}
	return fmt.Sprintf("%s (%d): %s", e.Type, e.Code, e.Message)
}
