package deploytest

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/weatherd/weatherd/internal/testkit"
)

// promQL parses expressions as the Prometheus server does (no experimental
// functions), so a query that parses here parses in the compose stack.
var promQL = parser.NewParser(parser.Options{})

// grafanaInterval matches Grafana's interval variables, which stand for a
// duration and must be replaced before PromQL can parse the query. Other
// variables ($job, $instance) only appear inside label matcher strings.
var grafanaInterval = regexp.MustCompile(`\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?`)

// metricNames returns the metric names the PromQL expression selects, sorted,
// or the parse error.
func metricNames(expr string) ([]string, error) {
	e, err := promQL.ParseExpr(grafanaInterval.ReplaceAllString(expr, "5m"))
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		set[name] = true
		return nil
	})
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// unknownMetrics returns the problems with expr: its parse error, or each
// metric it selects that weatherd does not export.
func unknownMetrics(tb testing.TB, expr string) []string {
	tb.Helper()
	names, err := metricNames(expr)
	if err != nil {
		return []string{fmt.Sprintf("query %q: %v", expr, err)}
	}
	if len(names) == 0 {
		return []string{fmt.Sprintf("query %q selects no metric", expr)}
	}
	var out []string
	for _, m := range names {
		if m == "" {
			out = append(out, fmt.Sprintf("query %q selects series by labels only; name the metric", expr))
		} else if !knownMetric(tb, m) {
			out = append(out, fmt.Sprintf("metric %s is not one weatherd exports", m))
		}
	}
	return out
}

// checkRuleFile returns every problem of the Prometheus rule file at rel
// (from the repository root): what `promtool check rules` reports (unknown
// fields, bad PromQL, templates, durations), then each metric a rule selects
// that weatherd does not export. Each problem starts with rel.
func checkRuleFile(tb testing.TB, rel string) []string {
	tb.Helper()
	path := filepath.Join(testkit.Root(tb), filepath.FromSlash(rel))
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, promQL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var out []string
	for _, err := range errs {
		out = append(out, rel+": "+strings.TrimPrefix(err.Error(), path+": "))
	}
	if len(errs) > 0 {
		return out
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := "alert " + r.Alert
			if r.Record != "" {
				name = "record " + r.Record
			}
			for _, p := range unknownMetrics(tb, r.Expr) {
				out = append(out, fmt.Sprintf("%s: %s: %s", rel, name, p))
			}
		}
	}
	return out
}
