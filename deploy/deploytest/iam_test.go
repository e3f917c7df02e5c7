package deploytest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
)

// policy is an IAM policy document.
type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    stringList     `json:"Action"`
	Resource  stringList     `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// stringList is a JSON string or array of strings, as IAM allows.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// actions returns the policy's actions, sorted and once each.
func (p policy) actions() []string {
	set := map[string]bool{}
	for _, s := range p.Statement {
		for _, a := range s.Action {
			set[a] = true
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// checkShape reports problems of a least-privilege policy: Allow only, named
// statements, no wildcard actions, every resource a specific ARN of the
// action's service (S3: bucket ARNs for bucket actions, object ARNs for the
// rest). Resource "*" is accepted only for the actions in starOK.
func checkShape(p policy, starOK map[string]bool) []string {
	var probs []string
	if p.Version != "2012-10-17" {
		probs = append(probs, fmt.Sprintf("Version is %q, want 2012-10-17", p.Version))
	}
	sids := map[string]bool{}
	for i, s := range p.Statement {
		name := fmt.Sprintf("Statement[%d] %s", i, s.Sid)
		if s.Sid == "" || sids[s.Sid] {
			probs = append(probs, name+": Sid missing or repeated")
		}
		sids[s.Sid] = true
		if s.Effect != "Allow" {
			probs = append(probs, fmt.Sprintf("%s: Effect %q, want Allow", name, s.Effect))
		}
		if len(s.Action) == 0 || len(s.Resource) == 0 {
			probs = append(probs, name+": needs Action and Resource")
		}
		for _, a := range s.Action {
			svc, op, ok := strings.Cut(a, ":")
			if !ok || strings.Contains(a, "*") {
				probs = append(probs, fmt.Sprintf("%s: action %q is not one service:Operation", name, a))
				continue
			}
			for _, r := range s.Resource {
				if r == "*" {
					if !starOK[a] {
						probs = append(probs, fmt.Sprintf("%s: %s on Resource \"*\"; name the resource", name, a))
					}
					continue
				}
				parts := strings.SplitN(r, ":", 6)
				if len(parts) != 6 || parts[0] != "arn" || parts[2] != svc {
					probs = append(probs, fmt.Sprintf("%s: resource %q is not a %s ARN (for %s)", name, r, svc, a))
					continue
				}
				if svc == "s3" {
					bucketLevel := strings.Contains(op, "Bucket")
					if isObj := strings.Contains(parts[5], "/"); isObj == bucketLevel {
						probs = append(probs, fmt.Sprintf("%s: %s needs a %s ARN, got %q", name, a, map[bool]string{true: "bucket", false: "object"}[bucketLevel], r))
					}
				}
			}
		}
	}
	return probs
}

// compareActions reports actions the code needs that the policy lacks, and
// actions the policy grants that the code does not use.
func compareActions(policyName string, granted, used []string) []string {
	var probs []string
	g := map[string]bool{}
	for _, a := range granted {
		g[a] = true
	}
	u := map[string]bool{}
	for _, a := range used {
		u[a] = true
		if !g[a] {
			probs = append(probs, fmt.Sprintf("%s lacks %s, which the code calls", policyName, a))
		}
	}
	for _, a := range granted {
		if !u[a] {
			probs = append(probs, fmt.Sprintf("%s grants %s, which the code does not call", policyName, a))
		}
	}
	return probs
}

func TestUsedOps_Fixture(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("testdata", "awsops"))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := loadProgram(root, "example.com/app")
	if err != nil {
		t.Fatal(err)
	}
	run, boot, err := prog.usedOps("example.com/app/cmd/app", "example.com/app/pkg/bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Runtime", func(t *testing.T) {
		wantOps := []string{
			"dynamodb.CreateTable", "dynamodb.DescribeTable", // shared helper, reached through the queue
			"kinesis.DescribeStreamSummary", // package-level var initializer
			"kinesis.PutRecords",            // method value
			"s3.GetObject", "s3.ListObjectsV2", "s3.PutObject",
		}
		if got := sortedOps(run); !reflect.DeepEqual(got, wantOps) {
			t.Errorf("runtime ops\n got %q\nwant %q", got, wantOps)
		}
		wantIAM := []string{"dynamodb:CreateTable", "dynamodb:DescribeTable", "kinesis:DescribeStreamSummary", "kinesis:PutRecords", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}
		if got := iamActions(run); !reflect.DeepEqual(got, wantIAM) {
			t.Errorf("runtime IAM actions\n got %q\nwant %q", got, wantIAM)
		}
	})
	t.Run("Bootstrap", func(t *testing.T) {
		want := []string{"dynamodb.CreateTable", "dynamodb.DescribeTable", "s3.CreateBucket", "sns.CreateTopic"}
		if got := sortedOps(boot); !reflect.DeepEqual(got, want) {
			t.Errorf("bootstrap ops\n got %q\nwant %q", got, want)
		}
	})
	t.Run("MissingPackage", func(t *testing.T) {
		_, _, err := prog.usedOps("example.com/app/cmd/nope", "example.com/app/pkg/bootstrap")
		if err == nil || err.Error() != "entry package example.com/app/cmd/nope not found" {
			t.Errorf("err = %v", err)
		}
	})
}

func TestIAMActions_S3Quirks(t *testing.T) {
	ops := map[awsOp]bool{
		{"s3", "HeadBucket"}: true, {"s3", "ListObjectsV2"}: true, {"s3", "HeadObject"}: true,
		{"s3", "CreateMultipartUpload"}: true, {"s3", "UploadPart"}: true, {"s3", "CompleteMultipartUpload"}: true,
		{"s3", "AbortMultipartUpload"}: true, {"s3", "DeleteObjects"}: true, {"s3", "DeleteObject"}: true,
		{"kinesis", "SubscribeToShard"}: true, {"sns", "Publish"}: true,
	}
	want := []string{"kinesis:SubscribeToShard", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject", "sns:Publish"}
	if got := iamActions(ops); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestCheckPolicy_Fixture(t *testing.T) {
	p := policy{Version: "2012-10-17", Statement: []statement{
		{Sid: "Stream", Effect: "Allow", Action: stringList{"kinesis:GetRecords", "kinesis:ListShards"}, Resource: stringList{"arn:aws:kinesis:REGION:ACCOUNT_ID:stream/s"}},
		{Sid: "Bucket", Effect: "Allow", Action: stringList{"s3:ListBucket"}, Resource: stringList{"arn:aws:s3:::b/*"}},
		{Sid: "Objects", Effect: "Allow", Action: stringList{"s3:*"}, Resource: stringList{"arn:aws:s3:::b/p/*"}},
		{Sid: "Topic", Effect: "Allow", Action: stringList{"sns:Publish"}, Resource: stringList{"*"}},
		{Sid: "Topic", Effect: "Deny", Action: stringList{"sns:Publish"}, Resource: stringList{"arn:aws:sqs:REGION:ACCOUNT_ID:q"}},
	}}
	wantShape := []string{
		`Statement[1] Bucket: s3:ListBucket needs a bucket ARN, got "arn:aws:s3:::b/*"`,
		`Statement[2] Objects: action "s3:*" is not one service:Operation`,
		`Statement[3] Topic: sns:Publish on Resource "*"; name the resource`,
		`Statement[4] Topic: Sid missing or repeated`,
		`Statement[4] Topic: Effect "Deny", want Allow`,
		`Statement[4] Topic: resource "arn:aws:sqs:REGION:ACCOUNT_ID:q" is not a sns ARN (for sns:Publish)`,
	}
	if got := checkShape(p, nil); !reflect.DeepEqual(got, wantShape) {
		t.Errorf("checkShape\n got %q\nwant %q", got, wantShape)
	}
	wantCmp := []string{
		"p.json lacks kinesis:GetShardIterator, which the code calls",
		"p.json grants kinesis:ListShards, which the code does not call",
	}
	if got := compareActions("p.json", []string{"kinesis:GetRecords", "kinesis:ListShards"}, []string{"kinesis:GetRecords", "kinesis:GetShardIterator"}); !reflect.DeepEqual(got, wantCmp) {
		t.Errorf("compareActions\n got %q\nwant %q", got, wantCmp)
	}
}

// weatherdOps derives the runtime and bootstrap operations of weatherd.
func weatherdOps(t *testing.T) (run, boot map[awsOp]bool) {
	t.Helper()
	module := MustModule(t)
	prog, err := loadProgram(testkit.Root(t), module)
	if err != nil {
		t.Fatal(err)
	}
	run, boot, err = prog.usedOps(module+"/cmd/weatherd", module+"/pkg/bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runtime calls %q", sortedOps(run))
	t.Logf("bootstrap calls %q", sortedOps(boot))
	return run, boot
}

// TestIAMPolicy_Runtime: the task role's policy and the compaction add-on
// together grant exactly what weatherd run calls; the task policy alone
// grants everything but s3:DeleteObject, which only compaction needs.
func TestIAMPolicy_Runtime(t *testing.T) {
	run, _ := weatherdOps(t)
	var p, comp policy
	MustJSON(t, "deploy/iam/weatherd-policy.json", &p)
	MustJSON(t, "deploy/iam/weatherd-compaction-policy.json", &comp)
	both := policy{Version: p.Version, Statement: append(append([]statement(nil), p.Statement...), comp.Statement...)}
	probs := append(checkShape(p, nil), checkShape(comp, nil)...)
	probs = append(probs, compareActions("deploy/iam/weatherd-policy.json + weatherd-compaction-policy.json", both.actions(), iamActions(run))...)
	for _, pr := range probs {
		t.Error(pr)
	}
	if slices.Contains(p.actions(), "s3:DeleteObject") {
		t.Error("deploy/iam/weatherd-policy.json grants s3:DeleteObject; only weatherd-compaction-policy.json may")
	}
	if got := comp.actions(); !reflect.DeepEqual(got, []string{"s3:DeleteObject"}) {
		t.Errorf("deploy/iam/weatherd-compaction-policy.json grants %q, want only s3:DeleteObject", got)
	}
}

// TestIAMPolicy_LakePrefix: the task role lists the bucket only under the
// lake prefix its objects live in (a condition on s3:prefix), and the
// compaction add-on deletes only gold files there.
func TestIAMPolicy_LakePrefix(t *testing.T) {
	var p, comp policy
	MustJSON(t, "deploy/iam/weatherd-policy.json", &p)
	MustJSON(t, "deploy/iam/weatherd-compaction-policy.json", &comp)
	var objects, lists []string
	for _, s := range p.Statement {
		for _, a := range s.Action {
			switch a {
			case "s3:GetObject":
				objects = append(objects, s.Resource...)
			case "s3:ListBucket":
				like, _ := s.Condition["StringLike"].(map[string]any)
				prefixes, _ := like["s3:prefix"].([]any)
				if len(s.Condition) != 1 || len(like) != 1 || len(prefixes) == 0 {
					t.Errorf("statement %s: s3:ListBucket with condition %v, want only StringLike on s3:prefix", s.Sid, s.Condition)
				}
				for _, pr := range prefixes {
					lists = append(lists, fmt.Sprint(pr))
				}
			}
		}
	}
	if len(objects) != 1 || !strings.HasPrefix(objects[0], "arn:aws:s3:::LAKE_BUCKET/") || !strings.HasSuffix(objects[0], "/*") {
		t.Fatalf("lake object resources %q, want one arn:aws:s3:::LAKE_BUCKET/<prefix>/*", objects)
	}
	prefix := strings.TrimSuffix(strings.TrimPrefix(objects[0], "arn:aws:s3:::LAKE_BUCKET/"), "*") // "lake/"
	if want := []string{prefix, prefix + "*"}; !reflect.DeepEqual(lists, want) {
		t.Errorf("s3:ListBucket allowed for prefixes %q, want %q", lists, want)
	}
	var deletes []string
	for _, s := range comp.Statement {
		deletes = append(deletes, s.Resource...)
	}
	if want := []string{"arn:aws:s3:::LAKE_BUCKET/" + prefix + "gold/*"}; !reflect.DeepEqual(deletes, want) {
		t.Errorf("s3:DeleteObject on %q, want %q (compaction replaces gold files only)", deletes, want)
	}
}

func TestIAMPolicy_Bootstrap(t *testing.T) {
	_, boot := weatherdOps(t)
	var p policy
	MustJSON(t, "deploy/iam/weatherd-bootstrap-policy.json", &p)
	probs := append(checkShape(p, nil), compareActions("deploy/iam/weatherd-bootstrap-policy.json", p.actions(), iamActions(boot))...)
	for _, pr := range probs {
		t.Error(pr)
	}
}

// The execution role is ECS's, not weatherd's: pull the image, write logs,
// read the API key secret. ecr:GetAuthorizationToken has no resource to name.
func TestIAMPolicy_Execution(t *testing.T) {
	var p policy
	MustJSON(t, "deploy/iam/weatherd-execution-policy.json", &p)
	for _, pr := range checkShape(p, map[string]bool{"ecr:GetAuthorizationToken": true}) {
		t.Error(pr)
	}
	want := []string{
		"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer",
		"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue",
	}
	if got := p.actions(); !reflect.DeepEqual(got, want) {
		t.Errorf("actions\n got %q\nwant %q", got, want)
	}
	// Every secret the task definition injects is readable, and nothing else.
	td := mustTaskDefinition(t)
	var secretARNs []string
	for _, s := range p.Statement {
		if len(s.Action) == 1 && s.Action[0] == "secretsmanager:GetSecretValue" {
			secretARNs = append(secretARNs, s.Resource...)
		}
	}
	for _, c := range td.ContainerDefinitions {
		for _, s := range c.Secrets {
			found := false
			for _, r := range secretARNs {
				if r == s.ValueFrom || (strings.HasSuffix(r, "-*") && strings.HasPrefix(s.ValueFrom, strings.TrimSuffix(r, "-*"))) {
					found = true
				}
			}
			if !found {
				t.Errorf("secret %s (%s) is not readable by the execution role (GetSecretValue on %q)", s.Name, s.ValueFrom, secretARNs)
			}
		}
	}
}
