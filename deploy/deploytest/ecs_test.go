package deploytest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/lake"
)

// taskDefinition is the part of an ECS task definition the tests read;
// unknown fields are errors, so a typo fails the test.
type taskDefinition struct {
	Family                  string                `json:"family"`
	NetworkMode             string                `json:"networkMode"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities"`
	CPU                     string                `json:"cpu"`
	Memory                  string                `json:"memory"`
	RuntimePlatform         map[string]string     `json:"runtimePlatform"`
	ExecutionRoleArn        string                `json:"executionRoleArn"`
	TaskRoleArn             string                `json:"taskRoleArn"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
	Tags                    []map[string]string   `json:"tags"`
}

type containerDefinition struct {
	Name                   string            `json:"name"`
	Image                  string            `json:"image"`
	Essential              bool              `json:"essential"`
	Command                []string          `json:"command"`
	User                   string            `json:"user"`
	ReadonlyRootFilesystem bool              `json:"readonlyRootFilesystem"`
	StopTimeout            int               `json:"stopTimeout"`
	PortMappings           []portMapping     `json:"portMappings"`
	Environment            []nameValue       `json:"environment"`
	Secrets                []secretRef       `json:"secrets"`
	LogConfiguration       logConfiguration  `json:"logConfiguration"`
	HealthCheck            healthCheck       `json:"healthCheck"`
	DockerLabels           map[string]string `json:"dockerLabels"`
	Ulimits                []map[string]any  `json:"ulimits"`
}

type portMapping struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type secretRef struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

type logConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options"`
}

type healthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

func mustTaskDefinition(tb testing.TB) taskDefinition {
	tb.Helper()
	var td taskDefinition
	MustJSON(tb, "deploy/ecs/task-definition.json", &td)
	if len(td.ContainerDefinitions) != 1 {
		tb.Fatalf("task definition has %d containers, want 1", len(td.ContainerDefinitions))
	}
	return td
}

// placeholders are what an operator replaces (deploy/ecs/README.md); the
// tests fill them as the operator would.
var placeholders = strings.NewReplacer(
	"ACCOUNT_ID", "123456789012",
	"REGION", "eu-west-1",
	"LAKE_BUCKET", "example-weatherd-lake",
	"IMAGE_URI", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/weatherd:1.0.0",
)

func TestTaskDefinition_Fargate(t *testing.T) {
	td := mustTaskDefinition(t)
	c := td.ContainerDefinitions[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"family", td.Family, "weatherd"},
		{"networkMode", td.NetworkMode, "awsvpc"},
		{"requiresCompatibilities", td.RequiresCompatibilities, []string{"FARGATE"}},
		{"cpu", td.CPU, "256"},
		{"memory", td.Memory, "512"},
		{"executionRoleArn", td.ExecutionRoleArn, "arn:aws:iam::ACCOUNT_ID:role/weatherd-execution"},
		{"taskRoleArn", td.TaskRoleArn, "arn:aws:iam::ACCOUNT_ID:role/weatherd-task"},
		{"container name", c.Name, "weatherd"},
		{"image", c.Image, "IMAGE_URI"},
		{"essential", c.Essential, true},
		{"command", c.Command, []string{"run", "--config", "/etc/weatherd/ecs.yaml"}},
		{"user", c.User, "65532:65532"},
		{"readonlyRootFilesystem", c.ReadonlyRootFilesystem, true},
		{"portMappings", c.PortMappings, []portMapping{{Name: "metrics", ContainerPort: 9108, Protocol: "tcp"}}},
		{"secrets", c.Secrets, []secretRef{{Name: "TOMORROW_API_KEY", ValueFrom: "arn:aws:secretsmanager:REGION:ACCOUNT_ID:secret:weatherd/tomorrow-api-key"}}},
		{"log driver", c.LogConfiguration.LogDriver, "awslogs"},
		{"healthCheck command", c.HealthCheck.Command, []string{"CMD", "/weatherd", "healthcheck", "--config", "/etc/weatherd/ecs.yaml"}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.what, ck.got, ck.want)
		}
	}
	for _, k := range []string{"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} {
		if c.LogConfiguration.Options[k] == "" {
			t.Errorf("logConfiguration.options.%s is missing", k)
		}
	}
	if h := c.HealthCheck; h.Interval < 5 || h.Timeout < 2 || h.Timeout >= h.Interval || h.Retries < 1 || h.StartPeriod < 10 {
		t.Errorf("healthCheck timings %+v: want interval >= 5, 2 <= timeout < interval, retries >= 1, startPeriod >= 10", h)
	}
}

// stopTimeout must leave weatherd its whole shutdown_timeout (flush the lake,
// checkpoint, release leases) before SIGKILL; Fargate allows up to 120 s.
func TestTaskDefinition_StopTimeout(t *testing.T) {
	c := mustTaskDefinition(t).ContainerDefinitions[0]
	cfg := mustECSConfig(t)
	budget := cfg.ShutdownTimeout + 5*time.Second
	if got := time.Duration(c.StopTimeout) * time.Second; got < budget || c.StopTimeout > 120 {
		t.Errorf("stopTimeout = %ds, want >= shutdown_timeout (%s) + 5s and <= 120s", c.StopTimeout, cfg.ShutdownTimeout)
	}
}

