package deploytest

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/lake"
)

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image           string               `yaml:"image"`
	Build           *composeBuild        `yaml:"build"`
	Command         []string             `yaml:"command"`
	Environment     map[string]string    `yaml:"environment"`
	Volumes         []string             `yaml:"volumes"`
	Ports           []string             `yaml:"ports"`
	Healthcheck     *composeHealth       `yaml:"healthcheck"`
	DependsOn       composeDependsOn     `yaml:"depends_on"`
	StopGracePeriod string               `yaml:"stop_grace_period"`
	Restart         string               `yaml:"restart"`
	Extra           map[string]yamlValue `yaml:",inline"`
}

type yamlValue = any

type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

type composeHealth struct {
	Test []string `yaml:"test"`
}

// composeDependsOn is depends_on in either form: a list of services, or a
// map of service to {condition}.
type composeDependsOn map[string]string

func (d *composeDependsOn) UnmarshalYAML(unmarshal func(any) error) error {
	var list []string
	if err := unmarshal(&list); err == nil {
		*d = composeDependsOn{}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := unmarshal(&m); err != nil {
		return err
	}
	*d = composeDependsOn{}
	for s, c := range m {
		(*d)[s] = c.Condition
	}
	return nil
}

func mustCompose(tb testing.TB) composeFile {
	tb.Helper()
	var c composeFile
	MustYAML(tb, "docker-compose.yml", &c)
	return c
}

// mounts maps a service's container paths to their host sources.
func (s composeService) mounts() map[string]string {
	m := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			m[parts[1]] = parts[0]
		}
	}
	return m
}

// loadCompose loads the compose file at rel (from the repository root) with
// the Compose specification's own loader, the one Docker Compose v2 runs for
// `docker compose config`: schema validation, interpolation (from an empty
// environment, so only the file's defaults apply), and the consistency
// checks (depends_on, networks, volumes and secrets that exist).
func loadCompose(tb testing.TB, rel string) (*types.Project, error) {
	tb.Helper()
	root := testkit.Root(tb)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, filepath.FromSlash(rel))},
		cli.WithName("weatherd"), cli.WithWorkingDirectory(root), cli.WithEnv(nil))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func TestCompose_LoadsWithComposeSpec(t *testing.T) {
	p, err := loadCompose(t, "docker-compose.yml")
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if got, want := p.ServiceNames(), []string{"grafana", "init", "localstack", "prometheus", "weatherd"}; !reflect.DeepEqual(sorted(got), want) {
		t.Errorf("services = %q, want %q", got, want)
	}
	// Interpolation applied the file's defaults.
	if got := p.Services["weatherd"].Build.Args["VERSION"]; got == nil || *got != "compose" {
		t.Errorf("weatherd build arg VERSION = %v, want compose (the ${WEATHERD_VERSION:-compose} default)", got)
	}
}

