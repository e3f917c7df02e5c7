package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weatherd/weatherd/pkg/weather"
)

// apiKey is the key weatherd sends to the fake Tomorrow.io.
const apiKey = "e2e-test-key-0123456789"

// base is the observation time of every location's first step. It sits ten
// minutes before midnight so the readings cross an hour and a day partition.
var base = time.Date(2026, 11, 26, 23, 50, 0, 0, time.UTC)

// site is one polled location.
type site struct {
	weather.Location
	// alert marks the locations whose gusts cross the strong-wind threshold.
	alert bool
}

// sites returns n locations. Every fourth one has gusts that fire and later
// resolve the strong-wind rule; every seventh has a name with accents (the
// email subject and SMS must be transliterated).
func sites(n int) []site {
	out := make([]site, n)
	for i := range out {
		name := fmt.Sprintf("Place %02d", i)
		if i%7 == 3 {
			name = fmt.Sprintf("São Città %02d", i)
		}
		out[i] = site{
			Location: weather.Location{
				ID:   fmt.Sprintf("loc-%02d", i),
				Name: name,
				Lat:  -40 + float64(i)*1.25,
				Lon:  -70 + float64(i)*2.5,
			},
			alert: i%4 == 0,
		}
	}
	return out
}

// Thresholds of the strong-wind rule the tests configure.
const (
	fireGust  = 17.2 // windGust >= 17.2 fires
	clearGust = 14.0 // windGust < 14 (and windSpeed < 11) clears
)

// gust is the wind gust location i reports at observation step n. Alerting
// locations have a storm every 12 steps, the first at step 2+i%5: four
// steps at 20 m/s (fires), one at 15 m/s (between the thresholds: still
// firing), then calm (resolves); every eighth location also has a one-step
// spike to 22.5 m/s half-way between storms. Other locations stay calm, with
// a null gust now and then.
func gust(i, n int, alert bool) *float64 {
	if n%11 == 5 && !alert {
		return nil
	}
	g := 4 + float64(i%7)*0.5
	if s := 2 + i%5; alert && n >= s {
		switch phase := (n - s) % 12; {
		case phase < 4:
			g = 20
		case phase == 4:
			g = 15
		case phase == 8 && i%8 == 0:
			g = 22.5
		}
	}
	return &g
}

// values is the observation location i reports at step n, in Tomorrow.io's
// realtime shape (metric units).
func values(i, n int, alert bool) map[string]*float64 {
	f := func(x float64) *float64 { return &x }
	v := map[string]*float64{
		"temperature":              f(math.Round((10+float64(i)*0.1+float64(n)*0.01)*100) / 100),
		"temperatureApparent":      f(9.5),
		"humidity":                 f(float64(50 + (i+n)%40)),
		"windSpeed":                f(3),
		"windGust":                 gust(i, n, alert),
		"windDirection":            f(float64((i * 17) % 360)),
		"rainIntensity":            f(0),
		"precipitationProbability": f(0),
		"pressureSurfaceLevel":     f(1013.25),
		"cloudCover":               f(float64(i % 100)),
		"cloudBase":                nil,
		"cloudCeiling":             nil,
		"visibility":               f(16),
		"weatherCode":              f(1001),
		"uvIndex":                  f(0),
		"uvHealthConcern":          f(0),
	}
	if i%3 == 0 {
		v["cloudBase"] = f(0.8)
	}
	return v
}

// answer is what the fake does with one request.
type answer int

const (
	answerOK answer = iota
	answer500
	answer429RetryAfter   // 429 with Retry-After: 1
	answer429NoRetryAfter // 429 without Retry-After (the client stops for a minute)
)

// served is one observation the fake answered with.
type served struct {
	site   int
	step   int
	values map[string]*float64
}

// fakeTomorrow serves GET /v4/weather/realtime for a fixed set of sites. A
// site's observation advances one minute every perStep successful answers,
// so every step is answered at least once and a poller sees each one.
type fakeTomorrow struct {
	srv     *httptest.Server
	sites   []site
	byCoord map[string]int
	perStep int
	// faults decides the answer to the nth request (0-based, all sites).
	faults func(n int) answer

	mu        sync.Mutex
	requests  int
	answered  []int                  // successful answers per site
	served    map[string]served      // by event id
	counts    map[answer]int         // answers by kind
	exhausted bool                   // every request gets a 429 without Retry-After
	lastAt    time.Time              // time of the latest request
	exhaustAt time.Time              // when the first exhausted 429 went out
	after     []time.Time            // requests after exhaustAt
	byStatus  map[int]int            // HTTP statuses sent
	steps     map[string][]time.Time // every time each event id was served
}

