package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	weatherd "github.com/weatherd/weatherd"
	"github.com/weatherd/weatherd/pkg/check"
	"github.com/weatherd/weatherd/pkg/secret"
)

// EnvPrefix starts every environment override: WEATHERD_ + the key path in
// upper case with '.' replaced by '_'.
const EnvPrefix = "WEATHERD_"

// DefaultPath is the file `--config` defaults to.
const DefaultPath = "config.yaml"

// ErrConfig marks every error that means the configuration is bad (exit code 2).
var ErrConfig = errors.New("bad configuration")

// Source says where the configuration came from.
type Source struct {
	// Path is the file read over the embedded default, or "" for none.
	Path string
	// Explicit is true when the operator named the file (--config); a missing
	// explicit file is an error, a missing ./config.yaml is not.
	Explicit bool
	// Env looks up environment variables; nil means Environ's, or the
	// process's when Environ is nil too.
	Env func(string) (string, bool)
	// Environ is the environment as KEY=VALUE entries (os.Environ's form):
	// every WEATHERD_ variable in it must name a key (see Reserved). Nil
	// means os.Environ() when Env is nil too, and no such check otherwise.
	Environ []string
}

// lookup and environ resolve the Source's environment.
func (src Source) lookup() (func(string) (string, bool), []string) {
	switch {
	case src.Env != nil:
		return src.Env, src.Environ
	case src.Environ != nil:
		m := make(map[string]string, len(src.Environ))
		for _, kv := range src.Environ {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }, src.Environ
	default:
		return os.LookupEnv, os.Environ()
	}
}

// Load builds the configuration from the embedded default, the file and the
// environment, and validates it. Every problem is reported at once in a
// *check.Error that also matches ErrConfig.
func Load(src Source) (*Config, error) {
	env, environ := src.lookup()
	v := viper.New()
	def, err := readYAML(weatherd.DefaultConfig, "embedded config.yaml", env)
	if err != nil {
		return nil, err
	}
	if err := v.MergeConfigMap(def); err != nil {
		return nil, fmt.Errorf("%w: embedded config.yaml: %v", ErrConfig, err)
	}
	if src.Path != "" {
		data, err := os.ReadFile(src.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !src.Explicit:
		case err != nil:
			return nil, fmt.Errorf("%w: read %s: %v", ErrConfig, src.Path, err)
		default:
			user, err := readYAML(data, src.Path, env)
			if err != nil {
				return nil, err
			}
			if err := v.MergeConfigMap(user); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrConfig, src.Path, err)
			}
		}
	}
	var ps check.Problems
	applyEnv(v, env, environ, &ps)

	var cfg Config
	decode(v.AllSettings(), &cfg, &ps)
	if ps.Len() > 0 {
		return nil, wrap(ps.Err())
	}
	if err := cfg.Validate(); err != nil {
		return nil, wrap(err)
	}
	return &cfg, nil
}

// Default returns the embedded default configuration, ignoring the environment.
func Default() (*Config, error) {
	return Load(Source{Environ: []string{}})
}

// configError is a problem list that also matches ErrConfig.
type configError struct{ problems *check.Error }

func (e configError) Error() string        { return e.problems.Error() }
func (e configError) Is(target error) bool { return target == ErrConfig }
func (e configError) Unwrap() error        { return e.problems }

func wrap(err error) error {
	var ce *check.Error
	if errors.As(err, &ce) {
		return configError{ce}
	}
	return fmt.Errorf("%w: %v", ErrConfig, err)
}

func readYAML(data []byte, name string, env func(string) (string, bool)) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, name, syntaxLine(data, err))
	}
	if m == nil {
		m = map[string]any{}
	}
	expanded, _ := expandAll(m, env).(map[string]any)
	return expanded, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxLine returns the YAML syntax error err of data with the line where
// parsing breaks. The YAML parser reports the line where the enclosing
// mapping or sequence starts, so a mis-indented key on line 3 is reported at
// line 1 or 2; the first line whose prefix of the document fails with the
// same problem is where the reader must look.
func syntaxLine(data []byte, err error) error {
	m := yamlLine.FindStringSubmatchIndex(err.Error())
	if m == nil {
		return err
	}
	problem := err.Error()[m[1]:]
	lines := strings.SplitAfter(string(data), "\n")
	var prefix strings.Builder
	for i, l := range lines {
		prefix.WriteString(l)
		var v any
		perr := yaml.Unmarshal([]byte(prefix.String()), &v)
		if perr == nil {
			continue
		}
		if pm := yamlLine.FindStringSubmatchIndex(perr.Error()); pm != nil && perr.Error()[pm[1]:] == problem {
			return fmt.Errorf("line %d: %s", i+1, problem)
		}
	}
	return err
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandAll replaces ${VAR} in every string value (not in keys) with the
// variable's value, or "" when it is unset. Expanding after parsing keeps a
// value from changing the YAML's structure.
func expandAll(x any, env func(string) (string, bool)) any {
	switch t := x.(type) {
	case string:
		return varRef.ReplaceAllStringFunc(t, func(ref string) string {
			val, _ := env(ref[2 : len(ref)-1])
			return val
		})
	case map[string]any:
		for k, v := range t {
			t[k] = expandAll(v, env)
		}
	case []any:
		for i, v := range t {
			t[i] = expandAll(v, env)
		}
	}
	return x
}

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var secretType = reflect.TypeOf(secret.String(""))

// decode decodes settings into cfg strictly: keys no field takes and values of
// the wrong type are problems named by their key path.
func decode(settings map[string]any, cfg *Config, ps *check.Problems) {
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:   cfg,
		Metadata: &md,
		TagName:  "mapstructure",
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToTimeHookFunc(time.RFC3339),
			secretHook,
		),
	})
	if err != nil {
		ps.Add("", "build decoder: %v", err)
		return
	}
	if err := dec.Decode(settings); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if p := decodeProblem(line); p != nil {
				ps.Add(p.Key, "%s", p.Msg)
			}
		}
	}
	unused := append([]string(nil), md.Unused...)
	sort.Strings(unused)
	for _, k := range unused {
		ps.Add(k, "unknown key")
	}
}

// secretHook decodes secrets only from strings, so an error never echoes one.
func secretHook(from, to reflect.Type, data any) (any, error) {
	if to != secretType {
		return data, nil
	}
	if s, ok := data.(string); ok {
		return secret.String(s), nil
	}
	return nil, fmt.Errorf("want a string")
}

var decodeLine = regexp.MustCompile(`^\s*(?:\*\s*)?(?:error decoding )?'([^']*)'[: ]\s*(.*)$`)
var valueSuffix = regexp.MustCompile(`,? ?value: '.*'$`)

// decodeProblem turns one line of a mapstructure error into a problem, with
// any echoed value cut off.
func decodeProblem(line string) *check.Problem {
	m := decodeLine.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	msg := strings.TrimSpace(valueSuffix.ReplaceAllString(m[2], ""))
	return &check.Problem{Key: m[1], Msg: msg}
}
