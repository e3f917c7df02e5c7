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
	"syscall"
	// Time zones for locations, windows and CRON_TZ even in images without
	// /usr/share/zoneinfo.
	_ "time/tzdata"
)

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

const usage = `usage: weatherd <command> [--config FILE]

commands:
  run        run the daemon until SIGTERM or SIGINT
  validate   check the configuration and print every problem
  bootstrap  create the AWS resources the configuration names (emulators, LocalStack)
  healthcheck  exit 0 when the local daemon answers /healthz (container health check)
  version    print version, commit and Go version
`

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
		err = runCmd(ctx, rest, stderr)
	case "validate":
		err = validateCmd(rest, stdout, stderr)
	case "bootstrap":
		err = bootstrapCmd(ctx, rest, stdout, stderr)
	case "healthcheck":
		err = healthcheckCmd(ctx, rest, stdout)
	case "version":
		err = versionCmd(rest, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "weatherd: %v\n\n%s", err, usage)
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
