package testkit

import (
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// exposition is a small /metrics page the way client_golang prints one, plus
// the corners of the format: a timestamp, a label value holding '}', ',', a
// space and an escaped quote, +Inf, -Inf and NaN.
const exposition = `# HELP weatherd_lake_objects_written_total Objects written.
# TYPE weatherd_lake_objects_written_total counter
weatherd_lake_objects_written_total{kind="gold"} 3
weatherd_lake_objects_written_total{kind="raw"} 4
weatherd_lake_objects_written_total{kind="errors"} 0

# TYPE weatherd_notifications_total counter
weatherd_notifications_total{channel="sns",outcome="sent"} 7
weatherd_notifications_total{channel="sns",outcome="failed"} 2
weatherd_notifications_total{channel="webhook",outcome="sent"} 5
weatherd_notifications_total{channel="log",xoutcome="sent"} 100
# TYPE weatherd_readings_produced_total counter
weatherd_readings_produced_total 1.5e+06
# TYPE weatherd_flush_seconds histogram
weatherd_flush_seconds_bucket{kind="gold",le="0.1"} 1
weatherd_flush_seconds_bucket{kind="gold",le="1"} 4
weatherd_flush_seconds_bucket{kind="gold",le="+Inf"} 5
weatherd_flush_seconds_sum{kind="gold"} 2.25
weatherd_flush_seconds_count{kind="gold"} 5
weatherd_odd{path="/a b}, \"c\"",code="200"} -Inf
weatherd_ceiling +Inf
weatherd_ratio NaN
weatherd_stamped{x="1"} 42 1700000000000
`

func TestParse(t *testing.T) {
	m, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(m["weatherd_ratio"]) {
		t.Errorf("weatherd_ratio = %v, want NaN", m["weatherd_ratio"])
	}
	delete(m, "weatherd_ratio")
	want := Metrics{
		`weatherd_lake_objects_written_total{kind="gold"}`:               3,
		`weatherd_lake_objects_written_total{kind="raw"}`:                4,
		`weatherd_lake_objects_written_total{kind="errors"}`:             0,
		`weatherd_notifications_total{channel="sns",outcome="sent"}`:     7,
		`weatherd_notifications_total{channel="sns",outcome="failed"}`:   2,
		`weatherd_notifications_total{channel="webhook",outcome="sent"}`: 5,
		`weatherd_notifications_total{channel="log",xoutcome="sent"}`:    100,
		`weatherd_readings_produced_total`:                               1.5e6,
		`weatherd_flush_seconds_bucket{kind="gold",le="0.1"}`:            1,
		`weatherd_flush_seconds_bucket{kind="gold",le="1"}`:              4,
		`weatherd_flush_seconds_bucket{kind="gold",le="+Inf"}`:           5,
		`weatherd_flush_seconds_sum{kind="gold"}`:                        2.25,
		`weatherd_flush_seconds_count{kind="gold"}`:                      5,
		`weatherd_odd{path="/a b}, \"c\"",code="200"}`:                   math.Inf(-1),
		`weatherd_ceiling`:        math.Inf(1),
		`weatherd_stamped{x="1"}`: 42,
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse:\n got %v\nwant %v", m, want)
	}
}

func TestSum(t *testing.T) {
	m, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"weatherd_lake_objects_written_total", nil, 7},
		{"weatherd_lake_objects_written_total", []string{`kind="gold"`}, 3},
		{"weatherd_lake_objects_written_total", []string{`kind="missing"`}, 0},
		{"weatherd_notifications_total", []string{`outcome="sent"`}, 12}, // not xoutcome="sent"
		{"weatherd_notifications_total", []string{`channel="sns"`}, 9},
		{"weatherd_notifications_total", []string{`outcome="sent"`, `channel="sns"`}, 7},
		{"weatherd_notifications_total", []string{`channel="sns"`, `outcome="failed"`}, 2},
		{"weatherd_notifications_total", []string{`outcome="sen"`}, 0},
		{"weatherd_notifications", nil, 0}, // a prefix is not the name
		{"weatherd_readings_produced_total", nil, 1.5e6},
		{"weatherd_readings_produced_total", []string{`kind="gold"`}, 0},
		{"weatherd_flush_seconds_bucket", []string{`le="+Inf"`}, 5},
		{"weatherd_flush_seconds_count", []string{`kind="gold"`}, 5},
		{"weatherd_odd", []string{`code="200"`}, math.Inf(-1)},
		{"weatherd_odd", []string{`path="/a b}, \"c\""`}, math.Inf(-1)},
		{"weatherd_absent", nil, 0},
	} {
		if got := m.Sum(tc.name, tc.labels...); got != tc.want {
			t.Errorf("Sum(%q, %q) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestParse_Errors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"# ok\nweatherd_x\n", `metrics line 2 "weatherd_x": no value`},
		{"weatherd_x{a=\"1\" 3\n", `metrics line 1 "weatherd_x{a=\"1\" 3": label set not closed`},
		{"weatherd_x abc\n", `metrics line 1 "weatherd_x abc": value "abc" is not a number`},
		{"weatherd_x 1 2 3\n", `metrics line 1 "weatherd_x 1 2 3": want a value and at most a timestamp after the series`},
		{"{a=\"1\"} 3\n", `metrics line 1 "{a=\"1\"} 3": no metric name`},
		{"weatherd_x{a=\"1\"}\n", `metrics line 1 "weatherd_x{a=\"1\"}": want a value and at most a timestamp after the series`},
	} {
		m, err := Parse(strings.NewReader(tc.in))
		if err == nil || err.Error() != tc.want || m != nil {
			t.Errorf("Parse(%q) = %v, %v; want error %q", tc.in, m, err, tc.want)
		}
	}
	m, err := Parse(strings.NewReader(""))
	if err != nil || m == nil || len(m) != 0 {
		t.Errorf("Parse(empty) = %v, %v; want an empty map", m, err)
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			w.Write([]byte(exposition))
		case "/bad/metrics":
			w.Write([]byte("weatherd_x\n"))
		default:
			http.Error(w, "no", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	for _, addr := range []string{hostPort, srv.URL, srv.URL + "/"} {
		m, err := Scrape(addr)
		if err != nil {
			t.Fatalf("Scrape(%q): %v", addr, err)
		}
		if len(m) != 17 || m[`weatherd_lake_objects_written_total{kind="gold"}`] != 3 {
			t.Errorf("Scrape(%q): %d series, gold %v; want 17 and 3", addr, len(m), m[`weatherd_lake_objects_written_total{kind="gold"}`])
		}
	}
	if m := MustScrape(t, hostPort); m.Sum("weatherd_lake_objects_written_total") != 7 {
		t.Errorf("MustScrape: objects written %v, want 7", m.Sum("weatherd_lake_objects_written_total"))
	}
	if _, err := Scrape(srv.URL + "/nothing"); err == nil || err.Error() != "scrape "+srv.URL+"/nothing/metrics: HTTP 404" {
		t.Errorf("Scrape of a 404: %v", err)
	}
	if _, err := Scrape(srv.URL + "/bad"); err == nil || err.Error() != "scrape "+srv.URL+`/bad/metrics: metrics line 1 "weatherd_x": no value` {
		t.Errorf("Scrape of a bad page: %v", err)
	}
	closed := freeAddr(t)
	if _, err := Scrape(closed); err == nil || !strings.HasPrefix(err.Error(), "scrape: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Scrape of a closed port: %v", err)
	}
}
