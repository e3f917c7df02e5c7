// Command weatherd is a weather alerting and analytics daemon: it polls a
// weather API on a schedule, streams readings through Kinesis, evaluates alert
// rules, notifies through SNS, and writes the readings to S3 for Athena.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Time zones (locations, windows, CRON_TZ) come from the system's
// /usr/share/zoneinfo, which the image's base (distroless/static) and every
// usual host has; time/tzdata would add 0.4 MB to the binary for hosts
// without it, where validate names the location whose zone is unknown.

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// signalContext is cancelled by the first SIGTERM or SIGINT; a second one
// exits the process at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		cancel(fmt.Errorf("received %s", sig))
		sig = <-sigs
		fmt.Fprintf(os.Stderr, "weatherd: received %s again, exiting now\n", sig)
		os.Exit(exitFailure)
	}()
	return ctx, func() { signal.Stop(sigs); cancel(nil) }
}

// usageError is a command-line mistake (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// commands lists the commands in the order the usage text shows them.
var commands = []struct{ name, summary string }{
	{"run", "run the daemon until SIGTERM or SIGINT"},
	{"validate", `check the configuration: "config OK" (exit 0), or every problem (exit 2)`},
	{"bootstrap", "create the AWS resources the configuration names (emulators, LocalStack)"},
	{"healthcheck", "exit 0 when the local daemon answers /healthz (container health check)"},
	{"alerts", "list what a running daemon has pending or firing"},
	{"silence", "add, list (ls) or expire silences on a running daemon"},
	{"ack", "acknowledge a firing alert: no reminders until it resolves"},
	{"version", "print version, commit and Go version"},
}

// configHelp is how the configuration is found; the help of every command
// that reads it shows it. TestUsage checks it against package config.
const configHelp = `configuration:
  The embedded default (the commented config.yaml of weatherd's source) is
  always loaded; --config FILE is merged over it. Without --config,
  ./config.yaml is used when it exists. Every key can be overridden from the
  environment: WEATHERD_ + the key path in upper case with '.' as '_'
  (lake.url -> WEATHERD_LAKE_URL). A WEATHERD_ variable that names no key is
  an error, except the reserved WEATHERD_EMU_*, WEATHERD_TEST_*,
  WEATHERD_E2E_*, WEATHERD_BENCH_*, WEATHERD_VERSION and WEATHERD_COMMIT.
`

// usage is the text of `weatherd --help`.
var usage = func() string {
	var b strings.Builder
	b.WriteString("usage: weatherd <command> [--config FILE]\n       weatherd <command> --help\n       weatherd --version\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString("\n" + configHelp)
	return b.String()
}()

// Main runs one weatherd command and returns its exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, rest, stdout, stderr)
	case "validate":
		err = validateCmd(rest, stdout, stderr)
	case "bootstrap":
		err = bootstrapCmd(ctx, rest, stdout, stderr)
	case "healthcheck":
		err = healthcheckCmd(ctx, rest, stdout)
	case "alerts":
		err = withHelp("alerts", alertsCmd(ctx, rest, stdout))
	case "silence":
		err = silenceCmd(ctx, rest, stdout)
	case "ack":
		err = withHelp("ack", ackCmd(ctx, rest, stdout))
	case "version", "--version", "-version":
		err = versionCmd(rest, stdout)
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 && summary(rest[0]) != "" {
			return Main(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	return exitCode(err, stderr)
}

// summary is the one-line description of the command name, or "".
func summary(name string) string {
	for _, c := range commands {
		if c.name == name {
			return c.summary
		}
	}
	return ""
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		help := usage
		var h interface{ Help() string } // a command's own, shorter help
		if errors.As(err, &h) {
			help = h.Help()
		}
		fmt.Fprintf(stderr, "weatherd: %v\n\n%s", err, help)
		return exitUsage
	}
	if errors.Is(err, errReported) {
		return exitUsage
	}
	fmt.Fprintf(stderr, "weatherd: %v\n", err)
	if errors.Is(err, errConfig) {
		return exitUsage
	}
	return exitFailure
}
