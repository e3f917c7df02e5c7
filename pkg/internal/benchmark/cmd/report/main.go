// Command report copies `go test -bench` output from stdin to stdout and
// ends it with weatherd's benchmark summary table (see pkg/internal/benchmark). It
// is the tail of `make bench`:
//
//	go test -run '^$' -bench . ./pkg/internal/benchmark/ | go run ./pkg/internal/benchmark/cmd/report
package main

import (
	"fmt"
	"os"

	"github.com/weatherd/weatherd/pkg/internal/benchmark"
)

func main() {
	res, err := benchmark.ParseBench(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	benchmark.WriteSummary(os.Stdout, res)
}