// taskEnv returns the container's environment with placeholders filled and
// the secrets given fake values, as ECS would hand them to the process.
func taskEnv(tb testing.TB) map[string]string {
	tb.Helper()
	c := mustTaskDefinition(tb).ContainerDefinitions[0]
	env := map[string]string{}
	for _, e := range c.Environment {
		if _, dup := env[e.Name]; dup {
			tb.Errorf("environment %s is set twice", e.Name)
		}
		env[e.Name] = placeholders.Replace(e.Value)
	}
	for _, s := range c.Secrets {
		env[s.Name] = "fake-" + strings.ToLower(s.Name)
	}
	return env
}

// mustECSConfig loads deploy/ecs/weatherd.yaml (baked into the image at
// /etc/weatherd/ecs.yaml) with the task definition's environment.
func mustECSConfig(tb testing.TB) *config.Config {
	tb.Helper()
	env := taskEnv(tb)
	cfg, err := config.Load(config.Source{
		Path:     testkit.Root(tb) + "/deploy/ecs/weatherd.yaml",
		Explicit: true,
		Environ:  environ(env),
	})
	if err != nil {
		tb.Fatalf("deploy/ecs/weatherd.yaml with the task definition's environment: %v", err)
	}
	return cfg
}

// The ECS configuration is a production one: JSON logs, Kinesis, DynamoDB
// state, an S3 lake, a real provider whose key comes from the secret, and an
// SNS channel; and it names the resources the IAM policy grants.
func TestTaskDefinition_Config(t *testing.T) {
	cfg := mustECSConfig(t)
	env := taskEnv(t)
	for _, k := range []string{"WEATHERD_LOG_FORMAT", "WEATHERD_STREAM_DRIVER", "WEATHERD_ALERTS_STATE_DRIVER", "WEATHERD_LAKE_URL", "WEATHERD_AWS_REGION"} {
		if env[k] == "" {
			t.Errorf("environment %s is not set", k)
		}
	}
	loc, err := lake.ParseURL(cfg.Lake.URL)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"log.format", cfg.Log.Format, "json"},
		{"stream.driver", cfg.Stream.Driver, "kinesis"},
		{"alerts.state.driver", cfg.Alerts.State.Driver, "dynamodb"},
		{"lake scheme", loc.Scheme, "s3"},
		{"lake bucket", loc.Bucket, "example-weatherd-lake"},
		{"aws.region", cfg.AWS.Region, "eu-west-1"},
		{"aws.endpoint", cfg.AWS.Endpoint, ""},
		{"poller.provider", cfg.Poller.Provider, "tomorrowio"},
		{"poller.leader.enabled", cfg.Poller.Leader.Enabled, true},
		{"tomorrowio api key", cfg.Poller.TomorrowIO.APIKey.Reveal(), "fake-tomorrow_api_key"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.what, ck.got, ck.want)
		}
	}

	// Every resource the configuration names is one the task role may use.
	var p policy
	MustJSON(t, "deploy/iam/weatherd-policy.json", &p)
	resources := map[string]bool{}
	for _, s := range p.Statement {
		for _, r := range s.Resource {
			resources[placeholders.Replace(r)] = true
		}
	}
	arn := func(svc, res string) string {
		return "arn:aws:" + svc + ":" + cfg.AWS.Region + ":123456789012:" + res
	}
	want := []string{
		arn("kinesis", "stream/"+cfg.Stream.Kinesis.Name),
		arn("dynamodb", "table/"+cfg.Consumer.ApplicationName),
		arn("dynamodb", "table/"+cfg.Alerts.State.Table),
		"arn:aws:s3:::" + loc.Bucket,
		"arn:aws:s3:::" + loc.Bucket + "/" + loc.Prefix + "/*",
	}
	if cfg.Poller.Enabled && cfg.Poller.Leader.Enabled {
		want = append(want, arn("dynamodb", "table/"+cfg.Poller.Leader.Table))
	}
	snsChannels := 0
	for name, ch := range cfg.Alerts.Channels {
		if ch.Type == "sns" {
			snsChannels++
			want = append(want, ch.TopicARN)
			if !strings.HasPrefix(ch.TopicARN, arn("sns", "")) {
				t.Errorf("alerts.channels.%s.topic_arn = %q, want one in the task's account and region", name, ch.TopicARN)
			}
		}
	}
	if snsChannels == 0 {
		t.Error("no sns channel in alerts.channels")
	}
	for _, r := range want {
		if !resources[r] {
			t.Errorf("the task role policy does not name %s", r)
		}
	}
	if len(resources) != len(want) {
		t.Errorf("the task role policy names %d resources, the configuration %d: %v", len(resources), len(want), keys(resources))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// deploy/ecs/README.md derives a consumer-only task definition by adding
// WEATHERD_POLLER_ENABLED=false; that configuration must load too.
func TestTaskDefinition_ConsumerOnlyVariant(t *testing.T) {
	env := taskEnv(t)
	env["WEATHERD_POLLER_ENABLED"] = "false"
	cfg, err := config.Load(config.Source{
		Path:     testkit.Root(t) + "/deploy/ecs/weatherd.yaml",
		Explicit: true,
		Environ:  environ(env),
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Poller.Enabled {
		t.Error("poller.enabled is still true")
	}
	if !strings.Contains(string(MustRead(t, "deploy/ecs/README.md")), `{"name": "WEATHERD_POLLER_ENABLED", "value": "false"}`) {
		t.Error("deploy/ecs/README.md no longer shows the consumer-only variant this test checks")
	}
}
