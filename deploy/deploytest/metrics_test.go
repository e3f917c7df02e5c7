package deploytest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
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
			if d.IsDir() && d.Name() == "testdata" {
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

// checkDashboard returns every problem of the Grafana dashboard at rel (from
// the repository root): panels outside the grid or without a query, queries
// PromQL cannot parse, metrics weatherd does not export (in panels and in
// label_values variables). used is the set of metrics the panels show.
func checkDashboard(tb testing.TB, rel string) (problems []string, used map[string]bool) {
	tb.Helper()
	var d dashboard
	if err := jsonUnmarshalLoose(MustRead(tb, rel), &d); err != nil {
		return []string{fmt.Sprintf("%s: %v", rel, err)}, nil
	}
	ids := map[int]bool{}
	used = map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			problems = append(problems, fmt.Sprintf("panel id %d is repeated", p.ID))
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			problems = append(problems, fmt.Sprintf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos))
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			problems = append(problems, fmt.Sprintf("panel %q has no query", p.Title))
		}
		for _, tg := range p.Targets {
			for _, pr := range unknownMetrics(tb, tg.Expr) {
				problems = append(problems, fmt.Sprintf("panel %q: %s", p.Title, pr))
			}
			names, _ := metricNames(tg.Expr)
			for _, m := range names {
				used[m] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue
		}
		s, _ := q["query"].(string)
		lv := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`).FindStringSubmatch(s)
		if lv == nil {
			problems = append(problems, fmt.Sprintf("variable %s: query %q, want label_values(selector, label)", v.Name, s))
			continue
		}
		for _, pr := range unknownMetrics(tb, lv[1]) {
			problems = append(problems, fmt.Sprintf("variable %s: %s", v.Name, pr))
		}
	}
	return problems, used
}

func TestGrafanaDashboard(t *testing.T) {
	const rel = "deploy/grafana/weatherd-dashboard.json"
	var d dashboard
	if err := jsonUnmarshalLoose(MustRead(t, rel), &d); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if d.UID != "weatherd" || d.Title != "weatherd" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	problems, used := checkDashboard(t, rel)
	for _, p := range problems {
		t.Errorf("%s: %s", rel, p)
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

// The dashboard checks catch a panel querying a metric weatherd does not
// export and a query PromQL cannot parse.
func TestCheckDashboard_Rejects(t *testing.T) {
	problems, _ := checkDashboard(t, "deploy/deploytest/testdata/grafana/unknown-metric.json")
	want := []string{
		`panel "Widgets": metric weatherd_widgets_total is not one weatherd exports`,
		`panel "Broken": query "sum(weatherd_leases_held": 1:25: parse error: unclosed left parenthesis`,
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}
