package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/weatherd/weatherd/pkg/check"
)

// ReservedEnvPrefixes start WEATHERD_ variables that are not configuration
// keys: the local emulators' settings (WEATHERD_EMU_*), and the test,
// end-to-end and benchmark switches. No key path starts with one of them, so
// they never hide a key, and weatherd ignores them.
var ReservedEnvPrefixes = []string{"WEATHERD_EMU_", "WEATHERD_TEST_", "WEATHERD_E2E_", "WEATHERD_BENCH_"}

// ReservedEnvNames are single WEATHERD_ variables that are not keys either:
// docker-compose.yml's build arguments.
var ReservedEnvNames = []string{"WEATHERD_VERSION", "WEATHERD_COMMIT"}

// Reserved reports whether the environment variable name is one weatherd
// ignores although it starts with WEATHERD_.
func Reserved(name string) bool {
	for _, p := range ReservedEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, n := range ReservedEnvNames {
		if name == n {
			return true
		}
	}
	return false
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
)

// envKeys records in keys every key path the environment can set, with the
// Go type it decodes into: each leaf of t's sections, and for a map of
// sections (alerts.channels) the fields of each entry settings defines. A
// variable cannot add a map entry: its name could not say where the entry's
// name ends (channel names may hold '_'). sections collects the map sections.
func envKeys(t reflect.Type, settings map[string]any, prefix string, keys map[string]reflect.Type, sections *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if f.Anonymous && name == "" && opts == "squash" {
			// The embedded section's keys are the enclosing section's.
			envKeys(f.Type, settings, prefix, keys, sections)
			continue
		}
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		path := check.Key(prefix, name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		sub, _ := settings[name].(map[string]any)
		switch {
		case ft.Kind() == reflect.Struct && ft != timeType:
			envKeys(ft, sub, path, keys, sections)
		case ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String && ft.Elem().Kind() == reflect.Struct:
			*sections = append(*sections, path)
			for entry := range sub {
				entrySettings, _ := sub[entry].(map[string]any)
				envKeys(ft.Elem(), entrySettings, path+"."+entry, keys, sections)
			}
		default:
			keys[path] = ft
		}
	}
}

// applyEnv overrides each key from its WEATHERD_ variable, and reports every
// WEATHERD_ variable of environ that names no key (unless Reserved): a typo
// must not silently leave the file's value in force. Strings and durations
// are taken as they are; other values are parsed as YAML, so lists and
// numbers can be given too (WEATHERD_LOCATIONS='[{id: x, ...}]').
func applyEnv(v *viper.Viper, lookup func(string) (string, bool), environ []string, ps *check.Problems) {
	keys := map[string]reflect.Type{}
	var sections []string
	envKeys(reflect.TypeOf(Config{}), v.AllSettings(), "", keys, &sections)
	names := make(map[string]string, len(keys))
	paths := make([]string, 0, len(keys))
	for k := range keys {
		names[EnvName(k)] = k
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, key := range paths {
		raw, ok := lookup(EnvName(key))
		if !ok {
			continue
		}
		t := keys[key]
		if t.Kind() == reflect.String || t == durationType {
			v.Set(key, raw)
			continue
		}
		var val any
		if err := yaml.Unmarshal([]byte(raw), &val); err != nil {
			ps.Add(key, "environment variable %s is not valid YAML: %v", EnvName(key), err)
			continue
		}
		v.Set(key, val)
	}

	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && names[name] == "" && !Reserved(name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		ps.Add(name, "%s", unknownEnvMsg(name, names, sections))
	}
}

// unknownEnvMsg says that name is no key, with the nearest key's variable
// when one is a likely typo. Under a map section (alerts.channels) only a
// one-letter slip counts: OPS and LOG are two different entries.
func unknownEnvMsg(name string, names map[string]string, sections []string) string {
	section := ""
	for _, s := range sections {
		if strings.HasPrefix(name, EnvName(s)+"_") {
			section = s
		}
	}
	best, bestDist := "", 4 // further than 3 edits is not a typo
	if section != "" {
		bestDist = 2
	}
	for n := range names {
		if d := editDistance(name, n); d < bestDist || d == bestDist && n < best {
			best, bestDist = n, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf("no such key (did you mean %s?)", best)
	case section != "":
		return fmt.Sprintf("no such key (the environment can override the fields of the %s entries the config file defines, not add one)", section)
	}
	return "no such key (a WEATHERD_ variable is a key path in upper case with '.' as '_'; see `weatherd validate --help`)"
}

// editDistance is the Levenshtein distance between a and b (ASCII names).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