// The loader rejects what Docker Compose rejects; each fixture is one mistake.
func TestLoadCompose_Rejects(t *testing.T) {
	cases := []struct {
		fixture, want string
	}{
		{"unknown-key.yml", "services.weatherd.stop_grace_periods false schema"},
		{"missing-dependency.yml", `service "weatherd" depends on undefined service "localstak"`},
		{"bad-condition.yml", "services.weatherd.depends_on.localstack.condition"},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			_, err := loadCompose(t, "deploy/deploytest/testdata/compose/"+c.fixture)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestCompose_Services(t *testing.T) {
	c := mustCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"grafana", "init", "localstack", "prometheus", "weatherd"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("services = %q, want %q", names, want)
	}
	for name, s := range c.Services {
		if s.Image == "" || strings.HasSuffix(s.Image, ":latest") || (!strings.Contains(s.Image, ":") && s.Build == nil) {
			t.Errorf("%s: image %q: want a pinned tag", name, s.Image)
		}
		for dst, src := range s.mounts() {
			if !strings.HasPrefix(src, "./") {
				continue
			}
			if _, err := os.Stat(filepath.Join(testkit.Root(t), src)); err != nil {
				t.Errorf("%s: mount %s -> %s: %v", name, src, dst, err)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every interface; bind it to 127.0.0.1", name, p)
			}
		}
	}
}

func TestCompose_LocalStack(t *testing.T) {
	ls := mustCompose(t).Services["localstack"]
	if ls.Image != "localstack/localstack:3" {
		t.Errorf("image = %q", ls.Image)
	}
	got := strings.Split(ls.Environment["SERVICES"], ",")
	sort.Strings(got)
	if want := []string{"dynamodb", "kinesis", "s3", "sns", "sqs"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SERVICES = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(ls.Ports, []string{"127.0.0.1:4566:4566"}) {
		t.Errorf("ports = %q", ls.Ports)
	}
	if ls.Healthcheck == nil || !strings.Contains(strings.Join(ls.Healthcheck.Test, " "), "/_localstack/init/ready") {
		t.Errorf("healthcheck %+v: want one that waits for the ready.d scripts (/_localstack/init/ready)", ls.Healthcheck)
	}
	if src := ls.mounts()["/etc/localstack/init/ready.d"]; src != "./deploy/compose/localstack-init/ready.d" {
		t.Errorf("ready.d is mounted from %q", src)
	}
}

// The ready.d hook must be an executable bash script that parses, and it must
// subscribe its queue to the topic weatherd's sns channel publishes to.
func TestCompose_LocalStackInitScript(t *testing.T) {
	dir := filepath.Join(testkit.Root(t), "deploy", "compose", "localstack-init", "ready.d")
	scripts, err := filepath.Glob(filepath.Join(dir, "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no ready.d scripts in %s (%v)", dir, err)
	}
	var all string
	for _, s := range scripts {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o111 != 0o111 {
			t.Errorf("%s is not executable (mode %v): LocalStack skips it", s, fi.Mode().Perm())
		}
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "#!/bin/bash\n") {
			t.Errorf("%s: want a #!/bin/bash shebang", s)
		}
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		all += string(b)
	}
	topic := regexp.MustCompile(`sns create-topic --name (\S+)`).FindStringSubmatch(all)
	queue := regexp.MustCompile(`sqs create-queue --queue-name (\S+)`).FindStringSubmatch(all)
	if topic == nil || queue == nil || !strings.Contains(all, "sns subscribe") {
		t.Fatalf("the ready.d scripts do not create a topic and a queue and subscribe it")
	}
	cfg := mustComposeConfig(t)
	want := "arn:aws:sns:us-east-1:000000000000:" + topic[1]
	if ch, ok := cfg.Alerts.Channels["sns"]; !ok || ch.Type != "sns" || ch.TopicARN != want {
		t.Errorf("alerts.channels.sns = %+v, want type sns with topic_arn %s (the topic ready.d subscribes %s to)", ch, want, queue[1])
	}
}

// mustComposeConfig loads deploy/compose/weatherd.yaml with the weatherd
// service's environment, as `weatherd run` in the container does.
func mustComposeConfig(tb testing.TB) *config.Config {
	tb.Helper()
	svc := mustCompose(tb).Services["weatherd"]
	cfg, err := config.Load(config.Source{
		Path:     filepath.Join(testkit.Root(tb), "deploy", "compose", "weatherd.yaml"),
		Explicit: true,
		Environ:  environ(svc.Environment),
	})
	if err != nil {
		tb.Fatalf("deploy/compose/weatherd.yaml: %v", err)
	}
	return cfg
}

func TestCompose_WeatherdAndInit(t *testing.T) {
	c := mustCompose(t)
	const cfgPath = "/etc/weatherd/compose.yaml"
	wd, in := c.Services["weatherd"], c.Services["init"]
	checks := []struct {
		what      string
		got, want any
	}{
		{"init command", in.Command, []string{"bootstrap", "--config", cfgPath}},
		{"init depends_on", map[string]string(in.DependsOn), map[string]string{"localstack": "service_healthy"}},
		{"weatherd command", wd.Command, []string{"run", "--config", cfgPath}},
		{"weatherd depends_on", map[string]string(wd.DependsOn), map[string]string{"localstack": "service_healthy", "init": "service_completed_successfully"}},
		{"weatherd healthcheck", wd.Healthcheck.Test, []string{"CMD", "/weatherd", "healthcheck", "--config", cfgPath}},
		{"weatherd config mount", wd.mounts()[cfgPath], "./deploy/compose/weatherd.yaml"},
		{"init config mount", in.mounts()[cfgPath], "./deploy/compose/weatherd.yaml"},
		{"weatherd image", wd.Image, in.Image},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.what, ck.got, ck.want)
		}
	}
	for name, s := range map[string]composeService{"weatherd": wd, "init": in} {
		if s.Build == nil || s.Build.Context != "." || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: build %+v, want the repository's Dockerfile", name, s.Build)
		}
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
			if s.Environment[k] == "" {
				t.Errorf("%s: environment %s is not set", name, k)
			}
		}
	}

	cfg := mustComposeConfig(t)
	u, err := url.Parse(cfg.AWS.Endpoint)
	if err != nil || u.Hostname() != "localstack" || u.Port() != "4566" {
		t.Errorf("aws.endpoint = %q, want http://localstack:4566 (the localstack service)", cfg.AWS.Endpoint)
	}
	loc, err := lake.ParseURL(cfg.Lake.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfgChecks := []struct {
		what      string
		got, want any
	}{
		{"aws.s3_force_path_style", cfg.AWS.S3ForcePathStyle, true},
		{"aws.region", cfg.AWS.Region, "us-east-1"},
		{"stream.driver", cfg.Stream.Driver, "kinesis"},
		{"alerts.state.driver", cfg.Alerts.State.Driver, "dynamodb"},
		{"lake", loc, lake.Location{Scheme: "s3", Bucket: "weatherd-lake", Prefix: "lake"}},
		{"poller.provider", cfg.Poller.Provider, "simulated"},
	}
	for _, ck := range cfgChecks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.what, ck.got, ck.want)
		}
	}
	// Every rule also notifies on sns, so alerts reach the SQS inbox.
	for i, r := range cfg.Alerts.Rules {
		if !contains(r.Channels, "sns") {
			t.Errorf("alerts.rules[%d] (%s) channels %q: want sns too", i, r.Name, r.Channels)
		}
	}

	// The published port and Prometheus's target are weatherd's http.listen port.
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:" + port + ":" + port}; !reflect.DeepEqual(wd.Ports, want) {
		t.Errorf("weatherd ports = %q, want %q", wd.Ports, want)
	}
	grace, err := time.ParseDuration(wd.StopGracePeriod)
	if err != nil || grace <= cfg.ShutdownTimeout {
		t.Errorf("weatherd stop_grace_period = %q, want more than shutdown_timeout %s", wd.StopGracePeriod, cfg.ShutdownTimeout)
	}
	targets := mustPrometheusConfig(t).ScrapeConfigs[0].StaticConfigs[0].Targets
	if want := []string{"weatherd:" + port}; !reflect.DeepEqual(targets, want) {
		t.Errorf("prometheus targets = %q, want %q", targets, want)
	}
}

