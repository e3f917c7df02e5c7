package benchmark

import (
	"fmt"
	"io"
)

// writeScaleOut prints the scale-out rows of the summary (BenchmarkScaleOut
// in pkg/internal/benchmark/awsbench): how long a shard went unread when it
// changed owner, the median of a run's samples against the target.
func writeScaleOut(w io.Writer, r Results) {
	lease, ok := r.Median(scaleOutBench, "lease-duration-s")
	if !ok {
		lease = 10
	}
	for _, x := range []struct {
		what, kind string
		target     float64
		below      bool // the target is "< target" rather than "≤ target"
	}{
		{"failover after SIGKILL", "sigkill", lease + 2, false},
		{"handoff on SIGTERM", "sigterm", 2, true},
		{"new replica joins", "join", 2, true},
	} {
		op := "≤"
		if x.below {
			op = "<"
		}
		what := fmt.Sprintf("%s: shard unread s (target %s %.0f)", x.what, op, x.target)
		val := "n/a"
		if v, ok := r.Median(scaleOutBench, x.kind+"-unread-s"); ok {
			verdict := "met"
			if v > x.target || (x.below && v == x.target) {
				verdict = "NOT met"
			}
			hi, _ := r.Median(scaleOutBench, x.kind+"-max-s")
			n, _ := r.Median(scaleOutBench, x.kind+"-n")
			val = fmt.Sprintf("%.2f %s (n %.0f, max %.1f)", v, verdict, n, hi)
		}
		fmt.Fprintf(w, "| %-58s | %28s |\n", what, val)
	}
}
