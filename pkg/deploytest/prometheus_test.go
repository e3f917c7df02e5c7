package deploytest

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

type prometheusConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func mustPrometheusConfig(tb testing.TB) prometheusConfig {
	tb.Helper()
	var c prometheusConfig
	MustYAML(tb, "deploy/prometheus/prometheus.yml", &c)
	if len(c.ScrapeConfigs) == 0 || len(c.ScrapeConfigs[0].StaticConfigs) == 0 {
		tb.Fatal("deploy/prometheus/prometheus.yml has no static scrape target")
	}
	return c
}

func mustRules(tb testing.TB) map[string]rule {
	tb.Helper()
	var f ruleFile
	MustYAML(tb, "deploy/prometheus/rules.yml", &f)
	out := map[string]rule{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if _, dup := out[r.Alert]; dup {
				tb.Errorf("alert %s is defined twice", r.Alert)
			}
			out[r.Alert] = r
		}
	}
	return out
}

// promtool is in Debian's prometheus package (CI installs it in .ci/run).
func TestPrometheus_Promtool(t *testing.T) {
	bin := MustTool(t, "promtool", "prometheus")
	t.Run("Config", func(t *testing.T) {
		out := MustRun(t, nil, bin, "check", "config", "deploy/prometheus/prometheus.yml")
		if !strings.Contains(out, "1 rule files found") {
			t.Errorf("promtool found no rule file:\n%s", out)
		}
	})
	t.Run("Rules", func(t *testing.T) {
		out := MustRun(t, nil, bin, "check", "rules", "deploy/prometheus/rules.yml")
		if want := fmt.Sprintf("SUCCESS: %d rules found", len(mustRules(t))); !strings.Contains(out, want) {
			t.Errorf("promtool check rules: want %q in\n%s", want, out)
		}
	})
}

func TestPrometheus_Config(t *testing.T) {
	c := mustPrometheusConfig(t)
	sc := c.ScrapeConfigs[0]
	if c.Global.ScrapeInterval != "15s" || sc.JobName != "weatherd" || sc.MetricsPath != "/metrics" {
		t.Errorf("scrape: interval %q job %q path %q, want 15s weatherd /metrics", c.Global.ScrapeInterval, sc.JobName, sc.MetricsPath)
	}
	if !reflect.DeepEqual(c.RuleFiles, []string{"rules.yml"}) {
		t.Errorf("rule_files = %q", c.RuleFiles)
	}
}

// The alerts the operator needs, each with the signal it watches; every
// alert has a severity and the annotations a page shows.
func TestPrometheus_Rules(t *testing.T) {
	rules := mustRules(t)
	want := map[string][]string{
		"WeatherdDown":                 {"up{", "== 0"},
		"WeatherdConsumerLagging":      {"weatherd_consumer_millis_behind_latest", "> 60000"},
		"WeatherdPollFailures":         {`weatherd_poll_requests_total{outcome!~"ok|duplicate"}`, "weatherd_poll_requests_total["},
		"WeatherdNotificationFailures": {`weatherd_notifications_total{outcome="failed"}`},
		"WeatherdLakeFlushFailing":     {"weatherd_lake_flush_failures_total"},
		"WeatherdNoReadings":           {"increase(weatherd_consumer_records_total[15m])", "== 0"},
		"WeatherdNoLeasesHeld":         {"sum by (job) (weatherd_leases_held)", "== 0"},
		"WeatherdPollerLeadership":     {"sum by (job) (weatherd_poller_leader)", "!= 1"},
	}
	var names []string
	for n := range rules {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(rules) != len(want) {
		t.Errorf("alerts %q, want the %d of this test", names, len(want))
	}
	for name, frags := range want {
		r, ok := rules[name]
		if !ok {
			t.Errorf("alert %s is missing", name)
			continue
		}
		for _, f := range frags {
			if !strings.Contains(r.Expr, f) {
				t.Errorf("%s: expr %q does not contain %q", name, r.Expr, f)
			}
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", name, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" || r.For == "" {
			t.Errorf("%s: want for, summary and description", name)
		}
	}
	if r := rules["WeatherdConsumerLagging"]; r.For != "10m" {
		t.Errorf("WeatherdConsumerLagging for %q, want 10m", r.For)
	}
	for name, r := range rules {
		for _, m := range metricNames(r.Expr) {
			if !knownMetric(t, m) {
				t.Errorf("%s: metric %s is not one weatherd registers", name, m)
			}
		}
	}
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	braces     = regexp.MustCompile(`\{[^{}]*\}`)
	brackets   = regexp.MustCompile(`\[[^\[\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	identifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
)

var promqlWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}

// metricNames returns the metric names a PromQL expression selects (a
// lexical approximation: what is left after removing strings, label
// matchers, ranges, groupings, functions, keywords and numbers; Grafana
// variables like $__rate_interval are removed first).
func metricNames(expr string) []string {
	e := regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`).ReplaceAllString(expr, "")
	e = quoted.ReplaceAllString(e, `""`)
	e = braces.ReplaceAllString(e, " ")
	e = brackets.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllString(e, " ")
	set := map[string]bool{}
	for _, m := range identifier.FindAllStringSubmatchIndex(e, -1) {
		word := strings.TrimRight(e[m[0]:m[1]], " \t\n(")
		isCall := m[2] >= 0
		if m[0] > 0 && (e[m[0]-1] >= '0' && e[m[0]-1] <= '9' || e[m[0]-1] == '.') {
			continue // a suffix of a number or duration (1e3, 15m)
		}
		if isCall || promqlWords[strings.ToLower(word)] {
			continue
		}
		set[word] = true
	}
	out := make([]string, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

func TestMetricNames(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`up{job="weatherd"} == 0`, []string{"up"}},
		{`sum by (instance, provider) (rate(weatherd_poll_requests_total{outcome!~"ok|duplicate"}[15m])) / sum by (provider) (rate(weatherd_poll_requests_total[15m])) > 0.2`, []string{"weatherd_poll_requests_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(weatherd_lake_flush_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`, []string{"weatherd_lake_flush_duration_seconds_bucket"}},
		{`max(weatherd_consumer_millis_behind_latest) > 6e4 and on(job) weatherd_leases_held offset 5m`, []string{"weatherd_consumer_millis_behind_latest", "weatherd_leases_held"}},
	}
	for _, c := range cases {
		if got := metricNames(c.expr); !reflect.DeepEqual(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}