func newFakeTomorrow(t *testing.T, ss []site, perStep int, faults func(n int) answer) *fakeTomorrow {
	t.Helper()
	f := &fakeTomorrow{
		sites:    ss,
		byCoord:  make(map[string]int, len(ss)),
		perStep:  perStep,
		faults:   faults,
		answered: make([]int, len(ss)),
		served:   make(map[string]served),
		counts:   make(map[answer]int),
		byStatus: make(map[int]int),
		steps:    make(map[string][]time.Time),
	}
	for i, s := range ss {
		f.byCoord[coordKey(s.Lat, s.Lon)] = i
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func coordKey(lat, lon float64) string {
	return strconv.FormatFloat(lat, 'f', 4, 64) + "," + strconv.FormatFloat(lon, 'f', 4, 64)
}

func (f *fakeTomorrow) handle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet || r.URL.Path != "/v4/weather/realtime" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":404001,"type":"Not Found","message":"The requested resource does not exist."}`)
		return
	}
	if r.Header.Get("apikey") != apiKey || r.URL.Query().Get("apikey") != "" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":401001,"type":"Invalid Auth","message":"The method requires authentication but it was not presented or is invalid."}`)
		return
	}
	if u := r.URL.Query().Get("units"); u != "metric" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code":400001,"type":"Invalid Body Parameters","message":"units %q"}`, u)
		return
	}
	idx := -1
	if lat, lon, ok := strings.Cut(r.URL.Query().Get("location"), ","); ok {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lon, 64)
		if i, found := f.byCoord[coordKey(la, lo)]; found && err1 == nil && err2 == nil {
			idx = i
		}
	}
	if idx < 0 {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":400001,"type":"Invalid Body Parameters","message":"unknown location"}`)
		return
	}

	f.mu.Lock()
	n := f.requests
	f.requests++
	now := time.Now()
	f.lastAt = now
	a := answerOK
	switch {
	case f.exhausted:
		a = answer429NoRetryAfter
		if f.exhaustAt.IsZero() {
			f.exhaustAt = now
		} else {
			f.after = append(f.after, now)
		}
	case f.faults != nil:
		a = f.faults(n)
	}
	f.counts[a]++
	var body []byte
	status := http.StatusOK
	switch a {
	case answer500:
		status = http.StatusInternalServerError
		body = []byte(`{"code":500000,"type":"Internal Server Error","message":"Internal server error"}`)
	case answer429RetryAfter:
		w.Header().Set("Retry-After", "1")
		status = http.StatusTooManyRequests
		body = []byte(`{"code":429001,"type":"Too Many Calls","message":"The request limit for this resource has been reached for the current rate limit window."}`)
	case answer429NoRetryAfter:
		status = http.StatusTooManyRequests
		body = []byte(`{"code":429001,"type":"Too Many Calls","message":"The request limit for this resource has been reached for the current rate limit window."}`)
	default:
		s := f.sites[idx]
		step := f.answered[idx] / f.perStep
		f.answered[idx]++
		at := base.Add(time.Duration(step) * time.Minute)
		vals := values(idx, step, s.alert)
		id := weather.EventID(s.ID, at)
		if _, ok := f.served[id]; !ok {
			f.served[id] = served{site: idx, step: step, values: vals}
		}
		f.steps[id] = append(f.steps[id], now)
		body = realtimeBody(at, vals, s.Lat, s.Lon)
	}
	f.byStatus[status]++
	f.mu.Unlock()
	w.WriteHeader(status)
	w.Write(body)
}

// realtimeBody is a realtime answer in Tomorrow.io's shape.
func realtimeBody(at time.Time, vals map[string]*float64, lat, lon float64) []byte {
	doc := map[string]any{
		"data": map[string]any{
			"time":   at.UTC().Format(time.RFC3339),
			"values": vals,
		},
		"location": map[string]any{"lat": lat, "lon": lon},
	}
	b, _ := json.Marshal(doc)
	return b
}