func TestCompose_PrometheusAndGrafana(t *testing.T) {
	c := mustCompose(t)
	prom := c.Services["prometheus"]
	if m := prom.mounts(); m["/etc/prometheus/prometheus.yml"] != "./deploy/prometheus/prometheus.yml" || m["/etc/prometheus/rules.yml"] != "./deploy/prometheus/rules.yml" {
		t.Errorf("prometheus mounts %v: want deploy/prometheus/prometheus.yml and rules.yml in /etc/prometheus", m)
	}
	if !contains(prom.Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus command %q does not load /etc/prometheus/prometheus.yml", prom.Command)
	}
	// rule_files are relative to the config file: rules.yml must sit beside it.
	for _, rf := range mustPrometheusConfig(t).RuleFiles {
		if _, ok := prom.mounts()[filepath.Join("/etc/prometheus", rf)]; !ok {
			t.Errorf("rule file %s is not mounted beside prometheus.yml", rf)
		}
	}
	gf := c.Services["grafana"]
	if m := gf.mounts(); m["/etc/grafana/provisioning"] != "./deploy/grafana/provisioning" || m["/var/lib/grafana/dashboards/weatherd.json"] != "./deploy/grafana/weatherd-dashboard.json" {
		t.Errorf("grafana mounts %v", m)
	}
	var ds struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	MustYAML(t, "deploy/grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("grafana datasources %+v, want the prometheus service", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	MustYAML(t, "deploy/grafana/provisioning/dashboards/weatherd.yml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("grafana dashboard providers %+v, want /var/lib/grafana/dashboards", dp.Providers)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
