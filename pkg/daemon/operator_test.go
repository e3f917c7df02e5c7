package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/weatherd/weatherd/pkg/alert"
	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/bootstrap"
	"github.com/weatherd/weatherd/pkg/internal/emulator"
	"github.com/weatherd/weatherd/pkg/weather"
)

// hookMsg is what the test's webhook receiver keeps of a notification.
type hookMsg struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Kind       string `json:"kind"`
	Rule       string `json:"rule"`
	LocationID string `json:"location_id"`
	AckBy      string `json:"ack_by"`
}

func (m hookMsg) String() string {
	s := m.State + " " + m.Rule + "@" + m.LocationID
	if m.AckBy != "" {
		s += " ack " + m.AckBy
	}
	return s
}

type hookReceiver struct {
	mu   sync.Mutex
	msgs []hookMsg
	srv  *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m hookMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []string{}
	for _, m := range h.msgs {
		out = append(out, m.String())
	}
	return out
}

// call makes one API request and decodes a 2xx answer into out (when not nil).
func (in *instance) call(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode/100 != 2 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (in *instance) alertAt(t *testing.T, loc, rule string) (api.Alert, bool) {
	t.Helper()
	var as []api.Alert
	if code := in.call(t, "GET", "/api/v1/alerts?location="+loc+"&rule="+rule, "", nil, &as); code != 200 || len(as) > 1 {
		t.Fatalf("GET alerts: %d %+v", code, as)
	}
	if len(as) == 0 {
		return api.Alert{}, false
	}
	return as[0], true
}

// lastReading is the newest observation time the instance reports for loc.
func (in *instance) lastReading(t *testing.T, loc string) time.Time {
	t.Helper()
	var ls []api.Location
	if code := in.call(t, "GET", "/api/v1/locations", "", nil, &ls); code != 200 {
		t.Fatalf("GET locations: %d", code)
	}
	for _, l := range ls {
		if l.ID == loc {
			return l.LastReadingAt
		}
	}
	return time.Time{}
}

// TestDaemon_OperatorAPIAcrossReplicas runs two consumer-only replicas on a
// 2-shard stream with DynamoDB alert state and a webhook channel. Silences
// and acks are made through replica A for a location whose shard replica B
// consumes: the silence mutes B's notification, expiring it sends exactly
// one, an acknowledged alert sends no repeat and its resolved notice names
// who acknowledged, and inhibition mutes the target while the source fires
// and releases it once the source resolves.
func TestDaemon_OperatorAPIAcrossReplicas(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	const token = "replica-test-token-0123456789"
	hook := newHookReceiver(t)
	base := consumerOnly(t, t.TempDir())
	// consumerOnly made a one-shard stream: a fresh pair of names gets two.
	base.Stream.Kinesis.Name = emulator.Name(t, "readings-2")
	base.Consumer.ApplicationName = emulator.Name(t, "leases-2")
	base.Stream.Kinesis.Shards = 2
	base.Consumer.TakeInterval = 500 * time.Millisecond
	base.HTTP.API.Token = token
	for i := range 8 {
		base.Locations = append(base.Locations, weather.Location{ID: fmt.Sprintf("loc-%d", i), Name: fmt.Sprintf("Place %d", i), Lat: 1, Lon: 2})
	}
	base.Alerts.Rules = []alert.RuleConfig{
		{Name: "strong-wind", Expr: "windGust >= 20", Clear: "windGust < 14", Repeat: 10 * time.Minute, Severity: "warning", Locations: []string{"*"}, Channels: []string{"hook"}},
		{Name: "thunderstorm", Expr: "weatherCode == 8000", Severity: "critical", Locations: []string{"*"}, Channels: []string{"hook"}},
	}
	base.Alerts.Channels = map[string]alert.ChannelConfig{"hook": {Type: "webhook", URL: hook.srv.URL, Secret: "hook-secret", Timeout: 5 * time.Second}}
	base.Alerts.Inhibit = []alert.InhibitConfig{{Source: alert.MatcherConfig{Rule: "thunderstorm"}, Target: alert.MatcherConfig{Rule: "strong-wind|heavy-*"}, Equal: []string{"location"}}}
	base.Alerts.Outbox.MaxBackoff = time.Second
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := bootstrap.Run(ctx, base, io.Discard, slog.Default()); err != nil {
		t.Fatal(err)
	}
	replica := func(id string) *instance {
		c := *base
		c.Consumer.WorkerID = id
		c.Lake.URL = "file://" + t.TempDir()
		return start(t, id, &c)
	}
	a, b := replica("replica-a"), replica("replica-b")
	var leasesB []string
	waitUntil(t, "each replica holding one shard", 60*time.Second, func() bool {
		var sa, sb api.Status
		a.call(t, "GET", "/api/v1/status", "", nil, &sa)
		b.call(t, "GET", "/api/v1/status", "", nil, &sb)
		leasesB = sb.Leases
		return len(sa.Leases) == 1 && len(sb.Leases) == 1 && sa.Instance == "replica-a"
	})

	// A location whose records land on B's shard (calm readings decide it).
	kin := emulator.Kinesis(t)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	put := func(loc string, min int, gust, code float64) string {
		t.Helper()
		v := weather.Values{}
		v.Set("windGust", gust)
		v.Set("weatherCode", code)
		at := t0.Add(time.Duration(min) * time.Minute)
		data, err := weather.NewReading(weather.Location{ID: loc, Name: loc, Lat: 1, Lon: 2}, "tomorrowio", at, at, v).Encode()
		if err != nil {
			t.Fatal(err)
		}
		out, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(base.Stream.Kinesis.Name), PartitionKey: aws.String(loc), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ShardId)
	}
	processed := func(loc string, min int) {
		t.Helper()
		at := t0.Add(time.Duration(min) * time.Minute)
		waitUntil(t, fmt.Sprintf("B evaluated %s's reading at +%dm", loc, min), 30*time.Second, func() bool { return !b.lastReading(t, loc).Before(at) })
	}
	loc := ""
	for i := range 8 {
		l := fmt.Sprintf("loc-%d", i)
		if slices.Contains(leasesB, put(l, 0, 3, 1000)) {
			loc = l
			break
		}
	}
	if loc == "" {
		t.Fatalf("no location of 8 hashes to B's shard %v", leasesB)
	}
	processed(loc, 0)

	// 1. A silence created through A mutes what B's shard produces.
	var s api.Silence
	if code := a.call(t, "POST", "/api/v1/silences", token, api.SilenceRequest{Matchers: api.Matchers{Rule: "strong-wind", Location: loc}, Duration: "1h", CreatedBy: "ana"}, &s); code != 201 {
		t.Fatalf("POST silence through A: %d", code)
	}
	put(loc, 1, 25, 1000)
	processed(loc, 1)
	al, ok := a.alertAt(t, loc, "strong-wind")
	if !ok || al.Phase != "firing" || !al.Silenced || al.Suppressed != 1 || !slices.Equal(al.SilencedBy, []string{s.ID}) {
		t.Fatalf("A's view of the alert B's shard fired = %+v, want firing, silenced by %s, 1 suppressed", al, s.ID)
	}
	if got := b.metric(t, `weatherd_alert_notifications_suppressed_total{reason="silenced"}`); got != 1 {
		t.Errorf("B: suppressed{silenced} = %v, want 1", got)
	}
	var ss []api.Silence
	b.call(t, "GET", "/api/v1/silences", "", nil, &ss)
	if len(ss) != 1 || ss[0].ID != s.ID || ss[0].Suppressed != 1 || ss[0].State != "active" {
		t.Errorf("B's silences = %+v, want the one made through A, 1 suppressed", ss)
	}
	if got := hook.got(); len(got) != 0 {
		t.Fatalf("notifications while silenced: %q", got)
	}

	// 2. Expiring it (through A) sends exactly one notification.
	if code := a.call(t, "DELETE", "/api/v1/silences/"+s.ID, token, nil, nil); code != 204 {
		t.Fatalf("DELETE silence: %d", code)
	}
	put(loc, 2, 25, 1000)
	waitUntil(t, "the notification owed after the silence", 30*time.Second, func() bool { return len(hook.got()) >= 1 })
	put(loc, 3, 25, 1000)
	processed(loc, 3)
	time.Sleep(1500 * time.Millisecond) // a sweep or a redelivery would show by now
	if got, want := hook.got(), []string{"firing strong-wind@" + loc}; !slices.Equal(got, want) {
		t.Fatalf("after expiry: %q, want %q (exactly one)", got, want)
	}

	// 3. Acknowledged through A: no repeat, and the all-clear names who.
	var acked api.Alert
	if code := a.call(t, "POST", "/api/v1/alerts/"+loc+"/strong-wind/ack", token, api.AckRequest{By: "ana", Comment: "crew out"}, &acked); code != 200 || !acked.Acknowledged {
		t.Fatalf("ack: %d %+v", code, acked)
	}
	put(loc, 13, 25, 1000) // 11 minutes after the last notice: a repeat is due
	processed(loc, 13)
	waitUntil(t, "the repeat counted as suppressed", 10*time.Second, func() bool {
		al, _ := a.alertAt(t, loc, "strong-wind")
		return al.Suppressed == 2 && al.Acknowledged
	})
	put(loc, 14, 5, 1000)
	waitUntil(t, "the resolved notice", 30*time.Second, func() bool { return len(hook.got()) >= 2 })
	if got := hook.got(); got[1] != "resolved strong-wind@"+loc+" ack ana" {
		t.Fatalf("second notification %q, want the resolved notice naming ana", got[1])
	}

	// 4. Inhibition: the storm mutes the wind while it lasts.
	put(loc, 20, 25, 8000)
	waitUntil(t, "the thunderstorm notice", 30*time.Second, func() bool { return len(hook.got()) >= 3 })
	processed(loc, 20)
	al, _ = a.alertAt(t, loc, "strong-wind")
	if al.Phase != "firing" || !al.Inhibited || al.InhibitedBy != "thunderstorm@"+loc || al.Acknowledged {
		t.Fatalf("target while the source fires = %+v", al)
	}
	put(loc, 21, 25, 1000)
	waitUntil(t, "the storm's all-clear and the wind's notice", 30*time.Second, func() bool { return len(hook.got()) >= 5 })
	got := hook.got()
	if got[2] != "firing thunderstorm@"+loc {
		t.Errorf("third notification %q, want the thunderstorm firing", got[2])
	}
	rest := slices.Sorted(slices.Values(got[3:]))
	if want := []string{"firing strong-wind@" + loc, "resolved thunderstorm@" + loc}; !slices.Equal(rest, want) {
		t.Errorf("after the storm: %q, want %q", rest, want)
	}
	if got := b.metric(t, `weatherd_alert_notifications_suppressed_total{reason="inhibited"}`); got != 1 {
		t.Errorf("B: suppressed{inhibited} = %v, want 1", got)
	}
	if got := b.metric(t, `weatherd_alert_notifications_suppressed_total{reason="acknowledged"}`); got != 1 {
		t.Errorf("B: suppressed{acknowledged} = %v, want 1", got)
	}
	t.Logf("notifications: %s", strings.Join(hook.got(), "; "))
}