// exhaust makes every later request a 429 without Retry-After.
func (f *fakeTomorrow) exhaust() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exhausted = true
}

// snapshot copies what the fake served so far.
func (f *fakeTomorrow) snapshot() map[string]served {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]served, len(f.served))
	for k, v := range f.served {
		out[k] = v
	}
	return out
}

// servedAt returns the times the fake answered with observation id.
func (f *fakeTomorrow) servedAt(id string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.steps[id]...)
}

// stats is the fake's request accounting.
type fakeStats struct {
	requests  int
	byAnswer  map[answer]int
	exhaustAt time.Time
	lastAt    time.Time
}

func (f *fakeTomorrow) stats() fakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := fakeStats{requests: f.requests, byAnswer: map[answer]int{}, exhaustAt: f.exhaustAt, lastAt: f.lastAt}
	for k, v := range f.counts {
		st.byAnswer[k] = v
	}
	return st
}

// transition is one alert state change a subscriber must hear about once.
type transition struct {
	location string
	state    string // firing | resolved
	observed time.Time
}

func (tr transition) String() string {
	return tr.location + " " + tr.state + " at " + tr.observed.UTC().Format(time.RFC3339)
}

// expectedTransitions runs the strong-wind rule (for: 0s, with hysteresis)
// over every site's served steps in order.
func expectedTransitions(ss []site, obs map[string]served) []transition {
	steps := make(map[int][]int)
	for _, o := range obs {
		steps[o.site] = append(steps[o.site], o.step)
	}
	var out []transition
	for i, s := range ss {
		sort.Ints(steps[i])
		firing := false
		for _, n := range steps[i] {
			g := gust(i, n, s.alert)
			switch {
			case !firing && g != nil && *g >= fireGust:
				firing = true
				out = append(out, transition{s.ID, "firing", base.Add(time.Duration(n) * time.Minute)})
			case firing && g != nil && *g < clearGust:
				firing = false
				out = append(out, transition{s.ID, "resolved", base.Add(time.Duration(n) * time.Minute)})
			}
		}
	}
	return out
}

// notification is one SNS Notification the subscriber received.
type notification struct {
	messageID  string
	subject    string
	texts      map[string]string // default, email, sms
	attributes map[string]string
	received   time.Time
}

// subscriber is an HTTP endpoint subscribed to the alert topic.
type subscriber struct {
	srv *httptest.Server

	mu            sync.Mutex
	confirmations int
	notes         []notification
	bad           []string
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var env struct {
		Type              string
		MessageId         string
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err == nil {
		err = json.Unmarshal(body, &env)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.bad = append(s.bad, fmt.Sprintf("undecodable POST: %v: %.200s", err, body))
		return
	}
	switch env.Type {
	case "SubscriptionConfirmation":
		s.confirmations++
	case "Notification":
		n := notification{messageID: env.MessageId, subject: env.Subject, attributes: map[string]string{}, received: time.Now()}
		if err := json.Unmarshal([]byte(env.Message), &n.texts); err != nil {
			s.bad = append(s.bad, fmt.Sprintf("notification %s: Message is not the MessageStructure=json document: %v: %.200s", env.MessageId, err, env.Message))
			return
		}
		for k, v := range env.MessageAttributes {
			n.attributes[k] = v.Value
		}
		s.notes = append(s.notes, n)
	default:
		s.bad = append(s.bad, fmt.Sprintf("unexpected SNS message type %q", env.Type))
	}
}

func (s *subscriber) notifications() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.notes...)
}

func (s *subscriber) problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

// minStep is the lowest observation step every site has reached.
func (f *fakeTomorrow) minStep() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := -1
	for _, n := range f.answered {
		if st := n / f.perStep; m < 0 || st < m {
			m = st
		}
	}
	return m
}

// lateRequests counts the requests that arrived more than grace after the
// first 429 without Retry-After.
func (f *fakeTomorrow) lateRequests(grace time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, at := range f.after {
		if at.Sub(f.exhaustAt) > grace {
			n++
		}
	}
	return n
}
