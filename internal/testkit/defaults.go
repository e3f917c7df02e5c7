package testkit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"

	weatherd "github.com/weatherd/weatherd"
)

// Default returns the section at key (a dotted path such as "consumer" or
// "aws.timeouts") of the embedded config.yaml, decoded into a T as the
// daemon's configuration decodes it. config.yaml is the one place defaults
// are written; tests of packages that pkg/config imports (which cannot
// import it back) take theirs from here.
func Default[T any](tb testing.TB, key string) T {
	tb.Helper()
	out, err := DefaultOf[T](key)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// MustDefault is Default for package-level test fixtures: it panics.
func MustDefault[T any](key string) T {
	out, err := DefaultOf[T](key)
	if err != nil {
		panic(err)
	}
	return out
}

// DefaultOf is Default returning its error.
func DefaultOf[T any](key string) (T, error) {
	var out T
	var root map[string]any
	if err := yaml.Unmarshal(weatherd.DefaultConfig, &root); err != nil {
		return out, fmt.Errorf("embedded config.yaml: %w", err)
	}
	var section any = root
	for _, k := range strings.Split(key, ".") {
		m, ok := section.(map[string]any)
		if !ok {
			return out, fmt.Errorf("embedded config.yaml has no section %s", key)
		}
		if section, ok = m[k]; !ok {
			return out, fmt.Errorf("embedded config.yaml has no section %s", key)
		}
	}
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:   &out,
		Metadata: &md,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToTimeHookFunc(time.RFC3339),
		),
	})
	if err != nil {
		return out, err
	}
	if err := dec.Decode(section); err != nil {
		return out, fmt.Errorf("embedded config.yaml %s: %w", key, err)
	}
	if len(md.Unused) > 0 {
		return out, fmt.Errorf("embedded config.yaml %s: keys %q fit no field of %T", key, md.Unused, out)
	}
	return out, nil
}
