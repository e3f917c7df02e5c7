package testkit

import (
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
	var root map[string]any
	if err := yaml.Unmarshal(weatherd.DefaultConfig, &root); err != nil {
		tb.Fatalf("embedded config.yaml: %v", err)
	}
	var section any = root
	for _, k := range strings.Split(key, ".") {
		m, ok := section.(map[string]any)
		if !ok {
			tb.Fatalf("embedded config.yaml has no section %s", key)
		}
		if section, ok = m[k]; !ok {
			tb.Fatalf("embedded config.yaml has no section %s", key)
		}
	}
	var out T
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
		tb.Fatal(err)
	}
	if err := dec.Decode(section); err != nil {
		tb.Fatalf("embedded config.yaml %s: %v", key, err)
	}
	if len(md.Unused) > 0 {
		tb.Fatalf("embedded config.yaml %s: keys %q fit no field of %T", key, md.Unused, out)
	}
	return out
}
