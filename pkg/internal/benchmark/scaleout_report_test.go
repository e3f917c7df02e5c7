package benchmark

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteSummary_ScaleOut(t *testing.T) {
	const out = `BenchmarkScaleOut-2   	       1	122926176027 ns/op	         2.220 join-max-s	         1.431 join-unread-s	        10.00 join-n	        10.00 lease-duration-s	        10.94 sigkill-max-s	        10.40 sigkill-unread-s	         5.000 sigkill-n	         2.797 sigterm-max-s	         2.111 sigterm-unread-s	         5.000 sigterm-n
`
	res, err := ParseBench(strings.NewReader(out), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteSummary(&b, res)
	for _, want := range []string{
		"| failover after SIGKILL: shard unread s (target ≤ 12)       |    10.40 met (n 5, max 10.9) |",
		"| handoff on SIGTERM: shard unread s (target < 2)            |  2.11 NOT met (n 5, max 2.8) |",
		"| new replica joins: shard unread s (target < 2)             |     1.43 met (n 10, max 2.2) |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteSummary(&b, Results{})
	if !strings.Contains(b.String(), "| new replica joins: shard unread s (target < 2)             |                          n/a |") {
		t.Errorf("summary without the scale-out benchmark:\n%s", b.String())
	}
}
