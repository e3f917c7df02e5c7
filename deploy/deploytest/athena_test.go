package deploytest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weatherd/weatherd/internal/testkit"
)

// Athena takes one statement per start-query-execution: the loop in
// tables.sql's header must split the file into its statements, comments
// (which contain ';') removed.
func TestAthenaTables_StatementLoop(t *testing.T) {
	var pipeline []string
	for _, l := range strings.Split(string(MustRead(t, "deploy/athena/tables.sql")), "\n") {
		cmd, ok := strings.CutPrefix(l, "--   ")
		if ok && (strings.HasPrefix(cmd, "sed ") || strings.HasPrefix(cmd, "awk ")) {
			pipeline = append(pipeline, strings.TrimSuffix(strings.TrimSpace(cmd), "|"))
		}
	}
	if len(pipeline) != 2 {
		t.Fatalf("tables.sql's header has no sed | awk statement splitter: %q", pipeline)
	}
	cmd := exec.Command("bash", "-c", strings.Join(pipeline, " | "))
	cmd.Dir = filepath.Join(testkit.Root(t), "deploy", "athena")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(pipeline, " | "), err)
	}
	stmts := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	want := []string{
		"CREATE DATABASE IF NOT EXISTS weatherd",
		"CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.readings (",
		"CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.readings_raw (",
		"CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.reading_errors (",
		"CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.forecasts (",
		"CREATE EXTERNAL TABLE IF NOT EXISTS weatherd.forecasts_raw (",
	}
	if len(stmts) != len(want) {
		t.Fatalf("%d statements, want %d:\n%s", len(stmts), len(want), strings.Join(stmts, "\n----\n"))
	}
	for i, s := range stmts {
		if first, _, _ := strings.Cut(s, "\n"); first != want[i] {
			t.Errorf("statement %d starts %q, want %q", i+1, first, want[i])
		}
		if strings.Contains(s, "--") || strings.HasSuffix(s, ";") {
			t.Errorf("statement %d keeps a comment or its ';':\n%s", i+1, s)
		}
	}
	if !strings.HasSuffix(stmts[1], "'storage.location.template' = 's3://YOUR-BUCKET/weatherd/gold/year=${year}/month=${month}/day=${day}/hour=${hour}/'\n)") {
		t.Errorf("the readings statement is cut short:\n%s", stmts[1])
	}
	if !strings.HasSuffix(stmts[4], "'storage.location.template' = 's3://YOUR-BUCKET/weatherd/forecast/gold/year=${year}/month=${month}/day=${day}/hour=${hour}/'\n)") {
		t.Errorf("the forecasts statement is cut short:\n%s", stmts[4])
	}
}
