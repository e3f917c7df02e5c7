package deploytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/config"
)

// No Dockerfile linter installs from Debian or npm in a usable form here
// (hadolint is in neither; the npm linters are unmaintained), so these tests
// check the rules that matter for this image instead.

// imageLDFlags are the -ldflags of the image's go build (the static binary
// test builds with the same flags).
const imageLDFlags = "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
	Line int
}

// stage is one FROM and the instructions after it.
type stage struct {
	Image, Name string
	Ins         []instruction
}

func parseDockerfile(b []byte) ([]stage, error) {
	var stages []stage
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{Image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			return // ARGs before the first FROM
		}
		stages[len(stages)-1].Ins = append(stages[len(stages)-1].Ins, in)
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages, sc.Err()
}

func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Ins {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes a JSON-array (exec form) argument.
func execForm(args string) ([]string, bool) {
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return nil, false
	}
	return v, true
}

func mustDockerfile(tb testing.TB) []stage {
	tb.Helper()
	st, err := parseDockerfile(MustRead(tb, "Dockerfile"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(st) != 2 {
		tb.Fatalf("Dockerfile has %d stages, want 2 (build, final)", len(st))
	}
	return st
}

func TestParseDockerfile(t *testing.T) {
	st, err := parseDockerfile([]byte("ARG X=1\nFROM a:1 AS b\n# c\nRUN x \\\n  y\nFROM scratch\nCMD [\"z\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []stage{
		{Image: "a:1", Name: "b", Ins: []instruction{{Cmd: "RUN", Args: "x    y", Line: 4}}},
		{Image: "scratch", Ins: []instruction{{Cmd: "CMD", Args: `["z"]`, Line: 7}}},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("got %+v\nwant %+v", st, want)
	}
}

func TestDockerfile_BuildStage(t *testing.T) {
	b := mustDockerfile(t)[0]
	if b.Image != "golang:1.26-bookworm" || b.Name != "build" {
		t.Errorf("build stage FROM %s AS %s, want golang:1.26-bookworm AS build", b.Image, b.Name)
	}
	// Order: copy go.mod/go.sum, download modules, copy the rest, build.
	pos := map[string]int{}
	for i, in := range b.Ins {
		switch {
		case in.Cmd == "COPY" && in.Args == "go.mod go.sum ./":
			pos["mod"] = i
		case in.Cmd == "RUN" && strings.Contains(in.Args, "go mod download"):
			pos["download"] = i
		case in.Cmd == "COPY" && in.Args == ". .":
			pos["src"] = i
		case in.Cmd == "RUN" && strings.Contains(in.Args, "go build"):
			pos["build"] = i
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "` + imageLDFlags + `"`, "./cmd/weatherd", "-o /out/weatherd"} {
				if !strings.Contains(in.Args, want) {
					t.Errorf("line %d: go build lacks %s", in.Line, want)
				}
			}
		}
	}
	if len(pos) != 4 || !(pos["mod"] < pos["download"] && pos["download"] < pos["src"] && pos["src"] < pos["build"]) {
		t.Errorf("build stage steps at %v: want COPY go.mod go.sum, go mod download, COPY . ., go build in that order", pos)
	}
	args := map[string]bool{}
	for _, in := range b.find("ARG") {
		args[strings.SplitN(in.Args, "=", 2)[0]] = true
	}
	if !args["VERSION"] || !args["COMMIT"] {
		t.Errorf("build stage ARGs %v, want VERSION and COMMIT", args)
	}
}

// The module layer downloads every module go.mod requires except DuckDB's
// cgo bindings (test-only): run its pipeline with the download replaced by cat.
func TestDockerfile_ModuleDownloadList(t *testing.T) {
	var pipeline string
	for _, in := range mustDockerfile(t)[0].find("RUN") {
		if strings.Contains(in.Args, "go mod download") {
			pipeline = in.Args
		}
	}
	if !strings.HasSuffix(pipeline, "| xargs go mod download") {
		t.Fatalf("module download step %q: want a list piped to xargs go mod download", pipeline)
	}
	listCmd := strings.TrimSuffix(pipeline, "| xargs go mod download")
	out := MustRun(t, nil, "sh", "-c", listCmd)
	got := strings.Fields(out)
	sort.Strings(got)

	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(MustRun(t, nil, "go", "mod", "edit", "-json")), &mod); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range mod.Require {
		if !strings.HasPrefix(r.Path, "github.com/duckdb/") {
			want = append(want, r.Path+"@"+r.Version)
		}
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("modules downloaded\n got %q\nwant %q", got, want)
	}
}

func TestDockerfile_FinalStage(t *testing.T) {
	stages := mustDockerfile(t)
	f := stages[1]
	if f.Image != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final FROM %s, want gcr.io/distroless/static-debian12:nonroot (CA certificates and tzdata included)", f.Image)
	}
	for _, s := range stages {
		if s.Image == "scratch" {
			continue
		}
		if !strings.Contains(s.Image, ":") && !strings.Contains(s.Image, "@sha256:") || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("FROM %s: pin a version", s.Image)
		}
	}

	single := func(cmd string) string {
		ins := f.find(cmd)
		if len(ins) != 1 {
			t.Errorf("final stage has %d %s, want 1", len(ins), cmd)
			return ""
		}
		return ins[0].Args
	}
	if u := single("USER"); u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("USER %q, want a non-root user (65532)", u)
	} else if u != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (distroless nonroot)", u)
	}
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if e := single("EXPOSE"); e != port {
		t.Errorf("EXPOSE %q, want %s (http.listen of config.yaml)", e, port)
	}
	execChecks := []struct {
		cmd  string
		want []string
	}{
		{"ENTRYPOINT", []string{"/weatherd"}},
		{"CMD", []string{"run", "--config", "/etc/weatherd/config.yaml"}},
	}
	for _, c := range execChecks {
		got, ok := execForm(single(c.cmd))
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q, want exec form %q", c.cmd, got, c.want)
		}
	}
	hc := single("HEALTHCHECK")
	i := strings.Index(hc, "CMD ")
	if i < 0 {
		t.Fatalf("HEALTHCHECK %q has no CMD", hc)
	}
	if got, ok := execForm(hc[i+4:]); !ok || !reflect.DeepEqual(got, []string{"/weatherd", "healthcheck", "--config", "/etc/weatherd/config.yaml"}) {
		t.Errorf("HEALTHCHECK CMD %q: want exec form /weatherd healthcheck --config /etc/weatherd/config.yaml (the image has no shell)", hc[i+4:])
	}

	// What the final stage copies, and where the working directory is.
	copies := map[string]string{}
	for _, in := range f.find("COPY") {
		fields := strings.Fields(in.Args)
		var flags []string
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			flags, fields = append(flags, fields[0]), fields[1:]
		}
		if len(fields) != 2 {
			t.Errorf("line %d: COPY %s: want one source", in.Line, in.Args)
			continue
		}
		copies[fields[1]] = strings.Join(append(flags, fields[0]), " ")
	}
	wantCopies := map[string]string{
		"/weatherd":                 "--from=build /out/weatherd",
		"/etc/weatherd/config.yaml": "config.yaml",
		"/etc/weatherd/ecs.yaml":    "deploy/ecs/weatherd.yaml",
		"/var/lib/weatherd/":        "--from=build --chown=65532:65532 /out/home/",
	}
	if !reflect.DeepEqual(copies, wantCopies) {
		t.Errorf("final stage copies %v\nwant %v", copies, wantCopies)
	}
	if w := single("WORKDIR"); w != "/var/lib/weatherd" {
		t.Errorf("WORKDIR %q, want /var/lib/weatherd (writable by 65532: the default lake is file://./lake)", w)
	}
	for _, src := range []string{"config.yaml", "deploy/ecs/weatherd.yaml"} {
		if _, err := os.Stat(filepath.Join(testkit.Root(t), src)); err != nil {
			t.Errorf("COPY source %s: %v", src, err)
		}
	}
}

// .dockerignore keeps the context small but must not drop what the build
// copies: check with the same matching docker does for these simple patterns.
func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(string(MustRead(t, ".dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	excluded := func(p string) bool {
		ex := false
		for _, pat := range patterns {
			neg := strings.HasPrefix(pat, "!")
			pat = strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/")
			re := "^" + strings.NewReplacer(`\*\*/`, "(.*/)?", `\*`, "[^/]*", `\?`, "[^/]").Replace(regexp.QuoteMeta(pat)) + "(/.*)?$"
			if regexp.MustCompile(re).MatchString(p) {
				ex = !neg
			}
		}
		return ex
	}
	for _, p := range []string{"go.mod", "go.sum", "config.yaml", "embed.go", "cmd/weatherd/main.go", "pkg/config/load.go", "deploy/ecs/weatherd.yaml"} {
		if excluded(p) {
			t.Errorf(".dockerignore excludes %s, which the image build needs", p)
		}
	}
	for _, p := range []string{".git/HEAD", "deploy/local/node_modules/x/index.js", "lake/raw/x.json.gz", "pkg/lake/writer_test.go", "pkg/lake/testdata/x", "README.md"} {
		if !excluded(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}
