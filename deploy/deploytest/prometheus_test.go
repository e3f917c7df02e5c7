package deploytest

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
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

// The rule file passes the checks `promtool check rules` makes (rulefmt is
// the code promtool runs), and every metric it watches is one weatherd exports.
func TestPrometheus_RuleFile(t *testing.T) {
	if problems := checkRuleFile(t, "deploy/prometheus/rules.yml"); len(problems) > 0 {
		t.Errorf("deploy/prometheus/rules.yml:\n%s", strings.Join(problems, "\n"))
	}
	// prometheus.yml loads its rule files relative to itself.
	for _, rf := range mustPrometheusConfig(t).RuleFiles {
		if _, err := os.Stat(filepath.Join(testkit.Root(t), "deploy", "prometheus", rf)); err != nil {
			t.Errorf("rule_files: %v", err)
		}
	}
}

// The checks catch a broken expression and a metric weatherd does not export.
func TestCheckRuleFile_Rejects(t *testing.T) {
	cases := []struct {
		fixture string
		want    []string
	}{
		{"bad-expr.yml", []string{`bad-expr.yml: 9:15: group "weatherd", rule 2, "WeatherdNoReadings": could not parse expression: 1:66: parse error: unclosed left parenthesis`}},
		{"unknown-metric.yml", []string{`unknown-metric.yml: alert WeatherdWidgetsStuck: metric weatherd_widgets_total is not one weatherd exports`}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			got := checkRuleFile(t, "deploy/deploytest/testdata/prometheus/"+c.fixture)
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], "deploy/deploytest/testdata/prometheus/")
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
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
		got, err := metricNames(c.expr)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("metricNames(%q) = %q, %v; want %q", c.expr, got, err, c.want)
		}
	}
}
