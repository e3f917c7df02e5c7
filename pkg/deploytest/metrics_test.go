package deploytest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/weatherd/weatherd/pkg/testkit"
)

// contractMetrics are the metrics CONTRACT.md promises.
var contractMetrics = []string{
	"weatherd_poll_requests_total",
	"weatherd_readings_produced_total",
	"weatherd_consumer_records_total",
	"weatherd_consumer_millis_behind_latest",
	"weatherd_leases_held",
	"weatherd_alert_transitions_total",
	"weatherd_notifications_total",
	"weatherd_lake_objects_written_total",
	"weatherd_lake_buffered_bytes",
	"weatherd_poison_records_total",
}

// collectorMetrics are series of the Go and process collectors and of
// Prometheus itself that the dashboard and rules use.
var collectorMetrics = []string{
	"up",
	"go_goroutines",
	"go_gc_duration_seconds",
	"go_memstats_heap_inuse_bytes",
	"process_resident_memory_bytes",
}

var (
	codeMetricsOnce sync.Once
	codeMetricsSet  map[string]bool
	codeMetricsErr  error
)

// codeMetrics returns every "weatherd_..." string literal of the module's
// non-test Go files: the names the components register.
func codeMetrics(tb testing.TB) map[string]bool {
	tb.Helper()
	codeMetricsOnce.Do(func() {
		codeMetricsSet = map[string]bool{}
		lit := regexp.MustCompile(`"(weatherd_[a-z0-9_]+)"`)
		root := testkit.Root(tb)
		codeMetricsErr = filepath.WalkDir(filepath.Join(root, "pkg"), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "deploytest") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				codeMetricsSet[m[1]] = true
			}
			return nil
		})
	})
	if codeMetricsErr != nil {
		tb.Fatal(codeMetricsErr)
	}
	return codeMetricsSet
}

// knownMetric reports whether name (or the histogram it is a series of) is
// a metric weatherd registers.
func knownMetric(tb testing.TB, name string) bool {
	tb.Helper()
	for _, base := range []string{name, strings.TrimSuffix(name, "_bucket"), strings.TrimSuffix(name, "_sum"), strings.TrimSuffix(name, "_count")} {
		if contains(contractMetrics, base) || contains(collectorMetrics, base) || codeMetrics(tb)[base] {
			return true
		}
	}
	return false
}

// The contract's metrics are registered by some component.
func TestContractMetrics_InCode(t *testing.T) {
	code := codeMetrics(t)
	for _, m := range contractMetrics {
		if !code[m] {
			t.Errorf("%s (CONTRACT.md) is not registered by any package under pkg/", m)
		}
	}
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func TestGrafanaDashboard(t *testing.T) {
	var d dashboard
	if err := jsonUnmarshalLoose(MustRead(t, "deploy/grafana/weatherd-dashboard.json"), &d); err != nil {
		t.Fatalf("deploy/grafana/weatherd-dashboard.json: %v", err)
	}
	if d.UID != "weatherd" || d.Title != "weatherd" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is repeated", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q selects no metric", p.Title, tg.Expr)
			}
			for _, m := range names {
				used[m] = true
				if !knownMetric(t, m) {
					t.Errorf("panel %q: metric %s is not one weatherd registers", p.Title, m)
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			lv := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`).FindStringSubmatch(q["query"].(string))
			if lv == nil {
				t.Errorf("variable %s: query %v, want label_values(selector, label)", v.Name, q["query"])
				continue
			}
			for _, m := range metricNames(lv[1]) {
				if !knownMetric(t, m) {
					t.Errorf("variable %s: metric %s is not one weatherd registers", v.Name, m)
				}
			}
		}
	}
	// Every contract metric has a panel, and so do memory and the Go runtime.
	for _, m := range append(append([]string{}, contractMetrics...), "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes") {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	var all []string
	for m := range used {
		all = append(all, m)
	}
	sort.Strings(all)
	t.Logf("dashboard metrics: %q", all)
}
